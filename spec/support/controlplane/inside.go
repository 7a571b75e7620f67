package main

// The subcommands that run inside a network namespace of the bed: the holder
// of a node's, router's or pod's namespace (a pod answers HTTP with its
// cluster and name), kube-proxy on a node, and an HTTP client for traffic
// tests.

import (
	"encoding/json"
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
)

type intList []int

func (l *intList) String() string { return fmt.Sprint(*l) }
func (l *intList) Set(s string) error {
	v, err := strconv.Atoi(s)
	*l = append(*l, v)
	return err
}

// runNetns holds a new network namespace (this process was started in it).
func runNetns(args []string) error {
	fs := flag.NewFlagSet("netns", flag.ContinueOnError)
	ready := fs.String("ready", "", "file to write once set up")
	fwd := fs.Bool("forward", false, "route between links (router, node)")
	serve := fs.String("serve", "", "answer HTTP with this text (a pod)")
	var ports intList
	fs.Var(&ports, "port", "a port to answer HTTP on (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
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

// runFetch sends count requests, each on a new connection (so kube-proxy
// balances each one), interval apart, and prints how often each answer came,
// as JSON. An answer that is not 2xx (an ingress's 503) is an error.
func runFetch(args []string) error {
	fs := flag.NewFlagSet("fetch", flag.ContinueOnError)
	url := fs.String("url", "", "URL to request")
	host := fs.String("host", "", "Host header (an ingress routes by it)")
	count := fs.Int("count", 1, "requests")
	interval := fs.Duration("interval", 0, "between requests")
	timeout := fs.Duration("timeout", 2*time.Second, "per request")
	trace := fs.Bool("trace", false, "also list each request: when it was sent and what came of it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	client := &http.Client{Timeout: *timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	result := fetchResult{Answers: map[string]int{}}
	for i := 0; i < *count; i++ {
		if i > 0 && *interval > 0 {
			time.Sleep(*interval)
		}
		req, err := http.NewRequest(http.MethodGet, *url, nil)
		if err != nil {
			return err
		}
		if *host != "" {
			req.Host = *host
		}
		sent := time.Now()
		answer, err := get(client, req)
		if *trace {
			result.Trace = append(result.Trace, traceEntry{At: sent.UnixMilli(), Answer: answer, Failed: err != nil})
		}
		if err != nil {
			result.Errors++
			result.LastError = err.Error()
			continue
		}
		result.Answers[answer]++
	}
	return json.NewEncoder(os.Stdout).Encode(result)
}

// get is one request: its answer's body, or why there was none (not 2xx is an error).
func get(client *http.Client, req *http.Request) (string, error) {
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return strings.TrimSpace(string(body)), nil
}

type fetchResult struct {
	Answers   map[string]int `json:"answers"`
	Errors    int            `json:"errors"`
	LastError string         `json:"lastError,omitempty"`
	Trace     []traceEntry   `json:"trace,omitempty"`
}

// traceEntry is one request: sent at (Unix ms), answered by, or failed.
type traceEntry struct {
	At     int64  `json:"at"`
	Answer string `json:"answer,omitempty"`
	Failed bool   `json:"failed,omitempty"`
}
