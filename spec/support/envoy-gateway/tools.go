//go:build tools

// Package envoygateway pins Envoy Gateway, the Gateway API implementation the
// ingress tests run as its users install it (make envoy-gateway): it reads the
// target cluster's Gateways, HTTPRoutes, Services, ServiceImports and
// EndpointSlices and programs the Envoy pods it deploys over xDS. A module of
// its own, so its dependencies never move the control plane's.
package envoygateway

import _ "github.com/envoyproxy/gateway/cmd/envoy-gateway"
