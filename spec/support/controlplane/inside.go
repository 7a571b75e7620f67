package main

// The subcommands that run inside a network namespace of the bed: the holder
// of a node's, router's or pod's namespace (a pod answers HTTP with its
// cluster and name), kube-proxy on a node, and an HTTP client for traffic
// tests.

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"

	"mefi.dev/controlplane/podapp"
)

// runNetns holds a new network namespace (this process was started in it).
func runNetns(args []string) error {
	fs := flag.NewFlagSet("netns", flag.ContinueOnError)
	ready := fs.String("ready", "", "file to write once set up")
	fwd := fs.Bool("forward", false, "route between links (router, node)")
	serve := fs.String("serve", "", "answer HTTP with this text (a pod)")
	privateMounts := fs.Bool("private-mounts", false, "this process holds a new mount namespace too: the host's mounts are seen here, and none made here reaches the host")
	var ports podapp.IntList
	fs.Var(&ports, "port", "a port to answer HTTP on (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *privateMounts {
		if err := syscall.Mount("none", "/", "", syscall.MS_REC|syscall.MS_SLAVE, ""); err != nil {
			return fmt.Errorf("mounts: %w", err)
		}
		// What containerd, its shims, runc and the kubelet keep at fixed paths
		// (shim sockets and runc's state in /run/containerd, the device
		// plugins' socket in /var/lib/kubelet, CNI's results in /var/lib/cni,
		// the containers' log links in /var/log/containers) stays in this
		// namespace, and goes with it.
		for _, dir := range []string{"/run", "/var/lib", "/var/log"} {
			if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
				return fmt.Errorf("mounts: tmpfs on %s: %w", dir, err)
			}
		}
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("lo up: %v: %s", err, out)
	}
	if *fwd {
		// /proc/sys/net is this namespace's own.
		for k, v := range map[string]string{
			"ipv4/ip_forward": "1", "ipv4/conf/all/rp_filter": "0", "ipv4/conf/default/rp_filter": "0",
			"ipv4/conf/default/proxy_arp": "1",
		} {
			if err := os.WriteFile("/proc/sys/net/"+k, []byte(v), 0o644); err != nil {
				return err
			}
		}
	}
	for _, p := range ports {
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
		if err != nil {
			return err
		}
		text := *serve
		go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, text) }))
	}
	if *ready != "" {
		if err := os.WriteFile(*ready, nil, 0o644); err != nil {
			return err
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	return nil
}

// runProxy is kube-proxy (nftables mode) on a node, reaching its API server through the unix-socket bridge.
func runProxy(args []string) error {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	sock := fs.String("socket", "", "unix socket bridged to the API server")
	port := fs.Int("port", 0, "the API server's port on 127.0.0.1")
	node := fs.String("node", "", "this node's name")
	kubeconfig := fs.String("kubeconfig", "", "admin kubeconfig")
	// The other clusters' API servers too, so that a client run on this node
	// (mefi with --probe, from this cluster's pod network) reaches them all
	// with the same kubeconfig as on the host.
	bridges := map[string]int{}
	fs.Func("bridge", "another API server: unix-socket=port", func(v string) error {
		s, p, ok := strings.Cut(v, "=")
		n, err := strconv.Atoi(p)
		if !ok || err != nil {
			return fmt.Errorf("--bridge %q: want socket=port", v)
		}
		bridges[s] = n
		return nil
	})
	nodeIP := fs.String("node-ip", "", "with real nodes: this node's address, where pods reach this cluster's API server (the kubernetes Service's endpoint)")
	egress := fs.String("egress", "", "with real nodes: a unix socket taking HTTP CONNECT into this node's network (the API server's way to its kubelet, the bed's to its pods)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bridges[*sock] = *port
	for s, p := range bridges {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return err
		}
		go forward(l, func() (net.Conn, error) { return net.Dial("unix", s) })
	}
	if *nodeIP != "" {
		l, err := net.Listen("tcp", net.JoinHostPort(*nodeIP, strconv.Itoa(*port)))
		if err != nil {
			return err
		}
		go forward(l, func() (net.Conn, error) { return net.Dial("unix", *sock) })
	}
	if *egress != "" {
		os.Remove(*egress)
		l, err := net.Listen("unix", *egress)
		if err != nil {
			return err
		}
		go serveConnect(l)
	}
	cmd := proxy.NewProxyCommand()
	cmd.SetArgs([]string{
		"--kubeconfig=" + *kubeconfig,
		"--hostname-override=" + *node,
		"--proxy-mode=nftables",
		// Conntrack sysctls belong to the host; inside a namespace leave them.
		"--conntrack-max-per-core=0",
		"--conntrack-tcp-timeout-established=0",
		"--conntrack-tcp-timeout-close-wait=0",
		"--metrics-bind-address=127.0.0.1:10249",
		"--healthz-bind-address=127.0.0.1:10256",
		"--v=1",
	})
	return cmd.Execute()
}

// serveConnect answers HTTP CONNECT host:port by dialing it from this
// network namespace and piping both ways: the API server's egress selector
// (its "cluster" egress: kubelets, and through them exec, logs and
// port-forward) and the bed's own calls to pods use it, as a Konnectivity
// agent would serve them on a real network.
func serveConnect(l net.Listener) {
	for {
		in, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer in.Close()
			br := bufio.NewReader(in)
			req, err := http.ReadRequest(br)
			if err != nil || req.Method != http.MethodConnect {
				fmt.Fprint(in, "HTTP/1.1 400 Bad Request\r\n\r\n")
				return
			}
			out, err := net.DialTimeout("tcp", req.Host, 10*time.Second)
			if err != nil {
				fmt.Fprintf(in, "HTTP/1.1 502 Bad Gateway\r\n\r\n%v", err)
				return
			}
			defer out.Close()
			fmt.Fprint(in, "HTTP/1.1 200 Connection established\r\n\r\n")
			go func() { io.Copy(out, br); out.(*net.TCPConn).CloseWrite() }()
			io.Copy(in, out)
		}()
	}
}
