// Command controlplane runs real kube-apiservers (each with an embedded etcd)
// on 127.0.0.1, one OS process per cluster, for mefi's tests, demo and
// benchmark.
//
//	controlplane --dir DIR --clusters "alpha beta gamma"
//
// It stays in the foreground until SIGINT or SIGTERM and then stops every
// server. Once all servers answer /readyz it writes, in DIR:
//
//	<name>.kubeconfig   admin (system:masters) credentials, context <name>
//	kubeconfig          one context per cluster
//	<name>/             state: etcd data, PKI, tokens.csv, audit.log, pid, logs
//	ready               written last
//
// Invoked as kubectl (a link named kubectl), it is kubectl.
//
// With --controllers (the default) each cluster also runs
// kube-controller-manager and kube-scheduler; the supervisor itself is the
// kubelet of each cluster's one node (kubelet.go). --mcs installs the
// Multi-Cluster Services API's CRDs, --network the routed pod network.
//
// Fault injection for tests: a cluster's server runs as the process in
// <name>/pid. Kill it and it is restarted on the same ports with the same data,
// unless <name>/hold exists; remove the file and it is restarted.
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"mefi.dev/controlplane/podapp"
)

func main() {
	if filepath.Base(os.Args[0]) == "kubectl" {
		kubectl()
		return
	}
	var err error
	sub := map[string]func([]string) error{"serve": serve, "controllers": runControllers, "netns": runNetns, "proxy": runProxy, "fetch": podapp.Fetch, "pod": runPodCLI, "scheduler": runScheduler}
	if len(os.Args) > 1 && sub[os.Args[1]] != nil {
		err = sub[os.Args[1]](os.Args[2:])
	} else {
		err = supervise(os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "controlplane:", err)
		os.Exit(1)
	}
}

var clusterName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

type cluster struct {
	name               string
	index              int
	dir                string
	port, etcdC, etcdP int
	pki                *pki
	api                *supervised // kube-apiserver with its etcd
	kcm                *supervised // kube-controller-manager, with --controllers
	scheduler          *supervised // kube-scheduler, with --controllers
}

