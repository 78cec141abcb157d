# PassMan: build, test, run and measure.
#
#   make dev     run a server with an open vault, a local agent and a demo target
#   make test    run every test, installing what the tests need when missing
#   make bench   print the load generator's figures for this machine
#   make lint    gofmt, go vet and the project's own lint rules
#   make proto   regenerate the Go code from proto/**/*.proto

GO      ?= go
BIN     := bin
PKGS    := ./...
BENCH_DURATION ?= 5s
# BENCH_FAST_DIR holds the end-to-end benchmark's target files for its
# second run, on a RAM disk, so that the figures measure PassMan rather
# than the disk under the target.
BENCH_FAST_DIR ?= /dev/shm

.PHONY: all build dev test test-deps bench lint proto clean

all: build

build:
	$(GO) build -o $(BIN)/passman ./cmd/passman
	for m in plugins/*/cmd/passman-driver-*; do \
		$(GO) build -o $(BIN)/$$(basename $$m) ./$$m || exit 1; \
	done
	cd $(BIN) && sha256sum passman-driver-* > SHA256SUMS

dev: build
	$(BIN)/passman dev

test-deps:
	./scripts/test-deps

EXAMPLE := examples/driver-htpasswd

test: test-deps
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 15m $(PKGS)
	cd $(EXAMPLE) && $(GO) mod tidy -diff && $(GO) vet ./... && $(GO) test -count=1 ./...

bench: build test-deps
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./server/store/ ./server/policy/
	$(GO) test -run '^$$' -bench BenchmarkAccountsTab -benchtime 50x ./server/
	$(GO) run ./cmd/passman-bench -duration $(BENCH_DURATION) -bin $(BIN)
	$(GO) run ./cmd/passman-bench -duration $(BENCH_DURATION) -bin $(BIN) -e2e-only \
		-target-dir $(BENCH_FAST_DIR)
	$(GO) test -run '^$$' -bench BenchmarkResetOnTarget -benchtime 1x ./e2e/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) test -count=1 ./internal/lint/

proto:
	./scripts/gen-proto

clean:
	rm -rf $(BIN)
