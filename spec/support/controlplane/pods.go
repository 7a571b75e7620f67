package main

// Pods as users have them: the bed creates the Pod bound to the cluster's
// node and the node's kubelet role (kubelet.go) starts it as it starts a
// Deployment's pods (Running, podIP, Ready; with --network a network
// namespace on the node that answers HTTP); the real controllers then make
// the Endpoints and EndpointSlices of the Services that select it.
//
// Tests, the demo and people drive it through DIR/bed.sock (HTTP, JSON):
//
//	POST   /pods        {cluster, namespace, name, labels, ports, ready}  → {ip}
//	PUT    /pods/ready  {cluster, namespace, name, ready}
//	DELETE /pods        {cluster, namespace, name}
//	POST   /fetch       {cluster, namespace, name, url, host, count, interval, timeout, trace}  → {answers, errors}   (from inside that pod, the bed's or a controller's; not 2xx is an error)
//	POST   /route       {cluster, action: blackhole|restore}   (the router's route to that cluster's pods)
//	POST   /compact     {cluster}                               (etcd compacted to its latest revision)
//
// and the same from a shell: controlplane pod --dir DIR add|ready|unready|delete CLUSTER NAMESPACE NAME ...

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"mefi.dev/controlplane/podapp"
)

type podRequest struct {
	Cluster   string            `json:"cluster"`
	Namespace string            `json:"namespace"`
	Name      string            `json:"name"`
	Labels    map[string]string `json:"labels,omitempty"`
	Ports     []int             `json:"ports,omitempty"`
	Ready     *bool             `json:"ready,omitempty"`
	URL       string            `json:"url,omitempty"`
	Host      string            `json:"host,omitempty"`
	Count     int               `json:"count,omitempty"`
	Interval  string            `json:"interval,omitempty"`
	Timeout   string            `json:"timeout,omitempty"`
	Trace     bool              `json:"trace,omitempty"`
	Action    string            `json:"action,omitempty"`
}

type bed struct {
	dir      string
	clusters map[string]*cluster
	runners  map[string]podRunner
	net      *network // nil without --network
}

// podRunner runs the bed's pods on one cluster's node: the simulated kubelet
// (kubelet.go) or the real one's (realpods.go).
type podRunner interface {
	// add creates the pod, as its user does, and returns its IP once it runs.
	add(ctx context.Context, req podRequest) (string, error)
	// setReady makes the pod's readiness what it is told, and returns once the API server says so.
	setReady(ctx context.Context, namespace, name string, ready bool) error
	// remove deletes the pod at once, as `kubectl delete --force --grace-period=0`: the tests want it gone now.
	remove(ctx context.Context, namespace, name string) error
	// fetch sends HTTP requests from inside the pod.
	fetch(ctx context.Context, req podRequest) (podapp.Result, error)
}

func serveControl(ctx context.Context, dir string, clusters []*cluster, runners map[string]podRunner, n *network) (io.Closer, error) {
	b := &bed{dir: dir, clusters: map[string]*cluster{}, runners: runners, net: n}
	for _, c := range clusters {
		b.clusters[c.name] = c
	}
	sock := filepath.Join(dir, "bed.sock")
	os.Remove(sock)
	l, err := net.Listen("unix", sock)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /pods", b.handle(func(ctx context.Context, c *cluster, req podRequest) (any, error) {
		ip, err := b.runners[c.name].add(ctx, req)
		return map[string]string{"ip": ip}, err
	}))
	mux.HandleFunc("PUT /pods/ready", b.handle(func(ctx context.Context, c *cluster, req podRequest) (any, error) {
		return map[string]string{}, b.runners[c.name].setReady(ctx, req.Namespace, req.Name, req.Ready != nil && *req.Ready)
	}))
	mux.HandleFunc("DELETE /pods", b.handle(func(ctx context.Context, c *cluster, req podRequest) (any, error) {
		return map[string]string{}, b.runners[c.name].remove(ctx, req.Namespace, req.Name)
	}))
	mux.HandleFunc("POST /fetch", b.handle(func(ctx context.Context, c *cluster, req podRequest) (any, error) {
		if b.net == nil {
			return nil, fmt.Errorf("fetch needs the network (--network)")
		}
		return b.runners[c.name].fetch(ctx, req)
	}))
	mux.HandleFunc("POST /route", b.handle(b.route))
	mux.HandleFunc("POST /compact", b.handle(func(ctx context.Context, c *cluster, _ podRequest) (any, error) {
		rev, err := c.compact(ctx)
		return map[string]int64{"revision": rev}, err
	}))
	go http.Serve(l, mux)
	return l, nil
}

