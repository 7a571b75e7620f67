package main

// The node of a bed cluster and its kubelet role. The Node is registered
// Ready, with capacity for the scheduler to fit pods to. The kubelet role
// runs every pod bound to the node, whether the bed made it (bed.sock) or a
// controller did (a Deployment's ReplicaSet, bound by kube-scheduler): a pod
// IP from the node's range, with --network a network namespace answering
// HTTP on the pod's container ports, and the status a kubelet reports. A pod
// deleted gracefully is stopped at once and its deletion confirmed (grace 0),
// as a kubelet does once the containers have exited. It calls as
// system:node:<node> (group system:nodes), bound to the bootstrap role
// system:node as the Node authorizer would allow it, so the audit log tells
// its writes from those of the clients under test.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"mefi.dev/controlplane/podapp"
)

// nodeNameOf is the one node of a bed cluster; its pods are bound to it.
func nodeNameOf(cluster string) string { return cluster + "-node" }

func (c *cluster) nodeName() string { return nodeNameOf(c.name) }

// nodeIP is the node's address on its link to the router (see network.go).
func (c *cluster) nodeIP() string { return nodeIPOf(c.index) }

func nodeIPOf(index int) string { return fmt.Sprintf("10.255.%d.2", index) }

// podCIDR is this cluster's pod range: 10.244.<index+1>.0/24.
func (c *cluster) podCIDR() string { return fmt.Sprintf("10.244.%d.0/24", c.index+1) }

// Pod IPs are 10.244.<index+1>.<firstHost..lastHost>: room for maxPods.
const firstHost, lastHost = 10, 254
const maxPods = lastHost - firstHost + 1

// registerNode creates the cluster's Node, Ready with an InternalIP (the
// EndpointSlice controller skips pods on nodes it does not know, and
// kube-proxy waits for its Node's address), the labels a kubelet sets, and
// capacity (the scheduler's resource fit); and binds the node's kubelet
// identity to its bootstrap role.
func (c *cluster) registerNode(ctx context.Context) error {
	cs, err := c.clientset()
	if err != nil {
		return err
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "system:node:" + c.nodeName()},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:node"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "system:node:" + c.nodeName()}}}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	labels := map[string]string{"kubernetes.io/hostname": c.nodeName(), "kubernetes.io/os": runtime.GOOS, "kubernetes.io/arch": runtime.GOARCH}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: c.nodeName(), Labels: labels},
		Spec: corev1.NodeSpec{PodCIDR: c.podCIDR(), PodCIDRs: []string{c.podCIDR()}}}
	created, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = cs.CoreV1().Nodes().Get(ctx, c.nodeName(), metav1.GetOptions{})
	}
	if err != nil {
		return err
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("4"),
		corev1.ResourceMemory: resource.MustParse("8Gi"),
		corev1.ResourcePods:   *resource.NewQuantity(maxPods, resource.DecimalSI),
	}
	created.Status.Capacity, created.Status.Allocatable = capacity, capacity
	created.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: c.nodeIP()}, {Type: corev1.NodeHostName, Address: c.nodeName()}}
	created.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	updated, err := cs.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	// The admission plugin TaintNodesByCondition taints a new node not-ready;
	// the node lifecycle controller lifts the taint once the node is Ready. It
	// is not run (nothing heartbeats: it would evict every pod), so the bed
	// lifts it, or the scheduler would place nothing here.
	updated.Spec.Taints = nil
	_, err = cs.CoreV1().Nodes().Update(ctx, updated, metav1.UpdateOptions{})
	return err
}

type kubelet struct {
	c     *cluster
	cs    kubernetes.Interface // as system:node:<node>
	admin kubernetes.Interface // as the user who creates and deletes the bed's pods
	net   *network             // nil without --network
	// One pod started or stopped at a time: a name's network namespace and
	// an IP are never two pods' at once.
	mu   sync.Mutex
	pods map[string]*podRun // by namespace/name: what this node runs
	used map[int]bool       // host parts of pod IPs in use
	next int                // the host part tried first
}

type podRun struct {
	uid  types.UID
	ip   string
	host int // its host part in the pod range; 0 for a hostNetwork pod (the node's address)
}

func newKubelet(c *cluster, n *network) (*kubelet, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(c.dir, "kubelet.kubeconfig"))
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	admin, err := c.clientset()
	if err != nil {
		return nil, err
	}
	return &kubelet{c: c, cs: cs, admin: admin, net: n, pods: map[string]*podRun{}, used: map[int]bool{}, next: firstHost}, nil
}

