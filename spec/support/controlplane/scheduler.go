package main

// kube-scheduler per cluster, from its own app package with its default
// profile, as user system:kube-scheduler (bound by the bootstrap roles): it
// binds the pods that the Deployment and ReplicaSet controllers make to the
// cluster's one node, checking the node's allocatable resources, taints and
// selectors as it would on a real cluster. Binding them in the bed instead
// would skip exactly the checks (resources, nodeSelector, affinity) that make
// a pod Pending, and the real one costs little: see the README's figures.

import (
	"flag"
	"fmt"
	"path/filepath"

	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func schedulerProcess(c *cluster, self string) *supervised {
	return &supervised{
		what: c.name + ": kube-scheduler", dir: c.dir, log: "scheduler.log", pidFile: "scheduler.pid", holdFile: "scheduler.hold",
		argv: []string{self, "scheduler", "--kubeconfig", filepath.Join(c.dir, "scheduler.kubeconfig")},
	}
}

// runScheduler is the `scheduler` subcommand: one kube-scheduler in this process.
func runScheduler(args []string) error {
	fs := flag.NewFlagSet("scheduler", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "the scheduler's kubeconfig (user system:kube-scheduler)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *kubeconfig == "" {
		return fmt.Errorf("scheduler: --kubeconfig is required")
	}
	cmd := scheduler.NewSchedulerCommand()
	cmd.SetArgs([]string{
		"--kubeconfig=" + *kubeconfig,
		// No serving port: nothing scrapes it, and two clusters' schedulers would need two.
		"--secure-port=0",
		"--leader-elect=true",
		"--v=1",
	})
	return cmd.Execute()
}
