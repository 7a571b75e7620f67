package main

// Real nodes (--nodes=real, with --network): each cluster's node is a real
// kubelet with its own containerd, both in the node's network namespace and
// in a mount namespace of their own, on the routed pod network:
//
//	<cluster>/node/containerd.toml, containerd.sock   containerd (root, state and socket its own: a kubelet
//	                                                   kills the containers of its runtime that it does not know)
//	<cluster>/node/cni/                                CNI ptp + host-local over the cluster's pod range
//	<cluster>/node/kubelet/                            the kubelet's root, config, certificates
//	/sys/fs/cgroup/*/mefi-bed/<pid>/<cluster>          the kubelet's cgroupRoot: every process of the node
//
// The API server reaches the kubelet through its egress selector (an HTTP
// CONNECT proxy in the node's namespace, inside.go) and presents a client
// certificate the kubelet checks; the kubelet authorizes through the API
// server (Webhook). Images are never pulled: the OCI archives in --images are
// imported into each containerd at start.
//
// Nothing outlives the bed: containerd and the kubelet die with the
// supervisor (Pdeathsig), the mounts with their namespace; what a kill -9
// leaves (containerd's shims and the containers, which do not die with it)
// is in the bed's cgroups, and the next bed to start kills it and removes
// them (sweepNodes). The kernel settings a kubelet changes are put back when
// the last bed stops (sysctls.go).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// nodeParts are what a real node is made of besides Debian's containerd and runc.
type nodeParts struct {
	kubelet string // the kubelet binary (built from the bed's Kubernetes module)
	images  string // a directory of OCI archives (*.tar) imported into every node
	cniBin  string // the CNI plugins (Debian's containernetworking-plugins)
}

// The sandbox image every pod runs in (containerd's sandbox_image), built here.
const pauseImage = "registry.k8s.io/pause:3.10"

// clusterDNS is the ClusterIP of each cluster's kube-dns Service (CoreDNS): the kubelet's clusterDNS.
const clusterDNS = "10.0.0.10"

// cgroupBase is where every bed's nodes live in each cgroup v1 hierarchy, by supervisor pid.
const cgroupBase = "mefi-bed"

type realNode struct {
	c          *cluster
	dir        string
	cgroup     string // the kubelet's cgroupRoot
	containerd *supervised
	kubelet    *supervised
}

func (c *cluster) nodeDir() string { return filepath.Join(c.dir, "node") }

func (c *cluster) containerdSocket() string { return filepath.Join(c.nodeDir(), "containerd.sock") }

// egressSocket is where the node's CONNECT proxy listens (inside.go serveConnect).
func (c *cluster) egressSocket() string { return filepath.Join(c.dir, "egress.sock") }

// cgroupHierarchies are the mounted cgroup hierarchies: v1's (cpu, memory, ..., name=systemd) and, on a hybrid host, the unified one, where the kubelet makes its groups too.
func cgroupHierarchies() ([]string, error) {
	entries, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		p := filepath.Join("/sys/fs/cgroup", e.Name())
		if _, err := os.Stat(filepath.Join(p, "cgroup.procs")); err == nil {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no cgroup v1 hierarchy under /sys/fs/cgroup (real nodes are made for cgroup v1 with cgroupfs)")
	}
	return out, nil
}

// makeCgroup creates path in every hierarchy; cpuset's new groups get their
// parent's cpus and mems (a cpuset cgroup without them takes no process).
func makeCgroup(path string) error {
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	for _, h := range hs {
		parts := strings.Split(strings.Trim(path, "/"), "/")
		for i := range parts {
			dir := filepath.Join(append([]string{h}, parts[:i+1]...)...)
			if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
				return err
			}
			if filepath.Base(h) == "cpuset" {
				for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
					if cur, _ := os.ReadFile(filepath.Join(dir, f)); strings.TrimSpace(string(cur)) != "" {
						continue
					}
					v, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
					if err != nil {
						return err
					}
					if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
						return fmt.Errorf("%s: %w", filepath.Join(dir, f), err)
					}
				}
			}
		}
	}
	return nil
}

