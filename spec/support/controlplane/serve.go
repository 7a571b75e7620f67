package main

// One cluster: an embedded etcd and a real kube-apiserver in this process.
// Feature gates, metrics registries and the signal handler are process-global
// in kube-apiserver, so the supervisor runs one of these per OS process.

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  users: ["system:apiserver"]
- level: None
  nonResourceURLs: ["/readyz*", "/healthz*", "/livez*", "/metrics", "/version", "/openapi/*", "/api", "/apis", "/apis/*"]
- level: Metadata
`

// The cluster's own network (kubelets, pods, services) is reached through the
// node's HTTP CONNECT proxy (inside.go serveConnect), as through Konnectivity.
const egressSelection = `apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: %s
`

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	dir := fs.String("dir", "", "this cluster's state directory (PKI already written)")
	port := fs.Int("port", 0, "kube-apiserver secure port")
	etcdClient := fs.Int("etcd-client-port", 0, "etcd client port")
	etcdPeer := fs.Int("etcd-peer-port", 0, "etcd peer port")
	egress := fs.String("egress", "", "with real nodes: the unix socket of the node's CONNECT proxy, the API server's way into the cluster's network")
	serviceAccounts := fs.Bool("service-accounts", false, "with real nodes: the ServiceAccount admission plugin, which gives every pod its ServiceAccount's token (the simulated kubelet mounts none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *port == 0 || *etcdClient == 0 || *etcdPeer == 0 {
		return fmt.Errorf("serve: --dir, --port, --etcd-client-port and --etcd-peer-port are required")
	}

	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", *etcdClient)
	if err := startEtcd(filepath.Join(*dir, "etcd"), etcdURL, fmt.Sprintf("http://127.0.0.1:%d", *etcdPeer)); err != nil {
		return fmt.Errorf("etcd: %w", err)
	}

	if err := os.WriteFile(filepath.Join(*dir, "audit-policy.yaml"), []byte(auditPolicy), 0o600); err != nil {
		return err
	}
	p := func(name string) string { return filepath.Join(*dir, name) }
	args = []string{
		"--etcd-servers=" + etcdURL,
		fmt.Sprintf("--secure-port=%d", *port),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--tls-cert-file=" + p("serving.crt"),
		"--tls-private-key-file=" + p("serving.key"),
		"--client-ca-file=" + p("ca.crt"),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + p("sa.pub"),
		"--service-account-signing-key-file=" + p("sa.key"),
		"--api-audiences=https://kubernetes.default.svc",
		"--authorization-mode=RBAC",
		"--token-auth-file=" + p("tokens.csv"),
		"--endpoint-reconciler-type=none",
		"--audit-policy-file=" + p("audit-policy.yaml"),
		"--audit-log-path=" + p("audit.log"),
		"--audit-log-mode=blocking",
		"--audit-log-maxbackup=0",
		"--profiling=false",
		"--cert-dir=" + p("cert"),
		// Real nodes (node.go): the kubelet by its InternalIP, through the node's CONNECT proxy, both sides authenticated.
		"--kubelet-client-certificate=" + p("kubelet-client.crt"),
		"--kubelet-client-key=" + p("kubelet-client.key"),
		"--kubelet-certificate-authority=" + p("ca.crt"),
		"--kubelet-preferred-address-types=InternalIP",
	}
	if !*serviceAccounts {
		args = append(args, "--disable-admission-plugins=ServiceAccount")
	}
	if *egress != "" {
		if err := os.WriteFile(p("egress.yaml"), []byte(fmt.Sprintf(egressSelection, *egress)), 0o600); err != nil {
			return err
		}
		args = append(args, "--egress-selector-config-file="+p("egress.yaml"))
	}
	cmd := app.NewAPIServerCommand()
	cmd.SetArgs(args)
	return cmd.Execute()
}

func startEtcd(dataDir, clientURL, peerURL string) error {
	cu, err := url.Parse(clientURL)
	if err != nil {
		return err
	}
	pu, err := url.Parse(peerURL)
	if err != nil {
		return err
	}
	cfg := embed.NewConfig()
	cfg.Name = "default"
	cfg.Dir = dataDir
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = true
	cfg.LogLevel = "error"
	cfg.Logger = "zap"
	cfg.LogOutputs = []string{filepath.Join(filepath.Dir(dataDir), "etcd.log")}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	select {
	case <-e.Server.ReadyNotify():
		return nil
	case <-time.After(60 * time.Second):
		e.Close()
		return fmt.Errorf("not ready after 60s")
	}
}
