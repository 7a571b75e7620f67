// mefi-token-plugin: a client-go exec credential plugin that hands out
// short-lived ServiceAccount tokens (TokenRequest), for the bed's
// ClusterProfile access provider. It stands in for a cluster manager's token
// service (Open Cluster Management's managed-serviceaccount add-on does this
// job in a real fleet): none of the plugins in sigs.k8s.io/cluster-inventory-api
// issues tokens (secretreader and kubeconfig-secretreader read stored ones),
// so this one is built on that module's own plugin frame
// (pkg/credentialplugin: KUBERNETES_EXEC_INFO in, ExecCredential out).
//
// Per cluster (the profile's client.authentication.k8s.io/exec extension):
//
//	{"clusterName": "alpha", "namespace": "mefi-system", "serviceAccount": "mefi", "lifetimeSeconds": 30}
//
// Each token is bound to a Secret of its own (label mefi.dev/token-plugin),
// which carries the token's advertised expiry (annotation
// mefi.dev/expires-at): the API server accepts the token until that Secret
// is deleted, so a test that deletes the Secrets past their expiry makes the
// server's token lifetime as short as lifetimeSeconds (TokenRequest itself
// asks at least ten minutes). The plugin reaches each cluster with the
// kubeconfig $MEFI_TOKEN_PLUGIN_KUBECONFIGS/<clusterName>.kubeconfig, and
// appends one JSON line per token to $MEFI_TOKEN_PLUGIN_LOG: the cluster, the
// token's JTI (what the audit log shows as its credential id) and when it
// was issued.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	clientauthenticationv1 "k8s.io/client-go/pkg/apis/clientauthentication/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/cluster-inventory-api/pkg/credentialplugin"
)

type provider struct{}

func (provider) Name() string { return "mefi-token" }

type clusterConfig struct {
	ClusterName     string `json:"clusterName"`
	Namespace       string `json:"namespace"`
	ServiceAccount  string `json:"serviceAccount"`
	LifetimeSeconds int64  `json:"lifetimeSeconds"`
}

// jwtClaims reads the token's own claims (unverified: they are only logged).
func jwtClaims(token string) (jti string, iat int64) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", 0
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", 0
	}
	var c struct {
		JTI string `json:"jti"`
		IAT int64  `json:"iat"`
	}
	_ = json.Unmarshal(raw, &c)
	return c.JTI, c.IAT
}

func (provider) GetToken(ctx context.Context, info clientauthenticationv1.ExecCredential) (clientauthenticationv1.ExecCredentialStatus, error) {
	var cfg clusterConfig
	if info.Spec.Cluster == nil || len(info.Spec.Cluster.Config.Raw) == 0 {
		return clientauthenticationv1.ExecCredentialStatus{}, errors.New("no cluster config: give the profile a client.authentication.k8s.io/exec extension and the provider provideClusterInfo")
	}
	if err := json.Unmarshal(info.Spec.Cluster.Config.Raw, &cfg); err != nil {
		return clientauthenticationv1.ExecCredentialStatus{}, fmt.Errorf("cluster config: %w", err)
	}
	if cfg.ClusterName == "" || cfg.Namespace == "" || cfg.ServiceAccount == "" {
		return clientauthenticationv1.ExecCredentialStatus{}, errors.New("cluster config needs clusterName, namespace and serviceAccount")
	}
	if cfg.LifetimeSeconds <= 0 {
		cfg.LifetimeSeconds = 600
	}
	kubeconfig := filepath.Join(os.Getenv("MEFI_TOKEN_PLUGIN_KUBECONFIGS"), cfg.ClusterName+".kubeconfig")
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return clientauthenticationv1.ExecCredentialStatus{}, fmt.Errorf("kubeconfig of %s: %w", cfg.ClusterName, err)
	}
	// The cluster the consumer asked about is the one the token is for.
	if rc.Host != info.Spec.Cluster.Server {
		return clientauthenticationv1.ExecCredentialStatus{}, fmt.Errorf("asked for %s, but %s is %s", info.Spec.Cluster.Server, cfg.ClusterName, rc.Host)
	}
	kc, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return clientauthenticationv1.ExecCredentialStatus{}, err
	}
	expires := time.Now().Add(time.Duration(cfg.LifetimeSeconds) * time.Second).UTC()
	secret, err := kc.CoreV1().Secrets(cfg.Namespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:        "mefi-token-" + rand.String(8),
			Labels:      map[string]string{"mefi.dev/token-plugin": cfg.ServiceAccount},
			Annotations: map[string]string{"mefi.dev/expires-at": expires.Format(time.RFC3339)},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return clientauthenticationv1.ExecCredentialStatus{}, fmt.Errorf("the Secret to bind the token to: %w", err)
	}
	minimum := int64(600) // TokenRequest's floor; the Secret's deletion ends the token sooner
	tr, err := kc.CoreV1().ServiceAccounts(cfg.Namespace).CreateToken(ctx, cfg.ServiceAccount, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: &minimum,
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Secret", APIVersion: "v1", Name: secret.Name, UID: secret.UID},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return clientauthenticationv1.ExecCredentialStatus{}, fmt.Errorf("TokenRequest for %s/%s: %w", cfg.Namespace, cfg.ServiceAccount, err)
	}
	jti, iat := jwtClaims(tr.Status.Token)
	if log := os.Getenv("MEFI_TOKEN_PLUGIN_LOG"); log != "" {
		line, _ := json.Marshal(map[string]any{"cluster": cfg.ClusterName, "jti": jti, "iat": iat, "secret": secret.Name, "expires": expires.Format(time.RFC3339)})
		f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			_, _ = f.Write(append(line, '\n'))
			_ = f.Close()
		}
	}
	exp := metav1.NewTime(expires)
	return clientauthenticationv1.ExecCredentialStatus{Token: tr.Status.Token, ExpirationTimestamp: &exp}, nil
}

func main() { credentialplugin.Run(provider{}) }
