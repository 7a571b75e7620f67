//go:build tools

// Package contour pins the Contour ingress controller that make builds (make
// contour) for the ingress tests: it reads the target cluster's HTTPProxy,
// Ingress and EndpointSlices and programs Envoy over xDS. A module of its own,
// so its dependencies never move the control plane's.
package contour

import _ "github.com/projectcontour/contour/cmd/contour"
