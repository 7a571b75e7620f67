package main

// The bed's pods on a real node: real Pods of the bed's application image
// (podapp), bound to the node as a scheduler would bind them, started by the
// kubelet, ready when the kubelet's readiness probe says so. The bed turns a
// pod's readiness by telling the application (on its admin port, through the
// node's CONNECT proxy) and waits for the kubelet to report it; it sends a
// pod's requests by exec'ing the client in the pod's container, through the
// API server and the kubelet, as `kubectl exec` does.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"

	"mefi.dev/controlplane/podapp"
)

// bedAppImage is the bed's application image (cmd/bed-app), built here.
const bedAppImage = "mefi.dev/bed-app:v1"

type realPods struct {
	c     *cluster
	admin *kubernetes.Clientset
	cfg   *rest.Config
	// pods reaches pod IPs from the node's network, through its CONNECT proxy.
	pods *http.Client
}

func newRealPods(c *cluster) (*realPods, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(filepath.Dir(c.dir), c.name+".kubeconfig"))
	if err != nil {
		return nil, err
	}
	admin, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dial := func(ctx context.Context, _, addr string) (net.Conn, error) {
		return dialThrough(ctx, c.egressSocket(), addr)
	}
	pods := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
	return &realPods{c: c, admin: admin, cfg: cfg, pods: pods}, nil
}

// dialThrough opens a connection to addr through an HTTP CONNECT proxy on a unix socket.
func dialThrough(ctx context.Context, socket, addr string) (net.Conn, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", addr, addr)
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodConnect})
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("CONNECT %s: %s", addr, resp.Status)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

func (r *realPods) add(ctx context.Context, req podRequest) (string, error) {
	if err := ensureNamespace(ctx, r.admin, req.Namespace); err != nil {
		return "", err
	}
	ready := req.Ready == nil || *req.Ready
	args := []string{"serve", "--text", r.c.name + " " + req.Name, "--ready=" + strconv.FormatBool(ready)}
	for _, p := range req.Ports {
		args = append(args, "--port", strconv.Itoa(p))
	}
	no, grace := false, int64(1)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: req.Name, Namespace: req.Namespace, Labels: req.Labels},
		Spec: corev1.PodSpec{
			NodeName:           r.c.nodeName(),
			EnableServiceLinks: &no,
			// The application talks to no API server: no token to mount.
			AutomountServiceAccountToken:  &no,
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name: "app", Image: bedAppImage, ImagePullPolicy: corev1.PullNever, Args: args, Ports: podPorts(req),
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(podapp.AdminPort)}},
					PeriodSeconds: 1, FailureThreshold: 1, SuccessThreshold: 1, TimeoutSeconds: 1,
				},
			}},
		},
	}
	if _, err := r.admin.CoreV1().Pods(req.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return "", err
	}
	got, err := r.await(ctx, req.Namespace, req.Name, func(p *corev1.Pod) bool {
		return p.Status.PodIP != "" && podReady(p) == ready && running(p)
	})
	if err != nil {
		return "", err
	}
	return got.Status.PodIP, nil
}

// await polls the pod until ok says it is as wanted.
func (r *realPods) await(ctx context.Context, namespace, name string, ok func(*corev1.Pod) bool) (*corev1.Pod, error) {
	var pod *corev1.Pod
	var err error
	if werr := waitFor(90*time.Second, func() bool {
		pod, err = r.admin.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		return err == nil && ok(pod)
	}); werr != nil {
		if err == nil {
			b, _ := json.Marshal(pod.Status)
			err = fmt.Errorf("%s", b)
		}
		return nil, fmt.Errorf("pod %s/%s/%s not as wanted after 90s: %v (see %s)", r.c.name, namespace, name, err, filepath.Join(r.c.dir, "kubelet.log"))
	}
	return pod, nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func running(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, s := range p.Status.ContainerStatuses {
		if s.State.Running == nil {
			return false
		}
	}
	return true
}

func (r *realPods) setReady(ctx context.Context, namespace, name string, ready bool) error {
	pod, err := r.admin.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	url := fmt.Sprintf("http://%s/ready?ready=%t", net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(podapp.AdminPort)), ready)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, url, nil)
	resp, err := r.pods.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	_, err = r.await(ctx, namespace, name, func(p *corev1.Pod) bool { return podReady(p) == ready })
	return err
}

// remove deletes the pod at once and returns when its address answers no more (the kubelet has stopped it).
func (r *realPods) remove(ctx context.Context, namespace, name string) error {
	pod, err := r.admin.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	zero := int64(0)
	if err := r.admin.CoreV1().Pods(namespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if pod.Status.PodIP == "" {
		return nil
	}
	admin := net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(podapp.AdminPort))
	return waitFor(60*time.Second, func() bool {
		conn, err := dialThrough(ctx, r.c.egressSocket(), admin)
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
}

// fetch execs the bed's HTTP client in the pod's (first) container.
func (r *realPods) fetch(ctx context.Context, req podRequest) (podapp.Result, error) {
	var result podapp.Result
	exec := r.admin.CoreV1().RESTClient().Post().Resource("pods").Namespace(req.Namespace).Name(req.Name).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Command: append([]string{"/bed-app", "fetch"}, fetchArgs(req)...), Stdout: true, Stderr: true}, scheme.ParameterCodec)
	executor, err := remotecommand.NewSPDYExecutor(r.cfg, http.MethodPost, exec.URL())
	if err != nil {
		return result, err
	}
	var stdout, stderr bytes.Buffer
	if err := executor.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}); err != nil {
		return result, fmt.Errorf("exec fetch in %s/%s/%s: %v: %s", r.c.name, req.Namespace, req.Name, err, stderr.String())
	}
	return result, json.Unmarshal(stdout.Bytes(), &result)
}