// joinCgroup moves a process into path in every hierarchy.
func joinCgroup(path string, pid int) error {
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	for _, h := range hs {
		if err := os.WriteFile(filepath.Join(h, path, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// removeCgroup kills every process in path (and below) and removes the groups, deepest first.
func removeCgroup(path string) {
	hs, _ := cgroupHierarchies()
	for attempt := 0; attempt < 50; attempt++ {
		left := 0
		for _, h := range hs {
			filepath.WalkDir(filepath.Join(h, path), func(p string, d os.DirEntry, err error) error {
				if err != nil || !d.IsDir() {
					return nil
				}
				procs, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
				for _, f := range strings.Fields(string(procs)) {
					if pid, err := strconv.Atoi(f); err == nil {
						syscall.Kill(pid, syscall.SIGKILL)
						left++
					}
				}
				return nil
			})
		}
		if left == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, h := range hs {
		var dirs []string
		filepath.WalkDir(filepath.Join(h, path), func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			os.Remove(dirs[i])
		}
	}
}

// sweepNodes removes what the real nodes of beds that are gone left behind:
// their cgroups' processes (containerd's shims, the containers) and groups.
func sweepNodes() {
	hs, err := cgroupHierarchies()
	if err != nil {
		return
	}
	stale := map[string]bool{}
	for _, h := range hs {
		entries, _ := os.ReadDir(filepath.Join(h, cgroupBase))
		for _, e := range entries {
			if pid, err := strconv.Atoi(e.Name()); err == nil && !alive(pid) {
				stale[e.Name()] = true
			}
		}
	}
	for id := range stale {
		removeCgroup(filepath.Join(cgroupBase, id))
	}
}

// alive: a process of that pid runs (and is no zombie).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// startNode starts the cluster's containerd, imports the images, and starts its kubelet.
func (n *network) startNode(ctx context.Context, c *cluster, parts nodeParts) (*realNode, error) {
	node := n.nodes[c.name]
	rn := &realNode{c: c, dir: c.nodeDir(), cgroup: filepath.Join("/", cgroupBase, strconv.Itoa(os.Getpid()), c.name)}
	for _, d := range []string{"containerd/root", "containerd/state", "cni/conf", "cni/ipam", "kubelet/root", "kubelet/pki", "kubelet/pods-logs", "kubelet/plugins"} {
		if err := os.MkdirAll(filepath.Join(rn.dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	runtime := filepath.Join(rn.cgroup, "runtime")
	if err := makeCgroup(runtime); err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	if err := n.writeContainerdConfig(c, rn, parts); err != nil {
		return nil, err
	}
	enter := []string{"nsenter", "--net=/proc/" + strconv.Itoa(node.pid()) + "/ns/net", "--mount=/proc/" + strconv.Itoa(node.pid()) + "/ns/mnt", "--"}
	rn.containerd = &supervised{what: c.name + ": containerd", dir: c.dir, log: "containerd.log", pidFile: "containerd.pid",
		argv:      append(append([]string{}, enter...), "containerd", "--config", filepath.Join(rn.dir, "containerd.toml")),
		onStarted: func(pid int) error { return joinCgroup(runtime, pid) }}
	if err := rn.containerd.start(); err != nil {
		return nil, err
	}
	if err := waitFor(30*time.Second, func() bool { return ctr(c, "version") == nil }); err != nil {
		return nil, fmt.Errorf("%s: containerd did not answer (see %s)", c.name, filepath.Join(c.dir, "containerd.log"))
	}
	archives, _ := filepath.Glob(filepath.Join(parts.images, "*.tar"))
	for _, a := range archives {
		if err := ctr(c, "images", "import", "--no-unpack=false", a); err != nil {
			return nil, fmt.Errorf("%s: import %s: %w", c.name, filepath.Base(a), err)
		}
	}
	if err := rn.writeKubeletConfig(); err != nil {
		return nil, err
	}
	k := filepath.Join(rn.dir, "kubelet")
	rn.kubelet = &supervised{what: c.name + ": kubelet", dir: c.dir, log: "kubelet.log", pidFile: "kubelet.pid", holdFile: "kubelet.hold",
		argv: append(append([]string{}, enter...), parts.kubelet,
			"--config="+filepath.Join(k, "config.yaml"),
			"--kubeconfig="+filepath.Join(c.dir, "kubelet.kubeconfig"),
			"--hostname-override="+c.nodeName(),
			"--node-ip="+c.nodeIP(),
			"--container-runtime-endpoint=unix://"+c.containerdSocket(),
			"--root-dir="+filepath.Join(k, "root"),
			"--cert-dir="+filepath.Join(k, "pki"),
			"--v=1"),
		onStarted: func(pid int) error { return joinCgroup(runtime, pid) }}
	if err := rn.kubelet.start(); err != nil {
		return nil, err
	}
	return rn, nil
}

func ctr(c *cluster, args ...string) error {
	out, err := exec.Command("ctr", append([]string{"--address", c.containerdSocket(), "--namespace", "k8s.io"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func waitFor(timeout time.Duration, ok func() bool) error {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if ok() {
			return nil
		}
	}
	return fmt.Errorf("not after %s", timeout)
}

func (n *network) writeContainerdConfig(c *cluster, rn *realNode, parts nodeParts) error {
	p := func(s string) string { return filepath.Join(rn.dir, s) }
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
# Only what a CRI node needs.
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  # This VM withholds CAP_SYS_RESOURCE: a lower oom_score_adj than containerd's own is refused.
  restrict_oom_score_adj = true
  # The pods' network namespaces are mounted in the state directory (and the node's mount namespace), not in the host's /run.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  enable_cdi = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, p("containerd/root"), p("containerd/state"), c.containerdSocket(), c.containerdSocket()+".ttrpc", pauseImage, parts.cniBin, p("cni/conf"), p("containerd/opt"))
	if err := os.WriteFile(p("containerd.toml"), []byte(config), 0o644); err != nil {
		return err
	}
	// ptp: a veth per pod, the pod's address routed to it on the node (as on the bed's
	// simulated nodes); host-local hands out the cluster's pod range from .10, round robin.
	cidr := c.podCIDR()
	prefix := strings.TrimSuffix(cidr, "0/24")
	cni := map[string]any{
		"cniVersion": "0.4.0", "name": "bed",
		"plugins": []any{map[string]any{
			"type": "ptp", "ipMasq": false,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": cidr, "rangeStart": prefix + strconv.Itoa(firstHost), "rangeEnd": prefix + strconv.Itoa(lastHost), "gateway": prefix + "1"}}},
				"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
				"dataDir": p("cni/ipam"),
			},
		}},
	}
	b, _ := json.MarshalIndent(cni, "", "  ")
	return os.WriteFile(p("cni/conf/10-bed.conflist"), b, 0o644)
}

func (rn *realNode) writeKubeletConfig() error {
	k := func(s string) string { return filepath.Join(rn.dir, "kubelet", s) }
	c := rn.c
	if err := os.WriteFile(k("resolv.conf"), []byte("nameserver "+clusterDNS+"\n"), 0o644); err != nil {
		return err
	}
	config := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
# The API server presents a client certificate of the cluster's CA; the kubelet asks the API server what it may do.
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %q}
authorization: {mode: Webhook}
tlsCertFile: %q
tlsPrivateKeyFile: %q
# This VM: cgroup v1 only, no systemd.
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupRoot: %q
failSwapOn: false
clusterDNS: [%q]
clusterDomain: cluster.local
resolvConf: %q
# Imported images are never pulled again: no image garbage collection, no eviction for disk.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi"}
podLogsDir: %q
volumePluginDir: %q
serializeImagePulls: false
syncFrequency: 10s
fileCheckFrequency: 10s
nodeStatusUpdateFrequency: 10s
maxPods: %d
`, filepath.Join(c.dir, "ca.crt"), filepath.Join(c.dir, "kubelet-serving.crt"), filepath.Join(c.dir, "kubelet-serving.key"),
		rn.cgroup, clusterDNS, k("resolv.conf"), k("pods-logs"), k("plugins"), maxPods)
	return os.WriteFile(k("config.yaml"), []byte(config), 0o644)
}

// readyNode waits for the kubelet's Node to be Ready and lifts the not-ready
// taint that admission put on it at registration (the bed runs no node
// lifecycle controller: a test that stops an API server for a minute must
// not see its pods evicted).
func (c *cluster) readyNode(ctx context.Context, timeout time.Duration) error {
	cs, err := c.clientset()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		node, err := cs.CoreV1().Nodes().Get(ctx, c.nodeName(), metav1.GetOptions{})
		if err == nil && nodeReady(node) {
			var kept []corev1.Taint
			for _, t := range node.Spec.Taints {
				if t.Key != corev1.TaintNodeNotReady {
					kept = append(kept, t)
				}
			}
			if len(kept) == len(node.Spec.Taints) {
				return nil
			}
			node.Spec.Taints = kept
			if _, err := cs.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err == nil || !apierrors.IsConflict(err) {
				return err
			}
			continue
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s not Ready after %s (see %s)", c.nodeName(), timeout, filepath.Join(c.dir, "kubelet.log"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// bindKubeletIdentities: the node's kubelet (system:node:<node>) gets the
// bootstrap role system:node, as the Node authorizer would allow it; the API
// server's client identity towards kubelets gets system:kubelet-api-admin
// (exec, logs, port-forward), as kubeadm binds it.
func (c *cluster) bindKubeletIdentities(ctx context.Context) error {
	cs, err := c.clientset()
	if err != nil {
		return err
	}
	for name, role := range map[string]string{"system:node:" + c.nodeName(): "system:node", kubeletClientUser: "system:kubelet-api-admin"} {
		binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: name}}}
		if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return nil
}

// publishAPIServer writes the kubernetes Service's Endpoints (the API server
// runs with --endpoint-reconciler-type=none): its port on the node's address,
// bridged there to the API server (inside.go), so that pods reach
// kubernetes.default (10.0.0.1:443) through kube-proxy as in any cluster.
func (c *cluster) publishAPIServer(ctx context.Context) error {
	cs, err := c.clientset()
	if err != nil {
		return err
	}
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: c.nodeIP()}}, Ports: []corev1.EndpointPort{{Name: "https", Port: int32(c.port), Protocol: corev1.ProtocolTCP}}}}}
	_, err = cs.CoreV1().Endpoints("default").Create(ctx, ep, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = cs.CoreV1().Endpoints("default").Update(ctx, ep, metav1.UpdateOptions{})
	}
	return err
}

// startNodes starts every cluster's real node, waits for them to be Ready, and
// gives each cluster what its pods expect of it: the kubernetes Service's
// endpoint and CoreDNS.
func (n *network) startNodes(ctx context.Context, parts nodeParts, mcs bool, timeout time.Duration) error {
	sweepNodes()
	if err := saveSysctls(); err != nil {
		return fmt.Errorf("sysctls: %w", err)
	}
	for _, c := range n.clusters {
		rn, err := n.startNode(ctx, c, parts)
		if rn != nil {
			n.realNodes = append(n.realNodes, rn)
		}
		if err != nil {
			return fmt.Errorf("%s: node: %w", c.name, err)
		}
	}
	for _, c := range n.clusters {
		if err := c.readyNode(ctx, timeout); err != nil {
			return err
		}
		if err := c.publishAPIServer(ctx); err != nil {
			return fmt.Errorf("%s: kubernetes endpoints: %w", c.name, err)
		}
		if err := c.deployDNS(ctx, n.self, mcs); err != nil {
			return fmt.Errorf("%s: CoreDNS: %w", c.name, err)
		}
	}
	for _, c := range n.clusters {
		if err := c.waitDNS(ctx, timeout); err != nil {
			return err
		}
	}
	for _, rn := range n.realNodes {
		go rn.kubelet.keepAlive(ctx)
	}
	return nil
}

// stopNodes stops the kubelets (so that they start nothing again), then
// everything else in the nodes' cgroups: containerd, its shims, the containers.
func (n *network) stopNodes() {
	if len(n.realNodes) == 0 {
		return
	}
	var kubelets []*supervised
	for _, rn := range n.realNodes {
		kubelets = append(kubelets, rn.kubelet)
	}
	stopAll(kubelets, 5*time.Second)
	for _, rn := range n.realNodes {
		removeCgroup(rn.cgroup)
	}
	removeCgroup(filepath.Dir(n.realNodes[0].cgroup))
	if hs, err := cgroupHierarchies(); err == nil {
		for _, h := range hs {
			os.Remove(filepath.Join(h, cgroupBase)) // once no other bed's nodes are in it
		}
	}
	restoreSysctls()
}
