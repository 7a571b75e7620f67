//go:build tools

// The module's own secretreader plugin, built beside this one (make test).
package main

import _ "sigs.k8s.io/cluster-inventory-api/plugins/secretreader/cmd/plugin"
