# Everything runs on the project's own Node 24 (node_modules/.bin/node, from
# the npm package "node") and builds the test control plane with the local Go.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export GOTOOLCHAIN := local
export GOFLAGS := -mod=mod

CACHE        := $(CURDIR)/.cache
CONTROLPLANE := $(CACHE)/bin/controlplane
CP_SRC       := $(wildcard spec/support/controlplane/*.go) spec/support/controlplane/go.mod spec/support/controlplane/go.sum
DIR          ?= $(CACHE)/clusters
TS_SRC       := $(shell find bin lib -name '*.ts' 2>/dev/null) tsconfig.json tsconfig.build.json

.PHONY: all deps build typecheck test test-unit test-integration clusters demo bench pack clean

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

KUBECTL      := $(CACHE)/bin/kubectl

$(CONTROLPLANE): $(CP_SRC)
	@echo "Building the test control plane (kube-apiserver + etcd + kubectl from Go modules; the first build takes a few minutes)..."
	cd spec/support/controlplane && go build -o $(CONTROLPLANE) .

# The same binary is kubectl when called by that name.
$(KUBECTL): $(CONTROLPLANE)
	ln -sf controlplane $@

controlplane: $(CONTROLPLANE) $(KUBECTL)

# Unit and property tests of the pure core, then integration tests against
# real API servers (started once for the whole run by spec/support/global-setup.ts).
test: build typecheck $(CONTROLPLANE) $(KUBECTL)
	MEFI_CONTROLPLANE=$(CONTROLPLANE) MEFI_KUBECTL=$(KUBECTL) node --test --test-global-setup=spec/support/global-setup.ts \
	  --test-timeout=300000 'spec/**/*.test.ts'

test-unit: build
	node --test 'spec/unit/**/*.test.ts' 'spec/property/**/*.test.ts'

# make clusters DIR=/tmp/k CLUSTERS="alpha beta": real control planes until Ctrl-C.
clusters: $(CONTROLPLANE)
	exec $(CONTROLPLANE) --dir $(DIR) --clusters "$(or $(CLUSTERS),alpha beta gamma)"

demo: build $(CONTROLPLANE) $(KUBECTL)
	MEFI_CONTROLPLANE=$(CONTROLPLANE) MEFI_KUBECTL=$(KUBECTL) node examples/demo/demo.ts

# make bench CLUSTERS=5 SERVICES=1000 ADDRESSES=10 SCALES="100 1000 3000": figures beside raw floors, JSON in bench-results/.
bench: build $(CONTROLPLANE)
	MEFI_CONTROLPLANE=$(CONTROLPLANE) CLUSTERS=$(or $(CLUSTERS),5) SERVICES=$(or $(SERVICES),1000) ADDRESSES=$(or $(ADDRESSES),10) \
	  node --max-old-space-size=4096 spec/bench/bench.ts

pack: build
	npm pack --silent

clean:
	rm -rf dist .cache node_modules *.tgz