// watch runs the pods bound to the node as they come, until ctx ends; it
// returns once it has seen every pod that was there. A failed start is tried
// again at the informer's resync.
func (k *kubelet) watch(ctx context.Context) error {
	factory := informers.NewSharedInformerFactoryWithOptions(k.cs, 10*time.Second,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName=" + k.c.nodeName() }))
	inf := factory.Core().V1().Pods().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { k.sync(ctx, obj.(*corev1.Pod)) },
		UpdateFunc: func(_, obj any) { k.sync(ctx, obj.(*corev1.Pod)) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				k.stop(pod.Namespace, pod.Name, pod.UID)
			}
		},
	})
	if err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return fmt.Errorf("%s: kubelet: pods not listed", k.c.name)
	}
	return nil
}

func (k *kubelet) sync(ctx context.Context, pod *corev1.Pod) {
	if pod.DeletionTimestamp != nil {
		k.stop(pod.Namespace, pod.Name, pod.UID)
		zero := int64(0)
		err := k.cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &pod.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && ctx.Err() == nil {
			fmt.Fprintf(os.Stderr, "controlplane: %s: kubelet: delete %s/%s: %v\n", k.c.name, pod.Namespace, pod.Name, err)
		}
		return
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if r := k.pods[pod.Namespace+"/"+pod.Name]; r != nil && r.uid == pod.UID {
		return // running
	}
	if _, err := k.startLocked(ctx, pod, true); err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "controlplane: %s: kubelet: start %s/%s: %v\n", k.c.name, pod.Namespace, pod.Name, err)
	}
}

// startNew creates a pod (as its user does) and starts it, under the lock
// so that the watch, seeing it, leaves it to this call. It returns the pod's IP.
func (k *kubelet) startNew(ctx context.Context, create func() (*corev1.Pod, error), ready bool) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	pod, err := create()
	if err != nil {
		return "", err
	}
	return k.startLocked(ctx, pod, ready)
}

func (k *kubelet) startLocked(ctx context.Context, pod *corev1.Pod, ready bool) (string, error) {
	key := pod.Namespace + "/" + pod.Name
	if r := k.pods[key]; r != nil {
		// Another pod of that name ran here: the API server holds one per name, so it is gone.
		k.stopLocked(key)
	}
	r := &podRun{uid: pod.UID, ip: k.c.nodeIP()}
	if !pod.Spec.HostNetwork {
		host, err := k.allocate()
		if err != nil {
			return "", err
		}
		r.ip, r.host = fmt.Sprintf("10.244.%d.%d", k.c.index+1, host), host
	}
	k.pods[key] = r
	if k.net != nil && r.host != 0 {
		if err := k.net.addPod(k.c, pod.Namespace, pod.Name, r.ip, containerPorts(pod)); err != nil {
			k.stopLocked(key)
			return "", err
		}
	}
	pods := k.cs.CoreV1().Pods(pod.Namespace)
	cur := pod.DeepCopy()
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		now := metav1.Now()
		cur.Status.Phase = corev1.PodRunning
		cur.Status.PodIP, cur.Status.PodIPs = r.ip, []corev1.PodIP{{IP: r.ip}}
		cur.Status.HostIP, cur.Status.HostIPs = k.c.nodeIP(), []corev1.HostIP{{IP: k.c.nodeIP()}}
		cur.Status.StartTime = &now
		setReadiness(cur, ready)
		_, err := pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			// Another writer (the scheduler's condition): read it again, the same pod or none.
			fresh, gerr := pods.Get(ctx, pod.Name, metav1.GetOptions{})
			if gerr != nil {
				return gerr
			}
			if fresh.UID != pod.UID {
				return apierrors.NewNotFound(corev1.Resource("pods"), pod.Name)
			}
			cur = fresh
		}
		return err
	})
	if err != nil {
		k.stopLocked(key)
		return "", err
	}
	return r.ip, nil
}

// containerPorts are the TCP ports the pod's containers declare: its namespace answers HTTP on them.
func containerPorts(pod *corev1.Pod) []int {
	var ports []int
	seen := map[int32]bool{}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if (p.Protocol == "" || p.Protocol == corev1.ProtocolTCP) && !seen[p.ContainerPort] {
				seen[p.ContainerPort] = true
				ports = append(ports, int(p.ContainerPort))
			}
		}
	}
	return ports
}

