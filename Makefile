# Custodian — build, run and test on Debian/Ubuntu.
#
#   make run    installs what is missing, builds, starts the GUI
#   make test   installs what is missing (test tools too), runs every test
#
# Runtime/build packages (a ceremony machine needs only these):
RUNTIME_PACKAGES := gcc pkg-config libgl1-mesa-dev xorg-dev libxkbcommon-dev libpcsclite-dev pcscd
# Test-only packages. vsmartcard-vpcd makes pcscd accept a virtual card
# over TCP: it belongs on development and CI machines, never on a ceremony
# machine (see README, "Security notes").
TEST_PACKAGES := softhsm2 vsmartcard-vpcd xvfb xauth openssl dosfstools e2fsprogs mount util-linux poppler-utils

GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
export PATH := $(dir $(GO)):$(PATH)
FUZZTIME ?= 30s
BIN := bin/custodian
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps test-deps build run test vet fmt-check bench fuzz screenshots package clean

all: build

# apt-get only for packages that are missing.
define apt_install
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make: installing missing packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call apt_install,$(RUNTIME_PACKAGES))
	@command -v $(GO) >/dev/null 2>&1 || { \
	  echo "make: no Go toolchain found; installing golang-go (Go then fetches the version go.mod asks for)"; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq golang-go; }

test-deps: deps
	$(call apt_install,$(TEST_PACKAGES))

build: deps
	$(GO) build -trimpath -o $(BIN) .

run: build
	./$(BIN)

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Every test, real components included (SoftHSM2, pcscd with the virtual
# PIV card, Xvfb). CI=true turns "component missing" skips into failures.
test: test-deps fmt-check vet
	$(GO) test -count=1 -timeout 25m ./...

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz: deps
	@$(GO) list -f '{{.ImportPath}} {{.Dir}}' ./... | while read pkg dir; do \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzzing $$pkg $$f for $(FUZZTIME)"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin dist screenshots
