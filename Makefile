# Targets of the seed (make, make test, make clean, make format,
# make format-check) and ours. `make test` is what CI runs.
CARGO ?= cargo
FUZZ_SECONDS ?= 20
BIN := target/release/tcp-server

.PHONY: all build test clean format format-check lint doc bench bench-e2e bench-download bench-goodput fuzz fuzz-coverage demo valgrind no-std setup unit package examples

all: build

build:
	$(CARGO) build --release --workspace
	@echo "built $(BIN)"

setup:
	@bash scripts/setup.sh all

# Everything CI checks: formatting, lints, every test (unit, property,
# trace, interop, and the root end-to-end tests on veth pairs), the no_std
# build, tcpcore's examples run, tcpcore's crates.io package, a short fuzz
# run of every target, and the benches compiled.
test: setup format-check lint unit examples no-std doc package
	bash fuzz/run.sh $(FUZZ_SECONDS)
	$(CARGO) bench --workspace --no-run
	@echo "make test: all passed"

unit:
	$(CARGO) test --workspace --release

# tcpcore's examples, run (each checks its own outcome and fails loudly).
examples:
	$(CARGO) run -p tcpcore --release --example echo_pair
	$(CARGO) run -p tcpcore --release --example embed

no-std:
	$(CARGO) build -p tcpcore --target thumbv7em-none-eabihf --release

format:
	$(CARGO) fmt --all
	cd fuzz && $(CARGO) fmt

format-check:
	$(CARGO) fmt --all -- --check
	cd fuzz && $(CARGO) fmt -- --check

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps

# tcpcore as crates.io would get it: the file list, the .crate built on its
# own, the docs as docs.rs builds them (scripts/package.sh).
package:
	bash scripts/package.sh

bench:
	$(CARGO) bench --workspace

# End to end, side by side with the kernel's TCP (one thread; one
# SO_REUSEPORT loop per CPU; busy-polling for the RTT rows) and smoltcp,
# with machine CPU-seconds per GiB and per 1,000 connections (root).
# Some parts: make bench-e2e E2E_ARGS="--only upload6,tun --rounds 3".
bench-e2e:
	@bash scripts/setup.sh net
	bash scripts/bench-e2e.sh $(E2E_ARGS)

# Download goodput (issue #16), ours and the kernel's, over clean, lossy,
# reordering and delayed paths (root; a few minutes: the whole of `make bench-e2e` took 4.4 min on 2026-12-06). Quicker:
# make bench-download DOWNLOAD_ARGS="--download-mib 32 --rounds 1";
# some paths: DOWNLOAD_ARGS="--download-paths clean,loss1,delay50".
bench-download:
	@bash scripts/setup.sh net
	bash scripts/bench-e2e.sh --only download $(DOWNLOAD_ARGS)

# In memory: tcpcore's sender to smoltcp and to tcpcore over the simulated
# link, goodput and retransmissions per loss rate (seconds; no root).
bench-goodput:
	$(CARGO) bench -p benches --bench goodput

fuzz:
	@bash scripts/setup.sh fuzz
	bash fuzz/run.sh $(or $(SECONDS_EACH),300)

# Coverage of tcpcore by each target's corpus (after `make fuzz`).
fuzz-coverage:
	@bash scripts/setup.sh fuzz
	@bash scripts/setup.sh coverage
	sh fuzz/coverage.sh $(TARGETS)

demo:
	@bash scripts/setup.sh net
	bash scripts/demo.sh

valgrind:
	@bash scripts/setup.sh net
	bash scripts/valgrind.sh

clean:
	$(CARGO) clean
	rm -rf fuzz/target fuzz/corpus/run fuzz/artifacts
