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
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	if filepath.Base(os.Args[0]) == "kubectl" {
		kubectl()
		return
	}
	var err error
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		err = serve(os.Args[2:])
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
	dir                string
	port, etcdC, etcdP int
	pki                *pki
	mu                 sync.Mutex
	cmd                *exec.Cmd
	exited             chan struct{}
}

func supervise(args []string) error {
	fs := flag.NewFlagSet("controlplane", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory for kubeconfigs and state (required)")
	names := fs.String("clusters", "alpha beta gamma", "cluster names, separated by spaces or commas")
	timeout := fs.Duration("timeout", 3*time.Minute, "how long to wait for every server to be ready")
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

	clusters := make([]*cluster, 0, len(list))
	defer func() { stopAll(clusters) }()
	started := time.Now()
	for _, n := range list {
		c, err := prepare(*dir, n)
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		clusters = append(clusters, c)
		if err := c.start(self); err != nil {
			return fmt.Errorf("%s: %w", n, err)
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
	if err := os.WriteFile(filepath.Join(*dir, "ready"), []byte(fmt.Sprintf("%d clusters ready in %s\n", len(clusters), time.Since(started).Round(time.Millisecond))), 0o644); err != nil {
		return err
	}
	fmt.Printf("controlplane: %s ready in %s; kubeconfig: %s\n", strings.Join(list, ", "), time.Since(started).Round(time.Millisecond), filepath.Join(*dir, "kubeconfig"))

	for _, c := range clusters {
		go c.keepAlive(ctx, self)
	}
	<-ctx.Done()
	fmt.Println("controlplane: stopping")
	return nil
}

func prepare(root, name string) (*cluster, error) {
	dir := filepath.Join(root, name)
	// A fresh start is a fresh cluster: no state from an earlier run leaks in.
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p, err := writePKI(dir)
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
	return &cluster{name: name, dir: dir, port: ports[0], etcdC: ports[1], etcdP: ports[2], pki: p}, nil
}

func (c *cluster) start(self string) error {
	log, err := os.OpenFile(filepath.Join(c.dir, "apiserver.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "serve", "--dir", c.dir,
		fmt.Sprintf("--port=%d", c.port), fmt.Sprintf("--etcd-client-port=%d", c.etcdC), fmt.Sprintf("--etcd-peer-port=%d", c.etcdP))
	cmd.Stdout, cmd.Stderr = log, log
	// If the supervisor dies, however it dies, its servers die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); log.Close(); close(exited) }()
	c.mu.Lock()
	c.cmd, c.exited = cmd, exited
	c.mu.Unlock()
	return os.WriteFile(filepath.Join(c.dir, "pid"), []byte(fmt.Sprintf("%d\n", cmd.Process.Pid)), 0o644)
}

// keepAlive restarts a server that died (a test killed it), unless held.
func (c *cluster) keepAlive(ctx context.Context, self string) {
	for {
		c.mu.Lock()
		exited := c.exited
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-exited:
		}
		for {
			if _, err := os.Stat(filepath.Join(c.dir, "hold")); os.IsNotExist(err) {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		if err := c.start(self); err != nil {
			fmt.Fprintf(os.Stderr, "controlplane: restart %s: %v\n", c.name, err)
			return
		}
	}
}

func stopAll(clusters []*cluster) {
	for _, c := range clusters {
		c.mu.Lock()
		if c.cmd != nil && c.cmd.Process != nil {
			c.cmd.Process.Signal(syscall.SIGTERM)
		}
		c.mu.Unlock()
	}
	deadline := time.After(20 * time.Second)
	for _, c := range clusters {
		c.mu.Lock()
		cmd, exited := c.cmd, c.exited
		c.mu.Unlock()
		if cmd == nil {
			continue
		}
		select {
		case <-exited:
		case <-deadline:
			cmd.Process.Kill()
			<-exited
		}
	}
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
		c.mu.Lock()
		exited := c.exited
		c.mu.Unlock()
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
	var nc namedCluster
	nc.Name = c.name
	nc.Cluster.Server = fmt.Sprintf("https://127.0.0.1:%d", c.port)
	nc.Cluster.CAData = base64.StdEncoding.EncodeToString(c.pki.ca.certPEM)
	var nu namedUser
	nu.Name = c.name + "-admin"
	nu.User.CertData = base64.StdEncoding.EncodeToString(c.pki.admin.certPEM)
	nu.User.KeyData = base64.StdEncoding.EncodeToString(c.pki.admin.keyPEM)
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

func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
