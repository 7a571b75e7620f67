//go:build tools

// Package helm pins the helm CLI that make builds (make helm): the chart in
// manifests/helm is linted, rendered, installed and upgraded with it. A module
// of its own, so its dependencies never move the control plane's.
package helm

import _ "helm.sh/helm/v3/pkg/action"
