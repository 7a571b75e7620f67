package main

// The Multi-Cluster Services API's CRDs (ServiceExport, ServiceImport) in
// every cluster, as sigs.k8s.io/mcs-api ships them (embedded in its module,
// pinned in go.mod), created at start and Established before the bed is
// ready: an MCS implementation under test finds its API served, as on a
// cluster where the MCS API is installed.

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	mcscrd "sigs.k8s.io/mcs-api/config/crd"
	"sigs.k8s.io/yaml"
)

func (c *cluster) installMCSCRDs(ctx context.Context, timeout time.Duration) error {
	if err := c.createCRDs(ctx, timeout, mcscrd.ServiceExportCRD, mcscrd.ServiceImportCRD); err != nil {
		return fmt.Errorf("%s: MCS CRDs: %w", c.name, err)
	}
	return nil
}

// createCRDs creates CRDs from their manifests and waits until each is Established.
func (c *cluster) createCRDs(ctx context.Context, timeout time.Duration, manifests ...[]byte) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(filepath.Dir(c.dir), c.name+".kubeconfig"))
	if err != nil {
		return err
	}
	cs, err := apiextensions.NewForConfig(cfg)
	if err != nil {
		return err
	}
	crds := cs.ApiextensionsV1().CustomResourceDefinitions()
	var names []string
	for _, manifest := range manifests {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(manifest, &crd); err != nil {
			return err
		}
		if _, err := crds.Create(ctx, &crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("CRD %s: %w", crd.Name, err)
		}
		names = append(names, crd.Name)
	}
	deadline := time.Now().Add(timeout)
	for _, name := range names {
		for {
			crd, err := crds.Get(ctx, name, metav1.GetOptions{})
			if err == nil && established(crd) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("CRD %s not Established after %s (%v)", name, timeout, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, cond := range crd.Status.Conditions {
		if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}
