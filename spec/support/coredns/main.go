// Command coredns is CoreDNS from its own module (pinned in go.mod, at least
// 1.12.2: its kubernetes plugin serves the Multi-Cluster Services API's
// clusterset.local names), with the plugins a cluster's Corefile uses, as
// CoreDNS documents building it with a chosen set of plugins: a smaller
// binary, built in a fraction of the time of every plugin and its cloud SDKs.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

// The plugins in CoreDNS's own order (its plugin.cfg): a query passes them in this order, whatever the Corefile's.
func init() {
	dnsserver.Directives = []string{"ready", "health", "errors", "log", "cache", "kubernetes"}
}

func main() {
	coremain.Run()
}
