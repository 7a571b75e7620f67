package main

// kube-controller-manager per cluster, from its own app package so that its
// defaults (leader election, --mirroring-max-endpoints-per-subset, the
// Endpoints controller's start-up sweep) are the real ones. It runs the
// controllers that make mefi's sources (Endpoints, EndpointSlices from
// Services and Pods) and consume its output (EndpointSlice mirroring).

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	kcm "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

// The controllers a bed cluster runs: no node lifecycle (there is no kubelet
// to report), no garbage collector, nothing that would need cloud or storage.
const controllerList = "endpoints-controller,endpointslice-controller,endpointslice-mirroring-controller,serviceaccount-token-controller,serviceaccount-controller"

func controllerManager(c *cluster, self string) *supervised {
	return &supervised{
		what: c.name + ": kube-controller-manager", dir: c.dir, log: "controller-manager.log", pidFile: "controllers.pid", holdFile: "controllers.hold",
		argv: []string{self, "controllers", "--dir", c.dir, "--kubeconfig", filepath.Join(c.dir, "controller-manager.kubeconfig")},
	}
}

// runControllers is the `controllers` subcommand: one kube-controller-manager in this process.
func runControllers(args []string) error {
	fs := flag.NewFlagSet("controllers", flag.ContinueOnError)
	dir := fs.String("dir", "", "this cluster's state directory")
	kubeconfig := fs.String("kubeconfig", "", "the controller-manager's kubeconfig (user system:kube-controller-manager)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *kubeconfig == "" {
		return fmt.Errorf("controllers: --dir and --kubeconfig are required")
	}
	cmd := kcm.NewControllerManagerCommand()
	cmd.SetArgs([]string{
		"--kubeconfig=" + *kubeconfig,
		"--controllers=" + controllerList,
		"--service-account-private-key-file=" + filepath.Join(*dir, "sa.key"),
		"--root-ca-file=" + filepath.Join(*dir, "ca.crt"),
		// As kubeadm runs it: each controller calls with its own ServiceAccount
		// (system:serviceaccount:kube-system:endpoint-controller, ...), bound by the bootstrap roles.
		"--use-service-account-credentials=true",
		"--secure-port=0",
		"--leader-elect=true",
		"--v=1",
	})
	return cmd.Execute()
}

func (c *cluster) clientset() (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(filepath.Dir(c.dir), c.name+".kubeconfig"))
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// nodeName is the one node of a bed cluster; pods are bound to it.
func (c *cluster) nodeName() string { return c.name + "-node" }

// nodeIP is the node's address on its link to the router (see network.go).
func (c *cluster) nodeIP() string { return fmt.Sprintf("10.255.%d.2", c.index) }

// podCIDR is this cluster's pod range: 10.244.<index+1>.0/24.
func (c *cluster) podCIDR() string { return fmt.Sprintf("10.244.%d.0/24", c.index+1) }

// registerNode creates the cluster's Node, Ready with an InternalIP: the
// EndpointSlice controller skips pods on nodes it does not know, and
// kube-proxy waits for its Node's address.
func (c *cluster) registerNode(ctx context.Context) error {
	cs, err := c.clientset()
	if err != nil {
		return err
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: c.nodeName(), Labels: map[string]string{"kubernetes.io/hostname": c.nodeName()}},
		Spec: corev1.NodeSpec{PodCIDR: c.podCIDR(), PodCIDRs: []string{c.podCIDR()}}}
	created, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = cs.CoreV1().Nodes().Get(ctx, c.nodeName(), metav1.GetOptions{})
	}
	if err != nil {
		return err
	}
	created.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: c.nodeIP()}, {Type: corev1.NodeHostName, Address: c.nodeName()}}
	created.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	_, err = cs.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
	return err
}