func supervise(args []string) error {
	fs := flag.NewFlagSet("controlplane", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory for kubeconfigs and state (required)")
	names := fs.String("clusters", "alpha beta gamma", "cluster names, separated by spaces or commas")
	timeout := fs.Duration("timeout", 3*time.Minute, "how long to wait for every server to be ready")
	withControllers := fs.Bool("controllers", true, "run kube-controller-manager (endpoints, endpointslice, mirroring, serviceaccount, deployment, replicaset, garbage collector, namespace controllers) and kube-scheduler per cluster")
	withMCS := fs.Bool("mcs", false, "install the Multi-Cluster Services API's CRDs (ServiceExport, ServiceImport) in every cluster (a few tenths of a second more at start)")
	withNetwork := fs.Bool("network", false, "a routed pod network in network namespaces, kube-proxy per node, pods that answer HTTP (needs root)")
	nodes := fs.String("nodes", "simulated", `with --network, "real": each node a kubelet with its own containerd running real containers (node.go), CoreDNS as each cluster's DNS; "simulated": the supervisor is every node's kubelet (kubelet.go)`)
	var parts nodeParts
	fs.StringVar(&parts.kubelet, "kubelet", "", "real nodes: the kubelet binary")
	fs.StringVar(&parts.images, "images", "", "real nodes: a directory of OCI archives to import into every node's containerd")
	fs.StringVar(&parts.cniBin, "cni-bin", "/usr/lib/cni", "real nodes: the CNI plugins")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("--dir is required")
	}
	list := strings.FieldsFunc(*names, func(r rune) bool { return r == ' ' || r == ',' })
	if len(list) == 0 {
		return fmt.Errorf("--clusters names no cluster")
	}
	seen := map[string]bool{}
	for _, n := range list {
		if !clusterName.MatchString(n) || seen[n] {
			return fmt.Errorf("cluster name %q is not a unique DNS-1123 label", n)
		}
		seen[n] = true
	}
	if *withNetwork && os.Geteuid() != 0 {
		return fmt.Errorf("--network needs root (network namespaces, veths, nftables inside them)")
	}
	real := *nodes == "real"
	if *nodes != "real" && *nodes != "simulated" {
		return fmt.Errorf("--nodes %q: want real or simulated", *nodes)
	}
	if real && (!*withNetwork || !*withControllers || parts.kubelet == "" || parts.images == "") {
		return fmt.Errorf("--nodes=real needs --network, --controllers, --kubelet and --images")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	os.Remove(filepath.Join(*dir, "ready"))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx = withParent(ctx)

	clusters := make([]*cluster, 0, len(list))
	var procs []*supervised // stopped in reverse order of start
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			stopAll([]*supervised{procs[i]}, 20*time.Second)
		}
	}()
	started := time.Now()
	for i, n := range list {
		c, err := prepare(*dir, n, i, self, real)
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		clusters = append(clusters, c)
		procs = append(procs, c.api)
		if err := c.api.start(); err != nil {
			return err
		}
	}
	for _, c := range clusters {
		if err := c.waitReady(ctx, *timeout); err != nil {
			return fmt.Errorf("%s: %w (see %s)", c.name, err, filepath.Join(c.dir, "apiserver.log"))
		}
	}
	if err := writeKubeconfigs(*dir, clusters); err != nil {
		return err
	}
	if *withMCS {
		errs := make(chan error, len(clusters))
		for _, c := range clusters {
			go func() { errs <- c.installMCSCRDs(ctx, *timeout) }()
		}
		for range clusters {
			if err := <-errs; err != nil {
				return err
			}
		}
	}
	for _, c := range clusters {
		register := c.registerNode
		if real {
			register = c.bindKubeletIdentities // the kubelet registers its Node
		}
		if err := register(ctx); err != nil {
			return fmt.Errorf("%s: node: %w", c.name, err)
		}
	}
	if *withControllers {
		for _, c := range clusters {
			c.kcm, c.scheduler = controllerManager(c, self), schedulerProcess(c, self)
			procs = append(procs, c.kcm, c.scheduler)
			if err := c.kcm.start(); err != nil {
				return err
			}
			if err := c.scheduler.start(); err != nil {
				return err
			}
		}
	}
	var bed *network
	if *withNetwork {
		bed = newNetwork(*dir, self, clusters)
		bed.real = real
		defer bed.close()
		if err := bed.setUp(ctx); err != nil {
			return fmt.Errorf("network: %w", err)
		}
	}
	runners := map[string]podRunner{}
	if real {
		if err := bed.startNodes(ctx, parts, *withMCS, *timeout); err != nil {
			return err
		}
		for _, c := range clusters {
			if runners[c.name], err = newRealPods(c); err != nil {
				return err
			}
		}
	} else {
		for _, c := range clusters {
			k, err := newKubelet(c, bed)
			if err != nil {
				return err
			}
			if err := k.watch(ctx); err != nil {
				return err
			}
			runners[c.name] = k
		}
	}
	control, err := serveControl(ctx, *dir, clusters, runners, bed)
	if err != nil {
		return err
	}
	defer control.Close()
	if err := os.WriteFile(filepath.Join(*dir, "ready"), []byte(fmt.Sprintf("%d clusters ready in %s\n", len(clusters), time.Since(started).Round(time.Millisecond))), 0o644); err != nil {
		return err
	}
	fmt.Printf("controlplane: %s ready in %s; kubeconfig: %s\n", strings.Join(list, ", "), time.Since(started).Round(time.Millisecond), filepath.Join(*dir, "kubeconfig"))

	for _, p := range procs {
		go p.keepAlive(ctx)
	}
	if bed != nil {
		bed.keepAlive(ctx)
	}
	<-ctx.Done()
	fmt.Println("controlplane: stopping")
	return nil
}

func prepare(root, name string, index int, self string, realNode bool) (*cluster, error) {
	dir := filepath.Join(root, name)
	// A fresh start is a fresh cluster: no state from an earlier run leaks in.
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p, err := writePKI(dir, nodeNameOf(name), nodeIPOf(index))
	if err != nil {
		return nil, err
	}
	// Static identities for RBAC tests; ServiceAccount tokens come from TokenRequest.
	tokens := fmt.Sprintf("%s,nobody,nobody-uid\n", randomToken())
	if err := os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(tokens), 0o600); err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	c := &cluster{name: name, index: index, dir: dir, port: ports[0], etcdC: ports[1], etcdP: ports[2], pki: p}
	c.api = &supervised{
		what: name + ": kube-apiserver", dir: dir, log: "apiserver.log", pidFile: "pid", holdFile: "hold",
		argv: []string{self, "serve", "--dir", dir,
			fmt.Sprintf("--port=%d", c.port), fmt.Sprintf("--etcd-client-port=%d", c.etcdC), fmt.Sprintf("--etcd-peer-port=%d", c.etcdP)},
	}
	if realNode {
		c.api.argv = append(c.api.argv, "--egress="+c.egressSocket(), "--service-accounts")
	}
	return c, nil
}

func (c *cluster) client() *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(c.pki.ca.cert)
	cert, _ := tls.X509KeyPair(c.pki.admin.certPEM, c.pki.admin.keyPEM)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}},
	}}
}

