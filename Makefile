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
# Yubico's and OpenSC's own tools, run against the virtual YubiKey so that
# it cannot drift from a real one (internal/testinfra/virtualpiv/rig).
TEST_PACKAGES += yubikey-manager yubico-piv-tool opensc ykcs11

GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
export PATH := $(dir $(GO)):$(PATH)
FUZZTIME ?= 30s
BIN := bin/custodian
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps test-deps build run test vet fmt-check bench fuzz screenshots package clean build-drill production-check

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
	$(GO) vet -tags $(DRILL_TAGS) ./...

# --- Drill build and production-build checks (issue 9, item 5) ----------
# The untagged build (`go build .`, make build) is the production binary:
# no virtual YubiKey, no pcscd rig, no testing package, no Fyne test
# driver, no screenshot tour. The drill build adds the virtual YubiKeys
# (drill --tokens vcard) and the screenshot tour, and says DRILL BUILD in
# its status bar and in `custodian version`.
DRILL_TAGS := drillbuild
DRILL_BIN := bin/custodian-drill
build-drill: deps
	$(GO) build -trimpath -tags $(DRILL_TAGS) -o $(DRILL_BIN) .

# The test suite runs in the drill build (it drills with virtual
# YubiKeys); this checks the production build: it compiles, links no test
# code (depscheck reads `go list -deps .`), and the tests that differ
# between the builds (names matching PRODUCTION_TESTS) pass without the tag.
PRODUCTION_TESTS := Build|MainScreens
PRODUCTION_TEST_PKGS := ./ceremony/ ./ceremony/identity/ ./app/cli/ ./app/gui/
production-check: deps
	$(GO) build -trimpath -o /dev/null .
	$(GO) run ./internal/testinfra/depscheck
	$(GO) test -count=1 -run '$(PRODUCTION_TESTS)' $(PRODUCTION_TEST_PKGS)
# --- end of the drill build block ----------------------------------------

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Every test, real components included (SoftHSM2, pcscd with the virtual
# PIV card, Yubico's and OpenSC's tools, Xvfb), in the drill build; then
# production-check for the untagged build. CI=true turns "component
# missing" skips into failures.
test: test-deps fmt-check vet production-check screenshots
	$(GO) test -count=1 -timeout 25m -tags $(DRILL_TAGS) ./...

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz: deps
	@$(GO) list -f '{{.ImportPath}} {{.Dir}}' ./... | while read pkg dir; do \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzzing $$pkg $$f for $(FUZZTIME)"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Screenshots of the main screens, taken by the real drill-build binary
# (the tour is in the drill build only) under a private Xvfb (xvfb-run
# -a picks a free display and stops it afterwards).
# The GUI itself visits the screens (CUSTODIAN_SCREENSHOTS=DIR) and quits,
# refusing blank captures; the check below fails on a missing or blank
# picture. Mesa's llvmpipe reads back blank captures under Xvfb, softpipe
# does not, hence GALLIUM_DRIVER.
SCREENSHOTS_DIR := screenshots
SCREENSHOT_FILES := 01-home 02-drill-setup 03-activation-setup 04-drill-activation-enroll 05-recovery-setup 06-drill-recovery-confirm
screenshots: test-deps build-drill
	@rm -rf $(SCREENSHOTS_DIR)
	GALLIUM_DRIVER=softpipe CUSTODIAN_SCREENSHOTS=$(SCREENSHOTS_DIR) timeout 150 \
	  xvfb-run -a -s "-screen 0 1280x1024x24" ./$(DRILL_BIN)
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
