package main

// Per-cluster PKI: a CA, a serving certificate for 127.0.0.1, an admin client
// certificate in system:masters and the service-account signing key. Generated
// fresh for every start, so nothing secret is ever committed.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

type keyPair struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	keyPEM  []byte
}

func newKeyPair(tmpl *x509.Certificate, parent *keyPair) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(10 * 365 * 24 * time.Hour)
	signer, signerCert := key, tmpl
	if parent != nil {
		signer, signerCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, &key.PublicKey, signer)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &keyPair{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// pki is what the supervisor writes for one cluster and hands to its server.
type pki struct {
	ca, serving, admin *keyPair
	// The bed's own components, each with the identity it has in a real
	// cluster (bound by the API server's bootstrap RBAC), so the audit log
	// tells their calls from those of the clients under test.
	controllerManager, proxy, scheduler, kubelet *keyPair
}

// kubeletClientUser is the API server's identity towards kubelets (exec, logs, port-forward).
const kubeletClientUser = "kube-apiserver-kubelet-client"

func clientCert(ca *keyPair, user string, groups ...string) (*keyPair, error) {
	return newKeyPair(&x509.Certificate{
		Subject:     pkix.Name{CommonName: user, Organization: groups},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca)
}

func writePKI(dir, nodeName, nodeIP string) (*pki, error) {
	ca, err := newKeyPair(&x509.Certificate{
		Subject:               pkix.Name{CommonName: "mefi-test-ca"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil)
	if err != nil {
		return nil, err
	}
	serving, err := newKeyPair(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca)
	if err != nil {
		return nil, err
	}
	admin, err := clientCert(ca, "admin", "system:masters")
	if err != nil {
		return nil, err
	}
	controllerManager, err := clientCert(ca, "system:kube-controller-manager")
	if err != nil {
		return nil, err
	}
	proxy, err := clientCert(ca, "system:kube-proxy")
	if err != nil {
		return nil, err
	}
	scheduler, err := clientCert(ca, "system:kube-scheduler")
	if err != nil {
		return nil, err
	}
	// The node's kubelet, as the Node authorizer and NodeRestriction know it.
	kubelet, err := clientCert(ca, "system:node:"+nodeName, "system:nodes")
	if err != nil {
		return nil, err
	}
	// A real node's kubelet serves with a certificate of the cluster's CA for its address,
	// and the API server calls it with one the kubelet checks (node.go).
	kubeletServing, err := newKeyPair(&x509.Certificate{
		Subject:     pkix.Name{CommonName: nodeName},
		DNSNames:    []string{nodeName},
		IPAddresses: []net.IP{net.ParseIP(nodeIP)},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca)
	if err != nil {
		return nil, err
	}
	kubeletClient, err := clientCert(ca, kubeletClientUser)
	if err != nil {
		return nil, err
	}
	sa, err := newKeyPair(&x509.Certificate{Subject: pkix.Name{CommonName: "service-accounts"}}, ca)
	if err != nil {
		return nil, err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&sa.key.PublicKey)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"ca.crt":              ca.certPEM,
		"serving.crt":         serving.certPEM,
		"serving.key":         serving.keyPEM,
		"sa.key":              sa.keyPEM,
		"kubelet-serving.crt": kubeletServing.certPEM,
		"kubelet-serving.key": kubeletServing.keyPEM,
		"kubelet-client.crt":  kubeletClient.certPEM,
		"kubelet-client.key":  kubeletClient.keyPEM,
		"sa.pub":              pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub}),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	return &pki{ca: ca, serving: serving, admin: admin, controllerManager: controllerManager, proxy: proxy, scheduler: scheduler, kubelet: kubelet}, nil
}
