# harden — developer entry points. `make demo` and `make test` each do all
# of their own setup (Debian packages, local registry, fixtures).

GO        ?= go
FIXTURES  ?= $(CURDIR)/.cache/fixtures
BIN       ?= $(CURDIR)/.cache/bin/harden
REGISTRY  ?= 127.0.0.1:5000
TOOLS     ?= $(CURDIR)/.cache/tools
GATOR_VERSION ?= v3.23.1
KYVERNO_VERSION ?= v1.19.1
POLICY_CONTROLLER_VERSION ?= v0.13.1
SLSA_VERIFIER_VERSION ?= v2.7.1
COSIGN2_VERSION ?= v2.6.5
export HARDEN_FIXTURES := $(FIXTURES)
export HARDEN_TOOLS_DIR := $(TOOLS)

.PHONY: all build release-binary setup registry fixtures tools engines bench-tools test test-short demo fuzz bench vet fmt clean dist man

all: build

build:
	$(GO) build -o $(BIN) ./cmd/harden

# The stripped release binary (size budget: 150 MB).
release-binary:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(CURDIR)/.cache/bin/harden-release ./cmd/harden
	@ls -l $(CURDIR)/.cache/bin/harden-release

setup:
	bash scripts/setup.sh

registry: setup
	bash scripts/registry.sh start

fixtures: setup
	$(GO) run ./tools/mkfixtures -out $(FIXTURES)

# Peer programs built from the module proxy: the cosign CLI (interop
# tests, benchmarks) and the Rekor v2 server of the local Sigstore stack,
# pinned by go.mod tool directives, and Gatekeeper's gator.
tools:
	@mkdir -p $(TOOLS)
	$(GO) build -o $(TOOLS)/cosign github.com/sigstore/cosign/v3/cmd/cosign
	$(GO) build -o $(TOOLS)/rekor-server github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix
	$(GO) build -o $(TOOLS)/maxrss ./tools/maxrss
	# Gatekeeper's gator, for the admission-policy tests. Not a go.mod tool:
	# its Kubernetes dependencies stay out of harden's module graph.
	GOBIN=$(TOOLS) $(GO) install github.com/open-policy-agent/gatekeeper/v3/cmd/gator@$(GATOR_VERSION)

# The admission engines whose verdicts the policy tests check: Kyverno's
# CLI and policy-controller's tester (slow to build cold: about 15 and 8
# minutes on 2 cores; built once: delete them from .cache/tools to rebuild),
# and slsa-verifier for the VSA interop test (about a minute).
engines: $(TOOLS)/kubectl-kyverno $(TOOLS)/policy-tester $(TOOLS)/slsa-verifier $(TOOLS)/cosign2

$(TOOLS)/kubectl-kyverno:
	bash scripts/build-engine.sh github.com/kyverno/kyverno $(KYVERNO_VERSION) cmd/cli/kubectl-kyverno $@

$(TOOLS)/policy-tester:
	bash scripts/build-engine.sh github.com/sigstore/policy-controller $(POLICY_CONTROLLER_VERSION) cmd/tester $@

# slsa-verifier, whose verify-vsa must accept harden's key-signed VSAs.
$(TOOLS)/slsa-verifier:
	bash scripts/build-engine.sh github.com/slsa-framework/slsa-verifier/v2 $(SLSA_VERIFIER_VERSION) cli/slsa-verifier $@

# cosign v2, the line many users still run, for the compatibility tests
# (e2e/cosign2_test.go, docs/compatibility.md).
$(TOOLS)/cosign2:
	bash scripts/build-engine.sh github.com/sigstore/cosign/v2 $(COSIGN2_VERSION) cmd/cosign $@

# Full suite: real registry, real Debian base, real wheels, runc. The core
# end-to-end tests fail rather than skip when their parts are missing.
test: setup registry fixtures tools engines bench-tools
	HARDEN_TEST_REGISTRY=$(REGISTRY) HARDEN_REQUIRE_FIXTURES=1 HARDEN_REQUIRE_E2E=1 HARDEN_REQUIRE_PIP=1 \
		$(GO) test -race -count=1 -timeout 40m ./...
	# Every stage boundary of the resume test (a subset runs under -race),
	# and the release fault sweep, which is too slow for -race.
	HARDEN_REQUIRE_FIXTURES=1 HARDEN_REQUIRE_E2E=1 $(GO) test -count=1 -run '^(TestResume|TestReleaseFaultSweep)$$' ./internal/release
	# Every benchmark once, so that none can break unseen; make bench is
	# where the numbers come from (BuildLarge up to 1 GiB here, 4 GiB there).
	HARDEN_BENCH_LARGE_MAX=1GiB $(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 30m ./...

# Unit tests only: no setup, no root; end-to-end tests skip with a reason.
test-short:
	$(GO) test -short ./...

demo: setup registry fixtures tools build
	$(GO) build -o $(CURDIR)/.cache/bin/sigstore-local ./tools/sigstore-local
	$(GO) build -o $(CURDIR)/.cache/bin/mkvulndb ./tools/mkvulndb
	HARDEN=$(BIN) REGISTRY=$(REGISTRY) bash scripts/demo.sh

FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# The benchmarks' peers: crane and the syft and grype CLIs (go.mod tool
# directives).
bench-tools: tools
	$(GO) build -o $(TOOLS)/crane github.com/google/go-containerregistry/cmd/crane
	$(GO) build -o $(TOOLS)/syft github.com/anchore/syft/cmd/syft
	$(GO) build -o $(TOOLS)/grype github.com/anchore/grype/cmd/grype

bench: setup registry fixtures bench-tools
	$(GO) test -run '^$$' -bench . -benchtime 5x -timeout 180m ./bench/...

vet:
	gofmt -l . | (! grep .) && $(GO) vet ./...

# Man pages of every command, generated from the command tree.
MAN ?= $(CURDIR)/.cache/man
man:
	$(GO) run ./cmd/harden docs man $(MAN)

# harden's own release (docs/release-checklist.md): binaries for linux and
# darwin on amd64 and arm64, SHA256SUMS, its Sigstore bundle and the SLSA
# provenance, in release/. VERSION defaults to the tag at HEAD.
VERSION ?=
DIST_FLAGS ?=
dist:
	$(GO) run ./tools/dist -out $(CURDIR)/release $(if $(VERSION),-version $(VERSION)) $(DIST_FLAGS)

clean:
	bash scripts/registry.sh stop
	rm -rf .cache/bin .cache/demo dist release
