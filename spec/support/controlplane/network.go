package main

// A routed, flat pod network, made of network namespaces that belong to
// processes of this supervisor (never named, never in the host's namespace):
// when the supervisor dies, however it dies, its children die (Pdeathsig) and
// the kernel removes their namespaces and veths with them.
//
//	router                      10.255.<i>.1/24 on link n<i> to node i
//	node of cluster i           10.255.<i>.2/24 on "uplink"; forwards; kube-proxy (nftables)
//	pods of cluster i           10.244.<i+1>.<n>/32 on "eth0", veth p<n> on the node
//
// The router routes each cluster's pod range to its node, so every pod
// reaches every other, as on a network whose pod CIDRs are announced by BGP.
// kube-proxy reaches its API server, which listens on the host's 127.0.0.1,
// through a unix socket (<cluster>/api.sock) bridged to 127.0.0.1 inside the
// node's namespace: the same URL and certificate work on both sides. Every
// node bridges every cluster's API server, so that a client run in a node's
// namespace (nsenter --net=/proc/$(cat <cluster>/proxy.pid)/ns/net) uses the
// bed's kubeconfig unchanged: mefi --probe runs there, in the pod network.

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

type network struct {
	root, self string
	real       bool // real nodes (node.go): a kubelet and containerd in each node's namespaces
	clusters   []*cluster
	router     *supervised
	nodes      map[string]*supervised // by cluster: the holders of the nodes' namespaces
	realNodes  []*realNode
	proxies    []*supervised
	bridges    []net.Listener
	mu         sync.Mutex
	pods       map[string]*supervised // by cluster/namespace/name
	podLinks   map[string]string      // by cluster/namespace/name: the veth on the node
	nextLink   int
}

func newNetwork(root, self string, clusters []*cluster) *network {
	return &network{root: root, self: self, clusters: clusters, nodes: map[string]*supervised{}, pods: map[string]*supervised{}, podLinks: map[string]string{}}
}

