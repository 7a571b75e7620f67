package main

// CoreDNS as each real-node cluster's DNS (coredns.yaml): applied with the
// bed's kubectl, as a user applies it.

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

//go:embed coredns.yaml
var corednsManifest string

// corednsImage is CoreDNS built here from its module (spec/support/coredns) with the plugins the bed's Corefile uses.
const corednsImage = "mefi.dev/coredns:v1.15.0"

func (c *cluster) deployDNS(ctx context.Context, self string, mcs bool) error {
	zones, multicluster := "", ""
	if mcs {
		zones, multicluster = "clusterset.local", "multicluster clusterset.local"
	}
	manifest := strings.NewReplacer("ZONES", zones, "MULTICLUSTER", multicluster, "IMAGE", corednsImage, "CLUSTER_DNS", clusterDNS).Replace(corednsManifest)
	cmd := exec.CommandContext(ctx, self, "--kubeconfig", filepath.Join(filepath.Dir(c.dir), c.name+".kubeconfig"), "apply", "-f", "-")
	cmd.Args[0] = "kubectl" // the controlplane binary is kubectl by that name
	cmd.Stdin = strings.NewReader(manifest)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kubectl apply: %v: %s", err, out.String())
	}
	return nil
}

// waitDNS waits for CoreDNS to be available (its readiness: the kubernetes plugin has listed everything).
func (c *cluster) waitDNS(ctx context.Context, timeout time.Duration) error {
	cs, err := c.clientset()
	if err != nil {
		return err
	}
	var d *appsv1.Deployment
	err = waitFor(timeout, func() bool {
		d, err = cs.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
		return err == nil && d.Status.AvailableReplicas > 0
	})
	if err != nil {
		return fmt.Errorf("%s: CoreDNS not available after %s (see %s)", c.name, timeout, filepath.Join(c.dir, "kubelet.log"))
	}
	return nil
}
