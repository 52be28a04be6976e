# Tandem build, test and lab targets. `make demo` and `make test` are the two
# set-up commands the README promises.
GO      ?= go
BIN     := $(CURDIR)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X github.com/tandem-ha/tandem/host/cli.version=$(VERSION) -X github.com/tandem-ha/tandem/host/cli.commit=$(COMMIT)
export PATH := $(HOME)/go/bin:$(PATH)

# First-party plugins: every plugins/<name>/cmd/tandem-plugin-<name>. The
# tandem binary carries them all (plugins/builtin): bin/tandem-plugin-<name>
# is a link to tandem, so the host and its plugin processes share one
# executable's pages. Pure Go (no cgo): no libc mapped in every process.
PLUGIN_PKGS := $(wildcard plugins/*/cmd/tandem-plugin-*)
PLUGINS     := $(notdir $(PLUGIN_PKGS))

.PHONY: build
build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./host/cmd/tandem
	for p in $(PLUGINS); do ln -sfn tandem $(BIN)/$$p; done

# Each first-party plugin as its own executable (what a third party ships),
# into bin/standalone.
.PHONY: plugins-standalone
plugins-standalone:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/standalone/ $(addprefix ./,$(PLUGIN_PKGS))

# The Debian package (packaging/deb/build.sh; dpkg-deb, pure Go, no network):
# bin/tandem_VERSION_ARCH.deb, the version from git describe. Install it
# with apt install ./bin/tandem_*.deb (docs/operations.md).
.PHONY: deb
deb:
	GO=$(GO) packaging/deb/build.sh $(BIN)

# The newest package in bin/, once deb has run (expanded in the recipes).
DEB = $(shell ls -t $(BIN)/tandem_*.deb 2>/dev/null | head -n1)

.PHONY: lint
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	staticcheck ./...

# Unit and in-process cluster tests under the race detector, then the
# privileged lab tests one package at a time (labs share the host's bridge
# namespace).
.PHONY: test
test: build lint deb
	TANDEM_DEB=$(DEB) $(GO) test -race -count=1 -timeout 30m $$($(GO) list ./... | grep -v /e2e)
	# The flood test skips under the race detector (too little CPU left for
	# the in-process cluster): run it once without.
	$(GO) test -count=1 -timeout 5m -run 'TestFlood' ./host/daemon/
	# The lab tests install the package in their nodes (TANDEM_LAB_DEB).
	TANDEM_BIN=$(BIN) TANDEM_DEB=$(DEB) TANDEM_LAB_DEB=$(DEB) $(GO) test -count=1 -p 1 -timeout 25m ./e2e/...

.PHONY: clean
clean:
	rm -rf $(BIN)

# The main job: boot the reference lab (holly, benji, witness on director) with
# Tandem installed on every member from the Debian package (make deb) and its
# unit enabled, show `tandem status` and the VIP answering; the lab stays up
# (make lab-down).
.PHONY: demo
demo: build deb
	TANDEM_BIN=$(BIN) TANDEM_LAB_DEB=$(DEB) $(GO) run ./e2e/cmd/demo

.PHONY: lab-up lab-down lab-root
lab-up: build deb
	TANDEM_BIN=$(BIN) TANDEM_LAB_DEB=$(DEB) $(GO) run ./e2e/cmd/lab --start-tandem up
lab-down:
	$(GO) run ./e2e/cmd/lab down
lab-root:
	$(GO) run ./e2e/cmd/lab root

# Three tandem processes on loopback, then `tandem status`. With
# PLUGIN_DIR=DIR, the tandem-plugin-* of DIR (a plugin you are writing)
# are used beside the first-party ones. PORT_BASE=N moves the members to
# ports N..N+5, and DIR=D their files to D (e2e/run-local.sh).
PLUGIN_DIR ?=
PORT_BASE ?=
.PHONY: run
run: build
	BIN=$(BIN) PLUGIN_DIR=$(PLUGIN_DIR) PORT_BASE=$(PORT_BASE) e2e/run-local.sh

# Go benchmarks: scheduler sizes, plugin round trip and launch, VIP start to
# gratuitous ARP (root). Figures are reported in the issues' notes.
.PHONY: bench
bench: build
	$(GO) test -run XXX -bench . -benchtime 10x -benchmem ./policies
	$(GO) test -run XXX -bench . -benchmem ./host/supervisor
	$(GO) test -run XXX -bench . -benchtime 200x ./plugins/vip

# Failover benchmark in its own lab (prefix tdbench, 198.18.0.192/27): 5 runs
# each of holder hard-killed, holder cut off and witness killed; a few minutes.
# TOPOLOGY=three (three nodes, no witness) or five (five nodes, three voters)
# runs it on those members instead, with a voter (and a node that does not
# vote) killed in place of the witness.
# VIP_AGENT=ipaddr2 runs the VIP with Debian's ocf:heartbeat:IPaddr2 through
# the ocf bridge instead of the vip agent. FAULTS=kill,cut,haproxy picks the
# faults (failover-bench --faults; haproxy: HAProxy killed -9 on the holder,
# restarted in place by systemd); empty: the topology's default set.
# LEASES=grants runs the cluster with [bus] leases = "grants"; SETTLE=false
# faults as soon as the resources converged (back-to-back faults: right
# after a heal the bus may still be electing).
TOPOLOGY ?= reference
VIP_AGENT ?= vip
FAULTS ?=
LEASES ?= bucket
SETTLE ?= true
.PHONY: bench-failover
bench-failover: build deb
	TANDEM_BIN=$(BIN) TANDEM_LAB_DEB=$(DEB) $(GO) run ./e2e/cmd/failover-bench --runs 5 --topology $(TOPOLOGY) --vip-agent $(VIP_AGENT) --faults "$(FAULTS)" --leases $(LEASES) --settle=$(SETTLE)

# Scale benchmark, in-process (host/daemon TestScale): 8, 16 and 24 members
# (three of them voters) with 64 singletons: cold convergence, the failover
# of a member cut off, bus traffic and CPU at rest, stalls of the process,
# memory; a few minutes. SCALE=8,16,32 and RESOURCES=N change the sizes (32
# members and more need more than 2 cores: docs/topology.md); LEASES=grants
# keeps the leases by grants.
SCALE ?= 8,16,24
RESOURCES ?= 64
.PHONY: bench-scale
bench-scale:
	TANDEM_BENCH_SCALE=$(SCALE) TANDEM_BENCH_RESOURCES=$(RESOURCES) TANDEM_BENCH_LEASES=$(LEASES) $(GO) test -count=1 -run '^TestScale$$' -v -timeout 120m ./host/daemon/

# Scale benchmark, every member a process of its own (e2e/cmd/scale-bench,
# root: one network namespace, NETNS=tdscale, loopback ports 40000 up): `tandem host`
# processes of bin/ (make build), three of them voters, leases by grants,
# each singleton a /bin/sleep of the example plugin. Per member count: cold
# convergence, a plain member killed -9 until its singletons run elsewhere,
# bus traffic at rest (by subject kind) and during that failover, CPU at
# rest, RSS of voters and plain members; minutes, not part of make test.
# MEMBERS=8,16,32,64 and PROC_RESOURCES (one number, or one per count:
# 64,128,256,1000) change the sizes; 32 members and more do not fit this
# 2-core machine (docs/topology.md has the figures and why).
MEMBERS ?= 8,16
PROC_RESOURCES ?= 256
NETNS ?= tdscale
.PHONY: bench-scale-procs
bench-scale-procs: build
	$(GO) run ./e2e/cmd/scale-bench --bin $(BIN) --members $(MEMBERS) --resources $(PROC_RESOURCES) --leases grants --netns $(NETNS) --port-base 40000

# Chaos benchmark in its own lab (prefix tdchaos, 198.18.0.192/27): a seeded
# random schedule of at least 60 faults over at least 15 minutes under a
# safety checker, a client loop and two admins editing through the CLI;
# not part of make test. SEED=N replays a schedule; LEASES=grants runs the
# cluster with [bus] leases = "grants"; ONLY=flapping,frozen picks kinds.
SEED ?= 0
ONLY ?=
.PHONY: bench-chaos
bench-chaos: build deb
	TANDEM_BIN=$(BIN) TANDEM_LAB_DEB=$(DEB) $(GO) run ./e2e/cmd/chaos-bench --seed $(SEED) --leases $(LEASES) --only "$(ONLY)"