// stop ends the pod of that name, if it is still the one with uid (any, if uid is empty).
func (k *kubelet) stop(namespace, name string, uid types.UID) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if r := k.pods[namespace+"/"+name]; r != nil && (uid == "" || r.uid == uid) {
		k.stopLocked(namespace + "/" + name)
	}
}

// stopLocked removes the pod's network namespace and gives its IP back.
func (k *kubelet) stopLocked(key string) {
	r := k.pods[key]
	if r == nil {
		return
	}
	delete(k.pods, key)
	delete(k.used, r.host)
	if k.net != nil && r.host != 0 {
		namespace, name, _ := strings.Cut(key, "/")
		k.net.deletePod(k.c, namespace, name)
	}
}

// allocate gives the next free address of the pod range after the last one
// given: an address comes back only after the range has gone round, so a
// deleted pod's address is not at once another's (kube-proxy, conntrack and
// the tests would mistake one for the other).
func (k *kubelet) allocate() (int, error) {
	for i := 0; i < maxPods; i++ {
		host := firstHost + (k.next-firstHost+i)%maxPods
		if !k.used[host] {
			k.used[host] = true
			k.next = host + 1
			return host, nil
		}
	}
	return 0, fmt.Errorf("cluster %s: pod range %s is full", k.c.name, k.c.podCIDR())
}

// setReady reports a pod's readiness, as a kubelet does when its probe's answer changes.
func (k *kubelet) setReady(ctx context.Context, namespace, name string, ready bool) error {
	pods := k.cs.CoreV1().Pods(namespace)
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		pod, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		setReadiness(pod, ready)
		_, err = pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
}

// setReadiness writes the conditions and container statuses a kubelet reports
// for a running pod: every container running (ready or not), every init
// container done.
func setReadiness(pod *corev1.Pod, ready bool) {
	now := metav1.Now()
	cond := corev1.ConditionFalse
	if ready {
		cond = corev1.ConditionTrue
	}
	status := &pod.Status
	status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: cond, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: cond, LastTransitionTime: now},
	}
	status.ContainerStatuses, status.InitContainerStatuses = nil, nil
	for _, c := range pod.Spec.Containers {
		status.ContainerStatuses = append(status.ContainerStatuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: c.Image, Ready: ready, Started: &ready,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}})
	}
	no := false
	for _, c := range pod.Spec.InitContainers {
		status.InitContainerStatuses = append(status.InitContainerStatuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: c.Image, Ready: true, Started: &no,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed", StartedAt: now, FinishedAt: now}}})
	}
}

// add runs a pod of the bed's: bound to the node, answering HTTP on its ports (with the network).
func (k *kubelet) add(ctx context.Context, req podRequest) (string, error) {
	if err := ensureNamespace(ctx, k.admin, req.Namespace); err != nil {
		return "", err
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: req.Name, Namespace: req.Namespace, Labels: req.Labels},
		Spec:       corev1.PodSpec{NodeName: k.c.nodeName(), Containers: []corev1.Container{{Name: "app", Image: "mefi.dev/bed-pod", Ports: podPorts(req)}}},
	}
	return k.startNew(ctx, func() (*corev1.Pod, error) {
		return k.admin.CoreV1().Pods(req.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	}, req.Ready == nil || *req.Ready)
}

func (k *kubelet) remove(ctx context.Context, namespace, name string) error {
	zero := int64(0)
	err := k.admin.CoreV1().Pods(namespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	k.stop(namespace, name, "")
	return nil
}

// fetch runs the bed's HTTP client in the pod's network namespace.
func (k *kubelet) fetch(ctx context.Context, req podRequest) (podapp.Result, error) {
	var result podapp.Result
	pid := k.net.podPid(k.c, req.Namespace, req.Name)
	if pid == 0 {
		return result, fmt.Errorf("no pod %s/%s/%s", k.c.name, req.Namespace, req.Name)
	}
	argv := append([]string{"--net=/proc/" + strconv.Itoa(pid) + "/ns/net", "--", k.net.self, "fetch"}, fetchArgs(req)...)
	out, err := exec.CommandContext(ctx, "nsenter", argv...).Output()
	if err != nil {
		return result, fmt.Errorf("fetch: %v", err)
	}
	return result, json.Unmarshal(out, &result)
}
