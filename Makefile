# Atrium: `make run` to try it, `make test` to check it.
SHELL := /bin/bash
.DEFAULT_GOAL := run

# Builds are slow on small machines: keep one target dir outside the clone so
# fresh checkouts (CI) reuse it. Override to build elsewhere.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/atrium-target
# Incremental caches only pay off while editing, and they grow without bound
# in a shared target directory; `make` builds from scratch state each time.
export CARGO_INCREMENTAL ?= 0
CARGO_LEPTOS_VERSION := 0.3.10
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ {getline; gsub(/"/, "", $$3); print $$3; exit}' Cargo.lock)
TOOLS := $(CURDIR)/.tools
export PATH := $(TOOLS)/node_modules/.bin:$(or $(CARGO_HOME),$(HOME)/.cargo)/bin:$(PATH)
BIN := $(CARGO_TARGET_DIR)/release/atrium
# The debug server: `make run` serves it, and `cargo test` builds the very
# same one for the integration tests (same features, see `devtools` in
# Cargo.toml), so Playwright and the SDK clients run against it too. A
# newcomer's `make run` then `make test` build the server once, and
# neither builds every dependency a second time, optimised.
DEV_BIN := $(CARGO_TARGET_DIR)/debug/atrium
SITE := $(CURDIR)/target/site
PY := $(CURDIR)/.venv/bin/python
SWAGGER_UI := public/swagger/swagger-ui-bundle.js

# PostgreSQL tests run when a server answers here; otherwise they report skipped.
PG_URL ?= postgres://postgres@127.0.0.1:5432/postgres
export ATRIUM_TEST_POSTGRES_URL ?= $(shell pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo $(PG_URL))
# Redis-backed rate limiting is tested when a server answers here.
export ATRIUM_TEST_REDIS_URL ?= $(shell redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG && echo redis://127.0.0.1:6379)

.PHONY: run build release server dev test-server site tools watch-tools test lint unit e2e e2e-deps clients bench clean-data help
# A step that fails leaves no half-made file behind to pass for done (a
# bound but unshrunk bundle, say).
.DELETE_ON_ERROR:

help:
	@echo "make run    install what is missing, build (debug server, release bundle) and serve on http://127.0.0.1:3000"
	@echo "            make run RELEASE=1 serves the optimised server (make build)"
	@echo "make test   fmt, clippy (ssr + hydrate), unit + integration tests (SQLite, PostgreSQL), Playwright"

# The demo provider (`atrium mock-upstream`) runs beside the server and stops with it.
DEMO_UPSTREAM ?= 127.0.0.1:9099
# A cold optimised build of the server took 12 of a cold `make run`'s 18
# minutes here; the debug build takes about 40% of that, and is the
# one `make test` needs anyway. `make run RELEASE=1` serves the optimised
# server, as `make bench` measures it (`true` and `yes` say the same).
ifneq ($(filter 1 true yes,$(RELEASE)),)
RUN_BIN := $(BIN)
run: build
else
RUN_BIN := $(DEV_BIN)
run: site dev
endif
run:
	@$(RUN_BIN) mock-upstream --addr $(DEMO_UPSTREAM) >/dev/null 2>&1 & mock=$$!; \
	trap 'kill $$mock 2>/dev/null' EXIT INT TERM; \
	LEPTOS_SITE_ROOT=$(SITE) ATRIUM_DEMO_UPSTREAM=$(DEMO_UPSTREAM) $(RUN_BIN) serve

# make run, test and bench need the mock provider, load generator and
# benches (`devtools`); `make release` builds what operators deploy.
# What cargo-leptos does, with cargo and two tools, so a fresh machine does
# not compile cargo-leptos first: the hydrate bundle (the library for
# wasm32, then wasm-bindgen and wasm-opt), the stylesheet and the assets
# into $(SITE), then the server. `cargo leptos watch` stays the
# optional loop for portal work (see README).
#
# The bundle builds in a target directory of its own (FRONT_TARGET_DIR), as
# with cargo-leptos, so its build never waits on the server's lock. The two
# run one after the other: side by side (`make -j2 site server`) a cold
# build on this 2-core machine took longer, not shorter (both are CPU-bound).
FRONT_TARGET_DIR := $(CARGO_TARGET_DIR)/front
WASM := $(FRONT_TARGET_DIR)/wasm32-unknown-unknown/wasm-release/atrium.wasm
PKG := $(SITE)/pkg
SERVER_FEATURES := ssr,devtools

build: site
	@$(MAKE) --no-print-directory server

release: site
	@$(MAKE) --no-print-directory server SERVER_FEATURES=ssr

server:
	cargo build --release --bin atrium --no-default-features --features $(SERVER_FEATURES)
	@test -x $(BIN) || { echo "expected server binary at $(BIN)"; exit 1; }

dev:
	cargo build --bin atrium --features ssr,devtools
	@test -x $(DEV_BIN) || { echo "expected the debug server at $(DEV_BIN)"; exit 1; }

# cargo leaves an up-to-date library untouched, so the bundle is bound and
# optimised again only when the library changed (a warm `make run` skips it).
site: tools
	CARGO_TARGET_DIR=$(FRONT_TARGET_DIR) cargo build --lib --profile wasm-release --target wasm32-unknown-unknown --no-default-features --features hydrate
	@$(MAKE) --no-print-directory $(PKG)/atrium.wasm $(PKG)/atrium.css
	@cp -R public/. $(SITE)/

$(PKG)/atrium.wasm: $(WASM)
	@mkdir -p $(PKG)
	wasm-bindgen --target=web --no-typescript --out-name=atrium --out-dir=$(PKG) $(WASM)
	mv -f $(PKG)/atrium_bg.wasm $@
	wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int $@ -o $@

$(PKG)/atrium.css: style/main.css
	@mkdir -p $(PKG)
	cp $< $@

## Tools: each is installed only when missing or at the wrong version.
tools: $(TOOLS)/.wasm-target $(TOOLS)/.wasm-bindgen-$(WASM_BINDGEN_VERSION) $(TOOLS)/node_modules/.bin/wasm-opt $(SWAGGER_UI)

# Only for `cargo leptos watch` (live reload while working on the portal);
# nothing else needs it.
watch-tools: tools $(TOOLS)/.cargo-leptos

# A toolchain that already has the target (one not managed by rustup, say)
# needs no rustup.
$(TOOLS)/.wasm-target:
	@mkdir -p $(TOOLS)
	@test -d "$$(rustc --print sysroot)/lib/rustlib/wasm32-unknown-unknown" || rustup target add wasm32-unknown-unknown
	@touch $@

$(TOOLS)/.cargo-leptos:
	@mkdir -p $(TOOLS)
	@cargo leptos --version 2>/dev/null | grep -q "$(CARGO_LEPTOS_VERSION)" || \
	  cargo install cargo-leptos --version $(CARGO_LEPTOS_VERSION) --locked --features no_downloads
	@touch $@

# No --locked: one of wasm-bindgen-cli's locked dependencies is missing
# from the registry here. It runs once per bundle, for a second or two, so
# it is built at opt-level 1 with many codegen units: a fresh machine
# waits about a minute less for it.
$(TOOLS)/.wasm-bindgen-$(WASM_BINDGEN_VERSION):
	@mkdir -p $(TOOLS)
	@wasm-bindgen --version 2>/dev/null | grep -q "$(WASM_BINDGEN_VERSION)" || \
	  CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_CODEGEN_UNITS=64 \
	  cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)
	@touch $@

$(TOOLS)/node_modules/.bin/wasm-opt:
	@mkdir -p $(TOOLS)
	cd $(TOOLS) && npm install --no-audit --no-fund --silent binaryen@132.0.0

# The admin API's interactive reference (/admin/v1/docs): Swagger UI from the
# npm registry, served by Atrium itself with the site's files, never a CDN.
$(SWAGGER_UI):
	@mkdir -p $(TOOLS) public/swagger
	cd $(TOOLS) && npm install --no-audit --no-fund --silent swagger-ui-dist@5.35.0
	cp $(TOOLS)/node_modules/swagger-ui-dist/swagger-ui-bundle.js $(TOOLS)/node_modules/swagger-ui-dist/swagger-ui.css \
	   $(TOOLS)/node_modules/swagger-ui-dist/LICENSE public/swagger/

## Checks
TEST_LOG := $(CARGO_TARGET_DIR)/make-test.log

test: lint unit e2e clients
	@skipped=$$(grep -ho '[0-9]* ignored' $(TEST_LOG) 2>/dev/null | awk '{s+=$$1} END {print s+0}'); \
	echo "make test: all checks passed ($$skipped tests skipped: see SKIPPED lines above)"

# The hydrate check needs the wasm target: a fresh machine gets it here
# rather than failing before anything was built.
lint: $(TOOLS)/.wasm-target
	cargo fmt --check
	python3 .ci/import_cycles.py
	cargo clippy --features ssr,devtools --all-targets -- -D warnings
	cargo clippy --features ssr --lib --bins -- -D warnings
	cargo clippy --lib --features hydrate --target wasm32-unknown-unknown -- -D warnings

unit:
	@if [ -z "$$ATRIUM_TEST_POSTGRES_URL" ]; then echo "NOTE: ATRIUM_TEST_POSTGRES_URL unset and no PostgreSQL on 127.0.0.1:5432: PostgreSQL tests will be reported as skipped"; fi
	@if [ -z "$$ATRIUM_TEST_REDIS_URL" ]; then echo "NOTE: ATRIUM_TEST_REDIS_URL unset and no Redis on 127.0.0.1:6379: the Redis rate-limit test will be reported as skipped"; fi
	@mkdir -p $(CARGO_TARGET_DIR)
	set -o pipefail; cargo test --features ssr,devtools 2>&1 | tee $(TEST_LOG)
	@grep -h '^SKIPPED' $(TEST_LOG) | sort -u || true

e2e-deps:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	@test -d end2end/node_modules/@playwright/test || (cd end2end && npm ci --no-audit --no-fund --silent)

# The same build `unit` ran its tests with (nothing to do after it); alone,
# `make e2e` or `make clients` builds it.
test-server:
	cargo test --features ssr,devtools --no-run
	@test -x $(DEV_BIN) || { echo "expected the test build's server at $(DEV_BIN)"; exit 1; }

e2e: site test-server e2e-deps
	cd end2end && ATRIUM_BIN=$(DEV_BIN) LEPTOS_SITE_ROOT=$(SITE) npx playwright test

# The official Python SDKs as clients of the test build.
$(PY):
	python3 -m venv .venv
	.venv/bin/pip install -q -r tests/clients/requirements.txt

# The official OpenFeature JavaScript SDK and OFREP provider (npm), driven by pytest.
JS_CLIENTS := tests/clients/js/node_modules/@openfeature/ofrep-provider
$(JS_CLIENTS):
	cd tests/clients/js && npm ci --no-audit --no-fund --silent

clients: test-server $(PY) $(JS_CLIENTS)
	ATRIUM_BIN=$(DEV_BIN) $(PY) -m pytest -q tests/clients

# Benchmarks: a separate command, never part of `make test`. The first
# prints the side-by-side table (direct, nginx, Atrium on SQLite and
# PostgreSQL, LiteLLM) and keeps it in bench/RESULTS.md.
LITELLM := $(CURDIR)/.venv/bin/litellm
$(LITELLM): $(PY)
	.venv/bin/pip install -q 'litellm[proxy]==1.108.7'

bench: build $(LITELLM)
	@command -v wrk >/dev/null || echo "NOTE: wrk not installed (apt-get install wrk): atrium loadgen drives the load instead"
	@command -v nginx >/dev/null || echo "NOTE: nginx not installed (apt-get install nginx-light): its row is skipped"
	ATRIUM_BIN=$(BIN) LITELLM=$(LITELLM) python3 bench/side_by_side.py
	ATRIUM_BIN=$(BIN) bench/gateway.sh
	ATRIUM_BIN=$(BIN) bench/tenants.sh
	ATRIUM_BIN=$(BIN) bench/governance.sh
	ATRIUM_BIN=$(BIN) bench/stream.sh
	ATRIUM_BIN=$(BIN) bench/flags.sh
	ATRIUM_BIN=$(BIN) bench/budgets.sh
	ATRIUM_BIN=$(BIN) bench/dashboards.sh
	ATRIUM_BIN=$(BIN) bench/custom_models.sh
	ATRIUM_BIN=$(BIN) bench/compliance.sh
	ATRIUM_BIN=$(BIN) bench/admin_api.sh
	ATRIUM_BIN=$(BIN) ATRIUM_BIN_BEFORE=$(ATRIUM_BIN_BEFORE) bench/spool.sh
	ATRIUM_BIN=$(BIN) bench/replicas.sh
	ATRIUM_BIN=$(BIN) LEPTOS_SITE_ROOT=$(SITE) bench/pages.sh

clean-data:
	rm -rf data
