// Package podapp is what runs inside the bed's pods: the application the
// traffic tests balance (it answers HTTP with "<cluster> <pod>" and reports
// its readiness to the kubelet's probe), the HTTP client they send requests
// with, and a pause process for the pods' sandboxes. It is linked both into
// the bed's small static image binary (cmd/bed-app) and into the controlplane,
// which runs the client in network namespaces where there is no container.
package podapp

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// IntList is a repeatable integer flag.
type IntList []int

func (l *IntList) String() string { return fmt.Sprint(*l) }
func (l *IntList) Set(s string) error {
	v, err := strconv.Atoi(s)
	*l = append(*l, v)
	return err
}

// AdminPort is where a bed pod answers its readiness probe (GET /ready) and
// takes a new readiness (PUT /ready?ready=true|false), apart from the ports
// that are balanced, so that neither the probe nor the bed is counted as traffic.
const AdminPort = 9901

// Serve answers HTTP on every port with text until SIGTERM, ready (to the
// kubelet's probe) as told on the admin port.
func Serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	text := fs.String("text", "", `what every answer says ("<cluster> <pod>"); $POD_NAME is replaced by the environment's`)
	ready := fs.Bool("ready", true, "ready at start")
	var ports IntList
	fs.Var(&ports, "port", "a port to answer HTTP on (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	body := os.ExpandEnv(*text)
	var isReady atomic.Bool
	isReady.Store(*ready)
	for _, p := range ports {
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
		if err != nil {
			return err
		}
		go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, body) }))
	}
	admin := http.NewServeMux()
	admin.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		if !isReady.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	admin.HandleFunc("PUT /ready", func(w http.ResponseWriter, r *http.Request) {
		v, err := strconv.ParseBool(r.URL.Query().Get("ready"))
		if err != nil {
			http.Error(w, "ready=true|false", http.StatusBadRequest)
			return
		}
		isReady.Store(v)
	})
	l, err := net.Listen("tcp", fmt.Sprintf(":%d", AdminPort))
	if err != nil {
		return err
	}
	go http.Serve(l, admin)
	waitForSignal()
	return nil
}

// Pause holds a pod's sandbox until it is told to stop, as the pause image does.
func Pause() error {
	waitForSignal()
	return nil
}

func waitForSignal() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}

// Result is what Fetch prints: how often each answer came.
type Result struct {
	Answers   map[string]int `json:"answers"`
	Errors    int            `json:"errors"`
	LastError string         `json:"lastError,omitempty"`
	Trace     []TraceEntry   `json:"trace,omitempty"`
}

// TraceEntry is one request: sent at (Unix ms), answered by, or failed.
type TraceEntry struct {
	At     int64  `json:"at"`
	Answer string `json:"answer,omitempty"`
	Failed bool   `json:"failed,omitempty"`
}

// Fetch sends count requests, each on a new connection (so kube-proxy
// balances each one), interval apart, and prints how often each answer came,
// as JSON. An answer that is not 2xx (an ingress's 503) is an error.
func Fetch(args []string) error {
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
	result := Result{Answers: map[string]int{}}
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
			result.Trace = append(result.Trace, TraceEntry{At: sent.UnixMilli(), Answer: answer, Failed: err != nil})
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
