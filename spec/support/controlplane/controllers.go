package main

// kube-controller-manager per cluster, from its own app package so that its
// defaults (leader election, --mirroring-max-endpoints-per-subset, the
// Endpoints controller's start-up sweep) are the real ones. It runs the
// controllers that make mefi's sources (Endpoints, EndpointSlices from
// Services and Pods), consume its output (EndpointSlice mirroring), and make
// and remove workloads (Deployments, namespaces).

import (
	"flag"
	"fmt"
	"path/filepath"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	kcm "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

// The controllers a bed cluster runs: no node lifecycle (the bed's kubelet
// role does not heartbeat), nothing that would need cloud or storage.
//   - endpoints, endpointslice, endpointslice-mirroring: mefi's sources and
//     what consumes its output;
//   - serviceaccount, serviceaccount-token: every namespace's default
//     ServiceAccount and the tokens of the controllers' own identities;
//   - statefulset: a StatefulSet's pods, with their stable hostnames (what a
//     headless MCS export resolves to by name);
//   - root-ca-certificate-publisher: kube-root-ca.crt in every namespace,
//     which a pod's projected ServiceAccount token volume mounts;
//   - deployment, replicaset: a Deployment's pods, which kube-scheduler binds
//     and the kubelet role runs (kubelet.go), as conformance tests make them;
//   - garbage-collector: what a deleted Deployment owns (its ReplicaSets,
//     their pods) goes with it, through the API server's discovery and
//     metadata watches of every resource;
//   - namespace: a deleted namespace's objects are deleted and the
//     namespace with them (the kubelet role confirms its pods' deletion);
//   - job, ttl-after-finished: a Job's pods, and the Job gone once finished
//     (what a chart's install hook runs: Envoy Gateway's certgen).
const controllerList = "endpoints-controller,endpointslice-controller,endpointslice-mirroring-controller,serviceaccount-token-controller,serviceaccount-controller," +
	"deployment-controller,replicaset-controller,statefulset-controller,garbage-collector-controller,namespace-controller,root-ca-certificate-publisher-controller," +
	"job-controller,ttl-after-finished-controller"

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
