//go:build tools

// Package traefik pins the Traefik ingress controller that make builds (make
// traefik) for the ingress tests: its Ingress, IngressRoute (CRD) and Gateway
// API providers read the target's EndpointSlices, each with its own rule.
// A module of its own, so its dependencies never move the control plane's.
// A dependency's replace and exclude directives are ignored, so Traefik's are
// copied below its require, as its own go.mod has them (and its go.sum beside).
package traefik

import _ "github.com/traefik/traefik/v3/cmd/traefik"
