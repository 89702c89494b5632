# mcpfleet — every target runs on a Node >= 22.19. Where the system Node is older,
# a project-local Node 24 LTS (npm package node-linux-<arch>) is bootstrapped into
# .tools/ and put first on PATH, so nobody has to think about it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NODE_VERSION := 24.21.0
ARCH := $(shell uname -m | sed -e 's/x86_64/x64/' -e 's/aarch64/arm64/')
NODE_DIR := $(CURDIR)/.tools/node-v$(NODE_VERSION)
NODE_BIN := $(NODE_DIR)/node_modules/node-linux-$(ARCH)/bin
SYSTEM_NODE_OK := $(shell node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=19)?0:1)' >/dev/null 2>&1 && echo yes)

ifeq ($(SYSTEM_NODE_OK),yes)
NODE_STAMP :=
else
export PATH := $(NODE_BIN):$(PATH)
NODE_STAMP := $(NODE_BIN)/node
endif

DEPS_STAMP := node_modules/.package-lock.json

.PHONY: help node deps lint-deps lint format build typecheck control-plane redis jaeger test test-e2e cluster-up cluster-down test-unit test-proxy test-operator run bench-churn bench-proxy bench-http-proxy images clean

help: ## list targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 22

$(NODE_BIN)/node:
	@echo ">> bootstrapping Node $(NODE_VERSION) into $(NODE_DIR) (system node is $$(node --version 2>/dev/null || echo missing))"
	@mkdir -p $(NODE_DIR)
	npm install --no-save --no-package-lock --prefix $(NODE_DIR) node-linux-$(ARCH)@$(NODE_VERSION)

node: $(NODE_STAMP) ## bootstrap the project-local Node if the system one is too old
	@echo "node $$(node --version) at $$(command -v node)"

$(DEPS_STAMP): package.json package-lock.json $(NODE_STAMP)
	npm ci
	@touch $@

deps: $(DEPS_STAMP) ## install npm dependencies (npm ci)

# Lint tooling has its own package tree (tools/lint): typescript-eslint needs TypeScript 6's
# compiler API, and the project compiles with TypeScript 7.
LINT_STAMP := tools/lint/node_modules/.package-lock.json
LINT_BIN := tools/lint/node_modules/.bin

$(LINT_STAMP): tools/lint/package.json tools/lint/package-lock.json $(NODE_STAMP)
	npm ci --prefix tools/lint --no-audit --no-fund
	@touch $@

lint-deps: $(LINT_STAMP)

lint: deps lint-deps ## type-aware ESLint and a Prettier check over every TypeScript file
	$(LINT_BIN)/eslint -c tools/lint/eslint.config.js .
	$(LINT_BIN)/prettier --check '**/*.ts'

format: lint-deps ## rewrite every TypeScript file in Prettier's style, apply ESLint's safe fixes
	$(LINT_BIN)/prettier --write --log-level warn '**/*.ts'
	$(LINT_BIN)/eslint -c tools/lint/eslint.config.js --fix .

typecheck: deps ## tsc --noEmit over the whole project (sources, tests, benchmarks)
	npx tsc -p tsconfig.json

# dist/ is rebuilt only when a source it is compiled from changed (make compares times with
# the stamp), so `make run` starts at once the second time.
BUILD_SOURCES := $(shell find common proxyrunner/src operator/src -name '*.ts' ! -name '*.test.ts' 2>/dev/null) tsconfig.json tsconfig.build.json package.json
BUILD_STAMP := dist/.build-stamp

$(BUILD_STAMP): $(BUILD_SOURCES) $(DEPS_STAMP)
	npm run build
	@touch $@

build: $(BUILD_STAMP) ## compile to dist/ (what the images and benchmarks run), when sources changed

control-plane: ## build (or find via KUBEBUILDER_ASSETS) etcd, kube-apiserver, kcm, scheduler, kubectl, kwok, helm
	bash test/control-plane/build.sh

redis: ## put Debian's redis-server on the machine if missing (the session-storage tests start their own)
	bash test/support/install-redis.sh

jaeger: ## build Jaeger v2 (all-in-one) from Go modules into the test cache (the telemetry tests start their own)
	bash test/telemetry/jaeger.sh >/dev/null

test: deps lint typecheck control-plane redis jaeger ## the whole test suite (lint, types, unit, proxy end-to-end, operator on a real control plane), then test-e2e
	npm test
	$(MAKE) test-e2e

# A real one-node cluster (needs root): test/cluster/README.md.
cluster-up: deps ## start a real one-node cluster (kubelet, containerd, CNI, kube-proxy, CoreDNS) running our images
	bash test/cluster/cluster-up.sh

cluster-down: ## stop it and remove everything it made (processes, mounts, bridge, rules, sysctls)
	bash test/cluster/cluster-down.sh

test-e2e: deps ## cluster-up, the e2e suite (helm install, every transport, stdio attach, pod churn), cluster-down
	bash test/cluster/e2e.sh

test-unit: deps
	npm run test:unit

test-proxy: deps redis jaeger
	npm run test:proxy

test-operator: deps control-plane
	npm run test:operator

# --ignore-scripts skips npm's prestart (an unconditional rebuild): the stamp did what was needed.
run: $(BUILD_STAMP) ## the proxyrunner in front of server-everything (stdio), no cluster needed
	npm start --ignore-scripts

bench-churn: deps ## session churn: memory against sessions, 3 modes
	npm run bench:churn

bench-proxy: deps ## tools/call throughput and latency, direct vs through the proxy
	npm run bench:proxy

bench-http-proxy: deps ## http-proxy vs http-proxy-3 under client-disconnect churn and SSE
	npm run bench:http-proxy

# Images: one Dockerfile, two targets (see its header). Override IMAGE_REGISTRY, IMAGE_TAG,
# REVISION or CONTAINER_ENGINE (podman works too); the version label is package.json's.
IMAGE_REGISTRY ?= ghcr.io/mcpfleet
IMAGE_VERSION := $(shell sed -n -E 's/^  "version": "([^"]+)".*/\1/p' package.json)
IMAGE_TAG ?= $(IMAGE_VERSION)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
CONTAINER_ENGINE ?= docker

images: ## build ghcr.io/mcpfleet/{operator,proxyrunner}:<version> (needs a running container engine)
	@$(CONTAINER_ENGINE) info >/dev/null 2>&1 || { \
	  echo "make images: no container engine answers ('$(CONTAINER_ENGINE) info' failed)." >&2; \
	  echo "  Start the Docker daemon, or use another engine: make images CONTAINER_ENGINE=podman" >&2; \
	  exit 1; }
	$(CONTAINER_ENGINE) build --target operator -t $(IMAGE_REGISTRY)/operator:$(IMAGE_TAG) \
	  --build-arg VERSION=$(IMAGE_VERSION) --build-arg REVISION=$(REVISION) -f Dockerfile .
	$(CONTAINER_ENGINE) build --target proxyrunner -t $(IMAGE_REGISTRY)/proxyrunner:$(IMAGE_TAG) \
	  --build-arg VERSION=$(IMAGE_VERSION) --build-arg REVISION=$(REVISION) -f Dockerfile .

clean:
	rm -rf node_modules .tools dist

.PHONY: manifests
manifests: deps ## regenerate the CRD, the chart's crds/ copy and deploy/install.yaml (from charts/mcpfleet)
	npm run crd:generate
	npm run deploy:generate
