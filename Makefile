# funcd's entry points. Every target is a thin wrapper over a script or a go
# command, so CI and a newcomer run the same thing.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: build dist test unit e2e demo bench lint clean

build: ## static funcd binary in bin/
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/funcd ./cmd/funcd

dist: ## release tarballs and binaries for linux amd64, arm64, arm/v7 + SHA256SUMS in dist/ (VERSION=v1.2.3)
	./scripts/dist.sh

test: ## everything CI runs (root: installs packages, runs e2e)
	./scripts/test.sh

unit: ## unit tests only, no root needed
	$(GO) test -race -short ./...

e2e: ## end-to-end tests only (root), test/systemd's nspawn machines included
	$(GO) test -p 1 -count=1 -timeout 60m ./test/...

demo: ## sudo ./install.sh --demo: install funcd as a service and deploy examples/hello (root)
	./scripts/demo.sh

bench: ## figures against the targets: warm path, memory, cold starts, replicas, queue; ~4 min (root)
	./scripts/deps.sh bench
	$(GO) run ./test/bench

lint:
	gofmt -l . | (! grep .)
	$(GO) vet ./...

clean:
	rm -rf bin dist