func (b *bed) handle(f func(context.Context, *cluster, podRequest) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req podRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c := b.clusters[req.Cluster]
		if c == nil {
			http.Error(w, fmt.Sprintf("no cluster %q", req.Cluster), http.StatusNotFound)
			return
		}
		out, err := f(r.Context(), c, req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	}
}

// ensureNamespace creates the pod's namespace if it is not there yet, as a test's user would.
func ensureNamespace(ctx context.Context, cs kubernetes.Interface, name string) error {
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// podPorts: the first port is named http (a Service's targetPort: http finds it), the others http-<port>.
func podPorts(req podRequest) []corev1.ContainerPort {
	var ports []corev1.ContainerPort
	for i, p := range req.Ports {
		name := "http"
		if i > 0 {
			name = fmt.Sprintf("http-%d", p)
		}
		ports = append(ports, corev1.ContainerPort{Name: name, ContainerPort: int32(p), Protocol: corev1.ProtocolTCP})
	}
	return ports
}

// fetchArgs are `fetch`'s flags for a request to the bed.
func fetchArgs(req podRequest) []string {
	count := req.Count
	if count <= 0 {
		count = 1
	}
	argv := []string{"--url", req.URL, "--count", strconv.Itoa(count)}
	if req.Host != "" {
		argv = append(argv, "--host", req.Host)
	}
	if req.Interval != "" {
		argv = append(argv, "--interval", req.Interval)
	}
	if req.Timeout != "" {
		argv = append(argv, "--timeout", req.Timeout)
	}
	if req.Trace {
		argv = append(argv, "--trace")
	}
	return argv
}

func (b *bed) route(ctx context.Context, c *cluster, req podRequest) (any, error) {
	if b.net == nil {
		return nil, fmt.Errorf("route needs the network (--network)")
	}
	return map[string]string{}, b.net.route(c, req.Action)
}

// runPodCLI: controlplane pod --dir DIR add|ready|unready|delete CLUSTER NAMESPACE NAME [--label k=v]... [--port N]...
// and controlplane pod --dir DIR fetch CLUSTER NAMESPACE NAME URL [--count N].
func runPodCLI(args []string) error {
	fs := flag.NewFlagSet("pod", flag.ContinueOnError)
	dir := fs.String("dir", "", "the directory make clusters wrote")
	var labels []string
	var ports podapp.IntList
	fs.Func("label", "a label k=v (repeatable)", func(s string) error { labels = append(labels, s); return nil })
	fs.Var(&ports, "port", "a port the pod answers on (repeatable)")
	count := fs.Int("count", 20, "fetch: requests")
	// Flags may come before and after the words: --dir DIR add CLUSTER NAMESPACE NAME [URL] --port 8080 ...
	var rest []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		rest, args = append(rest, fs.Arg(0)), fs.Args()[1:]
	}
	if *dir == "" || len(rest) < 4 {
		return fmt.Errorf("usage: controlplane pod --dir DIR add|ready|unready|delete|fetch CLUSTER NAMESPACE NAME [URL] [--label k=v] [--port N] [--count N]")
	}
	req := podRequest{Cluster: rest[1], Namespace: rest[2], Name: rest[3], Labels: map[string]string{}, Ports: ports, Count: *count}
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		req.Labels[k] = v
	}
	method, path := "", ""
	yes, no := true, false
	switch rest[0] {
	case "add":
		method, path = "POST", "/pods"
	case "ready":
		method, path, req.Ready = "PUT", "/pods/ready", &yes
	case "unready":
		method, path, req.Ready = "PUT", "/pods/ready", &no
	case "delete":
		method, path = "DELETE", "/pods"
	case "fetch":
		if len(rest) < 5 {
			return fmt.Errorf("fetch needs a URL")
		}
		method, path, req.URL = "POST", "/fetch", rest[4]
	default:
		return fmt.Errorf("unknown pod action %q", rest[0])
	}
	body, _ := json.Marshal(req)
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", filepath.Join(*dir, "bed.sock"))
	}}}
	r, _ := http.NewRequest(method, "http://bed"+path, bytes.NewReader(body))
	resp, err := client.Do(r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", strings.TrimSpace(string(out)))
	}
	os.Stdout.Write(out)
	return nil
}
