# Custodian — build, run and test on Debian/Ubuntu.
#
#   make run    installs what is missing, builds, starts the GUI
#   make test   installs what is missing (test tools too), runs every test
#
# Runtime/build packages (a ceremony machine needs only these):
RUNTIME_PACKAGES := gcc pkg-config libgl1-mesa-dev libgl1-mesa-dri xorg-dev libxkbcommon-dev libpcsclite-dev pcscd
# Test-only packages. vsmartcard-vpcd makes pcscd accept a virtual card
# over TCP: it belongs on development and CI machines, never on a ceremony
# machine (see README, "Security notes").
TEST_PACKAGES := softhsm2 vsmartcard-vpcd xvfb xauth openssl dosfstools e2fsprogs mount util-linux poppler-utils

GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
export PATH := $(dir $(GO)):$(PATH)
FUZZTIME ?= 30s
# Minimising a new interesting input runs at most this many times: with
# Go's default (60s each) a few large SD-shaped inputs stall a 60s run
# entirely (5 execs in 60 s measured); a time bound (1s) still stalls it.
FUZZMINIMIZETIME ?= 20x
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
test: test-deps fmt-check vet screenshots
	$(GO) test -count=1 -timeout 25m ./...

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz: deps
	@$(GO) list -f '{{.ImportPath}} {{.Dir}}' ./... | while read pkg dir; do \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzzing $$pkg $$f for $(FUZZTIME)"; \
	    log=$$(mktemp); \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg >$$log 2>&1; rc=$$?; \
	    grep -v '^fuzz: elapsed' $$log; \
	    grep '^fuzz: elapsed' $$log | tail -1 | awk -v f=$$f '{ gsub(/[s,]/, "", $$3); print "  " f ": " $$5 " execs in " $$3 " s = " int($$5 / $$3) " execs/s" }'; \
	    rm -f $$log; test $$rc -eq 0 || exit 1; \
	  done; \
	done

# Screenshots of the main screens, taken by the real binary under a
# private Xvfb (xvfb-run -a picks a free display and stops it afterwards).
# The GUI itself visits the screens (CUSTODIAN_SCREENSHOTS=DIR) and quits,
# refusing blank captures; the check below fails on a missing or blank
# picture. Mesa's llvmpipe reads back blank captures under Xvfb, softpipe
# does not, hence GALLIUM_DRIVER.
SCREENSHOTS_DIR := screenshots
SCREENSHOT_FILES := 01-home 02-drill-setup 03-activation-setup 04-drill-activation-enroll 05-recovery-setup 06-drill-recovery-confirm
screenshots: test-deps build
	@rm -rf $(SCREENSHOTS_DIR)
	GALLIUM_DRIVER=softpipe CUSTODIAN_SCREENSHOTS=$(SCREENSHOTS_DIR) timeout 150 \
	  xvfb-run -a -s "-screen 0 1280x1024x24" ./$(BIN)
	@for f in $(SCREENSHOT_FILES); do \
	  p=$(SCREENSHOTS_DIR)/$$f.png; \
	  [ -f $$p ] || { echo "make: screenshot $$p is missing"; exit 1; }; \
	  size=$$(stat -c %s $$p); \
	  [ $$size -gt 20000 ] || { echo "make: screenshot $$p looks blank ($$size bytes)"; exit 1; }; \
	done; echo "make: $(words $(SCREENSHOT_FILES)) screenshots in $(SCREENSHOTS_DIR)/"

# The Linux bundle (dist/custodian-linux.tar.xz: binary, icon, .desktop
# entry and an install Makefile) made by the fyne tool from FyneApp.toml
# and the binary `make build` made. The tool comes through the Go module
# proxy at a pinned version; it rewrites FyneApp.toml as it goes, so the
# file is put back as it was.
FYNE_TOOL := fyne.io/tools/cmd/fyne@v1.7.4
package: build
	@mkdir -p dist
	@cp FyneApp.toml dist/.FyneApp.toml.keep
	@$(GO) run $(FYNE_TOOL) package --os linux --exe $(BIN); status=$$?; \
	  cp dist/.FyneApp.toml.keep FyneApp.toml; rm -f dist/.FyneApp.toml.keep; \
	  [ $$status -eq 0 ] || exit $$status; \
	  mv -f Custodian.tar.xz dist/custodian-linux.tar.xz
	@tar -tJf dist/custodian-linux.tar.xz | grep -q 'usr/local/bin/custodian$$' && \
	  tar -tJf dist/custodian-linux.tar.xz | grep -q '\.desktop$$' && \
	  echo "make: dist/custodian-linux.tar.xz"

clean:
	rm -rf bin dist screenshots