func (c *cluster) waitReady(ctx context.Context, timeout time.Duration) error {
	hc := c.client()
	deadline := time.Now().Add(timeout)
	url := fmt.Sprintf("https://127.0.0.1:%d/readyz", c.port)
	for time.Now().Before(deadline) {
		_, exited := c.api.current()
		select {
		case <-exited:
			return fmt.Errorf("server exited before it was ready")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := hc.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s", timeout)
}

type kubeconfig struct {
	APIVersion     string         `json:"apiVersion"`
	Kind           string         `json:"kind"`
	Clusters       []namedCluster `json:"clusters"`
	Users          []namedUser    `json:"users"`
	Contexts       []namedContext `json:"contexts"`
	CurrentContext string         `json:"current-context"`
}
type namedCluster struct {
	Name    string `json:"name"`
	Cluster struct {
		Server string `json:"server"`
		CAData string `json:"certificate-authority-data"`
	} `json:"cluster"`
}
type namedUser struct {
	Name string `json:"name"`
	User struct {
		CertData string `json:"client-certificate-data"`
		KeyData  string `json:"client-key-data"`
	} `json:"user"`
}
type namedContext struct {
	Name    string `json:"name"`
	Context struct {
		Cluster string `json:"cluster"`
		User    string `json:"user"`
	} `json:"context"`
}

func (c *cluster) entries() (namedCluster, namedUser, namedContext) {
	return c.entriesFor("admin", c.pki.admin)
}

func (c *cluster) entriesFor(user string, creds *keyPair) (namedCluster, namedUser, namedContext) {
	var nc namedCluster
	nc.Name = c.name
	nc.Cluster.Server = fmt.Sprintf("https://127.0.0.1:%d", c.port)
	nc.Cluster.CAData = base64.StdEncoding.EncodeToString(c.pki.ca.certPEM)
	var nu namedUser
	nu.Name = c.name + "-" + user
	nu.User.CertData = base64.StdEncoding.EncodeToString(creds.certPEM)
	nu.User.KeyData = base64.StdEncoding.EncodeToString(creds.keyPEM)
	var nx namedContext
	nx.Name = c.name
	nx.Context.Cluster = c.name
	nx.Context.User = nu.Name
	return nc, nu, nx
}

// writeKubeconfigs writes JSON, which is YAML, so every client reads it.
func writeKubeconfigs(dir string, clusters []*cluster) error {
	all := kubeconfig{APIVersion: "v1", Kind: "Config", CurrentContext: clusters[0].name}
	for _, c := range clusters {
		for file, creds := range map[string]*keyPair{"controller-manager.kubeconfig": c.pki.controllerManager, "kube-proxy.kubeconfig": c.pki.proxy,
			"scheduler.kubeconfig": c.pki.scheduler, "kubelet.kubeconfig": c.pki.kubelet} {
			nc, nu, nx := c.entriesFor(strings.TrimSuffix(file, ".kubeconfig"), creds)
			if err := writeJSON(filepath.Join(c.dir, file), kubeconfig{APIVersion: "v1", Kind: "Config", CurrentContext: c.name,
				Clusters: []namedCluster{nc}, Users: []namedUser{nu}, Contexts: []namedContext{nx}}); err != nil {
				return err
			}
		}
		nc, nu, nx := c.entries()
		one := kubeconfig{APIVersion: "v1", Kind: "Config", CurrentContext: c.name,
			Clusters: []namedCluster{nc}, Users: []namedUser{nu}, Contexts: []namedContext{nx}}
		if err := writeJSON(filepath.Join(dir, c.name+".kubeconfig"), one); err != nil {
			return err
		}
		all.Clusters = append(all.Clusters, nc)
		all.Users = append(all.Users, nu)
		all.Contexts = append(all.Contexts, nx)
	}
	return writeJSON(filepath.Join(dir, "kubeconfig"), all)
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o600)
}

// freePorts picks ports below the kernel's ephemeral range and not picked
// before in this process. A port the kernel handed out for ":0" and we then
// closed is free only until some outgoing connection takes it as its source
// port, and three API servers dialling their etcds make many: CI once saw
// beta's API server lose its port that way. Ports under the ephemeral range
// are never given to outgoing connections, and a server restarted by a test
// gets its port back.
func freePorts(n int) ([]int, error) {
	low := ephemeralLow()
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			return nil, fmt.Errorf("no free port under %d after 1000 tries", low)
		}
		p := 10000 + mrand.IntN(low-10000)
		if picked[p] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue // in use
		}
		l.Close()
		picked[p] = true
		ports = append(ports, p)
	}
	return ports, nil
}

var picked = map[int]bool{}

// ephemeralLow is the first port of net.ipv4.ip_local_port_range (32768 by default).
func ephemeralLow() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(data)); len(f) == 2 {
			if low, err := strconv.Atoi(f[0]); err == nil && low > 11000 {
				return low
			}
		}
	}
	return 32768
}

func randomToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// withParent ends ctx when the process that started the supervisor dies
// (a test runner killed by a timeout): its clusters, pods and network go too.
func withParent(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	parent := os.Getppid()
	go func() {
		for ctx.Err() == nil {
			if os.Getppid() != parent {
				fmt.Fprintln(os.Stderr, "controlplane: parent gone, stopping")
				cancel()
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
	}()
	return ctx
}