// inNet runs a command (ip, usually) inside the network namespace of pid.
func inNet(pid int, args ...string) error {
	out, err := exec.Command("nsenter", append([]string{"--net=/proc/" + strconv.Itoa(pid) + "/ns/net", "--"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %v: %s", args, err, out)
	}
	return nil
}

func inNetAll(pid int, cmds ...[]string) error {
	for _, c := range cmds {
		if err := inNet(pid, c...); err != nil {
			return err
		}
	}
	return nil
}

// holder starts a process in a new network namespace and waits until it has set it up.
func (n *network) holder(dir, what, log string, args ...string) (*supervised, error) {
	return n.holderOf(&supervised{what: what, dir: dir, log: log, cloneNet: true}, args...)
}

func (n *network) holderOf(p *supervised, args ...string) (*supervised, error) {
	dir, what, log := p.dir, p.what, p.log
	ready := filepath.Join(dir, fmt.Sprintf(".ready-%d", time.Now().UnixNano()))
	p.argv = append([]string{n.self, "netns", "--ready", ready}, args...)
	if err := p.start(); err != nil {
		return nil, err
	}
	_, exited := p.current()
	for deadline := time.Now().Add(20 * time.Second); ; {
		if _, err := os.Stat(ready); err == nil {
			os.Remove(ready)
			return p, nil
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("%s exited while setting up (see %s)", what, filepath.Join(dir, log))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: not set up after 20s", what)
		}
	}
}

func (n *network) setUp(ctx context.Context) error {
	router, err := n.holder(n.root, "router", "router.log", "--forward")
	if err != nil {
		return err
	}
	n.router = router
	for _, c := range n.clusters {
		// A real node's containerd and kubelet share its network namespace and a mount namespace of their own.
		node, err := n.holderOf(&supervised{what: c.name + ": node", dir: c.dir, log: "node.log", cloneNet: true, cloneNS: n.real},
			"--forward", fmt.Sprintf("--private-mounts=%t", n.real))
		if err != nil {
			return err
		}
		n.nodes[c.name] = node
		link := fmt.Sprintf("n%d", c.index)
		if err := inNet(router.pid(), "ip", "link", "add", link, "type", "veth", "peer", "name", "uplink", "netns", strconv.Itoa(node.pid())); err != nil {
			return err
		}
		if err := inNetAll(router.pid(),
			[]string{"ip", "addr", "add", fmt.Sprintf("10.255.%d.1/24", c.index), "dev", link},
			[]string{"ip", "link", "set", link, "up"},
			[]string{"ip", "route", "add", c.podCIDR(), "via", c.nodeIP()},
		); err != nil {
			return err
		}
		if err := inNetAll(node.pid(),
			[]string{"ip", "addr", "add", c.nodeIP() + "/24", "dev", "uplink"},
			[]string{"ip", "link", "set", "uplink", "up"},
			[]string{"ip", "route", "add", "default", "via", fmt.Sprintf("10.255.%d.1", c.index)},
		); err != nil {
			return err
		}
		bridge, err := bridgeUnixToTCP(c.apiSocket(), fmt.Sprintf("127.0.0.1:%d", c.port))
		if err != nil {
			return err
		}
		n.bridges = append(n.bridges, bridge)
	}
	for _, c := range n.clusters {
		argv := []string{"nsenter", "--net=/proc/" + strconv.Itoa(n.nodes[c.name].pid()) + "/ns/net", "--", n.self, "proxy",
			"--socket", c.apiSocket(), "--port", strconv.Itoa(c.port), "--node", c.nodeName(),
			"--kubeconfig", filepath.Join(c.dir, "kube-proxy.kubeconfig")}
		for _, o := range n.clusters {
			if o != c {
				argv = append(argv, "--bridge", fmt.Sprintf("%s=%d", o.apiSocket(), o.port))
			}
		}
		if n.real {
			argv = append(argv, "--node-ip", c.nodeIP(), "--egress", c.egressSocket())
		}
		proxy := &supervised{what: c.name + ": kube-proxy", dir: c.dir, log: "kube-proxy.log", pidFile: "proxy.pid", holdFile: "proxy.hold", argv: argv}
		if err := proxy.start(); err != nil {
			return err
		}
		n.proxies = append(n.proxies, proxy)
	}
	return nil
}

func (c *cluster) apiSocket() string { return filepath.Join(c.dir, "api.sock") }

func (n *network) keepAlive(ctx context.Context) {
	for _, p := range n.proxies {
		go p.keepAlive(ctx)
	}
}

func (n *network) close() {
	n.stopNodes()
	stopAll(n.proxies, 10*time.Second)
	n.mu.Lock()
	var pods []*supervised
	for _, p := range n.pods {
		pods = append(pods, p)
	}
	n.mu.Unlock()
	stopAll(pods, 5*time.Second)
	var nodes []*supervised
	for _, p := range n.nodes {
		nodes = append(nodes, p)
	}
	stopAll(nodes, 5*time.Second)
	if n.router != nil {
		stopAll([]*supervised{n.router}, 5*time.Second)
	}
	for _, b := range n.bridges {
		b.Close()
	}
}

// addPod starts a pod's namespace, answering HTTP on ports, and wires it to its node.
func (n *network) addPod(c *cluster, namespace, name, ip string, ports []int) error {
	key := c.name + "/" + namespace + "/" + name
	args := []string{"--serve", c.name + " " + name}
	for _, p := range ports {
		args = append(args, "--port", strconv.Itoa(p))
	}
	pod, err := n.holder(c.dir, key, "pods.log", args...)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.nextLink++
	link := fmt.Sprintf("p%d", n.nextLink)
	n.pods[key], n.podLinks[key] = pod, link
	n.mu.Unlock()
	node := n.nodes[c.name]
	if err := inNet(node.pid(), "ip", "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", strconv.Itoa(pod.pid())); err != nil {
		return err
	}
	if err := inNetAll(node.pid(),
		[]string{"ip", "link", "set", link, "up"},
		[]string{"ip", "route", "add", ip + "/32", "dev", link},
		// Proxy ARP replies at once, as Calico sets its veths: the kernel's
		// default delays each by up to 0.8 s, so a pod's first connection took
		// that long (and a probe with a shorter timeout failed).
		[]string{"sh", "-c", "echo 0 > /proc/sys/net/ipv4/neigh/" + link + "/proxy_delay"},
	); err != nil {
		return err
	}
	// The node answers ARP for the gateway on the pod's link (proxy_arp), as Calico does.
	return inNetAll(pod.pid(),
		[]string{"ip", "addr", "add", ip + "/32", "dev", "eth0"},
		[]string{"ip", "link", "set", "eth0", "up"},
		[]string{"ip", "route", "add", "169.254.1.1", "dev", "eth0", "scope", "link"},
		[]string{"ip", "route", "add", "default", "via", "169.254.1.1", "dev", "eth0"},
	)
}

func (n *network) deletePod(c *cluster, namespace, name string) {
	key := c.name + "/" + namespace + "/" + name
	n.mu.Lock()
	p := n.pods[key]
	delete(n.pods, key)
	delete(n.podLinks, key)
	n.mu.Unlock()
	if p != nil {
		stopAll([]*supervised{p}, 5*time.Second)
	}
}

func (n *network) podPid(c *cluster, namespace, name string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p := n.pods[c.name+"/"+namespace+"/"+name]; p != nil {
		return p.pid()
	}
	return 0
}

// route changes the router's route to a cluster's pod range: "blackhole" drops its traffic, "restore" puts it back.
func (n *network) route(c *cluster, action string) error {
	switch action {
	case "blackhole":
		return inNet(n.router.pid(), "ip", "route", "replace", "blackhole", c.podCIDR())
	case "restore":
		return inNet(n.router.pid(), "ip", "route", "replace", c.podCIDR(), "via", c.nodeIP())
	}
	return fmt.Errorf("route: unknown action %q", action)
}

// bridgeUnixToTCP accepts on a unix socket and forwards each connection to addr.
func bridgeUnixToTCP(sock, addr string) (net.Listener, error) {
	os.Remove(sock)
	l, err := net.Listen("unix", sock)
	if err != nil {
		return nil, err
	}
	go forward(l, func() (net.Conn, error) { return net.Dial("tcp", addr) })
	return l, nil
}

func forward(l net.Listener, dial func() (net.Conn, error)) {
	for {
		in, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			out, err := dial()
			if err != nil {
				in.Close()
				return
			}
			go func() { io.Copy(out, in); out.Close() }()
			io.Copy(in, out)
			in.Close()
		}()
	}
}
