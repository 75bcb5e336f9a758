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
# Minimising a new interesting input runs at most this many times: with
# Go's default (60s each) a few large SD-shaped inputs stall a 60s run
# entirely (5 execs in 60 s measured); a time bound (1s) still stalls it.
FUZZMINIMIZETIME ?= 20x
BIN := bin/custodian
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# ---- Reproducible build settings (release) --------------------------------
# Every input that changes the binary's bytes is pinned here, so that
# anyone who builds the same commit with the same toolchain on the same
# Debian release gets the same SHA-256 (`make reproduce` checks it):
# - the Go toolchain: go.mod's toolchain line (release targets refuse another);
# - -trimpath: no folder names of the build machine in the binary;
# - -buildvcs=false, chosen explicitly: Go's VCS stamping depends on how the
#   checkout was made (a tarball has none, a dirty tree says "modified"),
#   and machines differ in their GOFLAGS default. The commit goes in
#   through -ldflags instead, where it is plain to see;
# - -ldflags: the version (FyneApp.toml's), the commit, whether tracked
#   files were modified, and -s -w (no symbol table or DWARF: they carry
#   C compiler paths and are not needed to run);
# - cgo: the C compiler and its flags (the defaults, written out so that
#   a user's CGO_CFLAGS cannot leak in), target OS/arch/microarchitecture;
# - GOFLAGS is emptied for the build so nothing in the environment adds flags;
# - the release binary (and so the .deb and the image) is a position-
#   independent executable linked with full RELRO (-buildmode=pie,
#   -z relro -z now: Debian's hardening defaults, which lintian checks);
#   `make build` and the drill build keep Go's default, so `make test`
#   builds what it always built.
VERSION := $(shell sed -n 's/^[[:space:]]*Version[[:space:]]*=[[:space:]]*"\(.*\)"/\1/p' FyneApp.toml)
COMMIT := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
MODIFIED := $(shell git diff --quiet HEAD -- 2>/dev/null && echo false || echo true)
GO_TOOLCHAIN := $(shell sed -n 's/^toolchain[[:space:]]*//p' go.mod)
IDENTITY_PKG := github.com/custodian-hsm/custodian/ceremony/identity
GO_LDFLAGS := -s -w -X $(IDENTITY_PKG).version=$(VERSION) -X $(IDENTITY_PKG).commit=$(COMMIT) -X $(IDENTITY_PKG).modified=$(MODIFIED)
GO_BUILD_ENV := GOFLAGS= CGO_ENABLED=1 CC=gcc CXX=g++ CGO_CFLAGS="-O2 -g" CGO_CPPFLAGS= \
  CGO_CXXFLAGS="-O2 -g" CGO_LDFLAGS="-O2 -g" GOOS=linux GOARCH=amd64 GOAMD64=v1 GOEXPERIMENT=
GO_BUILD := $(GO_BUILD_ENV) $(GO) build -trimpath -buildvcs=false -mod=readonly -ldflags "$(GO_LDFLAGS)"
GO_RELEASE_BUILD := $(GO_BUILD_ENV) $(GO) build -trimpath -buildvcs=false -mod=readonly -buildmode=pie \
  -ldflags "$(GO_LDFLAGS) -extldflags=-Wl,-z,relro,-z,now"
# ---- end of reproducible build settings -----------------------------------

.PHONY: all deps test-deps build run test vet fmt-check bench fuzz screenshots package clean build-drill production-check
.PHONY: release release-binary reproduce check-toolchain deb deb-test image image-test camera-test

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
	$(GO_BUILD) -o $(BIN) .

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
	$(GO_BUILD) -tags $(DRILL_TAGS) -o $(DRILL_BIN) .

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

# A target that ends with only "context deadline exceeded" and writes no
# failing input was stopped by go1.26's fuzz coordinator racing its own
# -fuzztime deadline (golang/go#75804, fixed in go1.27, not in any 1.26.x):
# said, and not counted as a failure. Any failing input fails the run.
fuzz: deps
	@$(GO) list -f '{{.ImportPath}} {{.Dir}}' ./... | while read pkg dir; do \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzzing $$pkg $$f for $(FUZZTIME)"; \
	    log=$$(mktemp); inputs=$$(ls $$dir/testdata/fuzz/$$f 2>/dev/null | wc -l); \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg >$$log 2>&1; rc=$$?; \
	    if [ $$rc -ne 0 ] && [ "$$(ls $$dir/testdata/fuzz/$$f 2>/dev/null | wc -l)" -eq $$inputs ] && \
	       ! grep -q 'Failing input' $$log && [ "$$(grep -c '^    ' $$log)" -eq 1 ] && grep -q '^    context deadline exceeded$$' $$log; then \
	      echo "  $$f: stopped by Go's fuzz deadline race (golang/go#75804); no failing input was found or written"; rc=0; \
	      grep -v '^fuzz: elapsed' $$log | grep -v 'context deadline exceeded\|^FAIL\|^exit status\|^--- FAIL'; \
	    else grep -v '^fuzz: elapsed' $$log; fi; \
	    grep '^fuzz: elapsed' $$log | tail -1 | awk -v f=$$f '{ t = $$3; gsub(/,/, "", t); s = 0; if (t ~ /m/) { split(t, p, "m"); s = p[1] * 60; t = p[2] } gsub(/s/, "", t); s += t; if (s == 0) s = 1; printf "  %s: %d execs in %d s = %d execs/s\n", f, $$5, s, $$5 / s }'; \
	    rm -f $$log; test $$rc -eq 0 || exit 1; \
	  done; \
	done

# Screenshots of the main screens, taken by the real drill-build binary
# (the tour is in the drill build only) under a private Xvfb (xvfb-run
# -a picks a free display and stops it afterwards).
# The GUI itself visits the screens (CUSTODIAN_SCREENSHOTS=DIR) and quits,
# refusing blank captures; the check below fails on a missing or blank
# picture (a full-screen QR code is black and white and compresses to a
# few kilobytes, hence its lower bound). Mesa's llvmpipe reads back blank captures under Xvfb, softpipe
# does not, hence GALLIUM_DRIVER.
SCREENSHOTS_DIR := screenshots
SCREENSHOT_FILES := 01-home 02-drill-setup 03-activation-setup 04-drill-activation-enroll 05-recovery-setup 06-drill-recovery-confirm 07-drill-recovery-end 08-transcripts 09-tokens 10-token-picker 12-pin-dialog 13-home-1280x800 14-qr-transmitter-1024x768 15-qr-transmitter-fullscreen 16-rotation-setup 17-drill-rotation-new-sd 18-drill-rotation-compare 19-drill-rotation-retire 20-last-pin-try-dialog 21-pin-blocked-dialog 22-unblock-dialog
screenshots: test-deps build-drill
	@rm -rf $(SCREENSHOTS_DIR)
	GALLIUM_DRIVER=softpipe CUSTODIAN_SCREENSHOTS=$(SCREENSHOTS_DIR) timeout 420 \
	  xvfb-run -a -s "-screen 0 1280x1024x24" ./$(DRILL_BIN)
	@for f in $(SCREENSHOT_FILES); do \
	  p=$(SCREENSHOTS_DIR)/$$f.png; \
	  [ -f $$p ] || { echo "make: screenshot $$p is missing"; exit 1; }; \
	  size=$$(stat -c %s $$p); min=20000; \
	  case $$f in *qr-transmitter-fullscreen) min=4000;; esac; \
	  [ $$size -gt $$min ] || { echo "make: screenshot $$p looks blank ($$size bytes)"; exit 1; }; \
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

# ---- Release: dist/ (release) ---------------------------------------------
# `make release` builds the production binary with the pinned settings
# above and writes next to it its SHA-256 (sha256sum format), the same as
# Bytewords (as the status bar shows it), a CycloneDX SBOM of every module
# compiled in (from the binary's own build information), and SHA256SUMS
# over all of them with names relative to dist/ (`cd dist && sha256sum -c
# SHA256SUMS`). It neither runs the tests nor builds the image.
RELEASE_NAME := custodian-$(VERSION)-linux-amd64
RELEASE_BIN := dist/$(RELEASE_NAME)
RELEASE_FILES := $(RELEASE_NAME) $(RELEASE_NAME).sha256 $(RELEASE_NAME).words $(RELEASE_NAME).cdx.json
TOOLS := bin/tools
# CycloneDX's own generator, from the Go module proxy at a pinned version;
# its "bin" mode reads what `go version -m` reads, so it needs no network
# once installed. No serial number or timestamp: the SBOM is reproducible too.
CYCLONEDX := github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0

check-toolchain:
	@v=$$($(GO) env GOVERSION); [ "$$v" = "$(GO_TOOLCHAIN)" ] || { \
	  echo "make: release builds need $(GO_TOOLCHAIN) (go.mod's toolchain line), this go is $$v:" \
	       "install $(GO_TOOLCHAIN), or let Go fetch it (GOTOOLCHAIN=auto)" >&2; exit 1; }

# Only the binary: what `make reproduce` builds in its fresh clone.
release-binary: deps check-toolchain
	@mkdir -p dist
	@[ "$(MODIFIED)" = false ] || echo "make: warning: tracked files differ from $(COMMIT): this binary is marked modified and no clean clone reproduces it" >&2
	$(GO_RELEASE_BUILD) -o $(RELEASE_BIN).tmp . && mv -f $(RELEASE_BIN).tmp $(RELEASE_BIN)

release: release-binary
	@test -x $(TOOLS)/cyclonedx-gomod || GOBIN=$(CURDIR)/$(TOOLS) GOFLAGS= $(GO) install $(CYCLONEDX)
	cd dist && sha256sum $(RELEASE_NAME) > $(RELEASE_NAME).sha256
	GOFLAGS= $(GO) run ./internal/releasetool words $(RELEASE_BIN) > $(RELEASE_BIN).words
	$(TOOLS)/cyclonedx-gomod bin -json -noserial -notimestamp -version $(VERSION) \
	  -output $(RELEASE_BIN).cdx.json $(RELEASE_BIN)
	@# The binary must say of itself what the files say of it.
	@./$(RELEASE_BIN) version > dist/.version.out && \
	  grep -qx "sha256    $$(cut -d' ' -f1 $(RELEASE_BIN).sha256)" dist/.version.out && \
	  grep -qx "words     $$(cat $(RELEASE_BIN).words)" dist/.version.out && \
	  grep -qx "commit    $(COMMIT)" dist/.version.out || { \
	  echo "make: $(RELEASE_BIN) version disagrees with the release files:"; cat dist/.version.out; exit 1; }; \
	  rm -f dist/.version.out
	$(call write_sums)
	@cat $(RELEASE_BIN).sha256 $(RELEASE_BIN).words

# dist/SHA256SUMS: every release file present (the .deb too once built),
# names relative to dist/.
define write_sums
	cd dist && sha256sum $$(for f in $(RELEASE_FILES) $(DEB_NAME); do [ -f $$f ] && echo $$f; done) > SHA256SUMS.tmp && \
	  mv -f SHA256SUMS.tmp SHA256SUMS && sha256sum -c --quiet SHA256SUMS
endef

# `make reproduce` clones this checkout's commit into a fresh temporary
# folder and builds it there with an empty build cache (modules come from
# the shared module cache: Go verifies them against go.sum), then fails
# unless the two binaries are byte for byte the same. EXPECT_SHA256=hex
# also compares with a published hash.
reproduce: release-binary
	@[ "$(MODIFIED)" = false ] || { echo "make: tracked files differ from $(COMMIT): commit (or stash) first, a clone cannot reproduce uncommitted changes" >&2; exit 1; }
	@tmp=$$(mktemp -d); trap 'chmod -R u+w $$tmp; rm -rf $$tmp' EXIT; \
	  git clone -q --no-hardlinks "$(CURDIR)" $$tmp/custodian && \
	  git -C $$tmp/custodian checkout -q $(COMMIT) && \
	  echo "make: rebuilding $(COMMIT) in $$tmp/custodian with an empty GOCACHE" && \
	  GOCACHE=$$tmp/gocache $(MAKE) -C $$tmp/custodian --no-print-directory release-binary GO=$(GO) && \
	  a=$$(sha256sum < $(RELEASE_BIN) | cut -d' ' -f1); b=$$(sha256sum < $$tmp/custodian/$(RELEASE_BIN) | cut -d' ' -f1); \
	  echo "make: this build   $$a"; echo "make: fresh clone  $$b"; \
	  cmp $(RELEASE_BIN) $$tmp/custodian/$(RELEASE_BIN) || { echo "make: NOT reproducible: the bytes differ" >&2; exit 1; }; \
	  if [ -n "$(EXPECT_SHA256)" ] && [ "$(EXPECT_SHA256)" != "$$a" ]; then \
	    echo "make: the build does not match the published SHA-256 $(EXPECT_SHA256)" >&2; exit 1; fi; \
	  echo "make: reproducible: $(RELEASE_NAME) $$a"; \
	  GOFLAGS= $(GO) run ./internal/releasetool words $(RELEASE_BIN)
# ---- end of release --------------------------------------------------------

# ---- Debian package (release) ---------------------------------------------
# dist/custodian_VERSION_amd64.deb, made with dpkg-deb from the very binary
# `make release` publishes (same bytes: the status bar shows the published
# hash), the .desktop entry and icon, and a man page generated from the
# CLI's usage lines. Depends come from dpkg-shlibdeps on the binary, plus
# what it loads at run time (GLFW's X11 extensions, Mesa for machines
# without a GPU driver) and pcscd; PKCS#11 modules are recommended. File
# times are the commit's time, so the package is reproducible too.
DEB_PACKAGES := dpkg-dev lintian
DEB_NAME := custodian_$(VERSION)_amd64.deb
DEB_ROOT := dist/deb-root
DEB_RUNTIME_DEPENDS := libxcursor1, libxrandr2, libxinerama1, libxi6, libxxf86vm1, libxext6, libxrender1, libgl1-mesa-dri, pcscd
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
DEB_APP_ID := io.github.custodian_hsm.custodian

deb: release
	$(call apt_install,$(DEB_PACKAGES))
	rm -rf $(DEB_ROOT) && mkdir -p $(DEB_ROOT)/DEBIAN
	install -D -m 0755 $(RELEASE_BIN) $(DEB_ROOT)/usr/bin/custodian
	install -D -m 0644 assets/deb/$(DEB_APP_ID).desktop $(DEB_ROOT)/usr/share/applications/$(DEB_APP_ID).desktop
	install -D -m 0644 assets/icon.png $(DEB_ROOT)/usr/share/icons/hicolor/512x512/apps/$(DEB_APP_ID).png
	install -D -m 0644 assets/deb/copyright $(DEB_ROOT)/usr/share/doc/custodian/copyright
	mkdir -p $(DEB_ROOT)/usr/share/man/man1
	GOFLAGS= $(GO) run ./internal/releasetool man $(VERSION) | gzip -9n > $(DEB_ROOT)/usr/share/man/man1/custodian.1.gz
	printf 'custodian (%s) unstable; urgency=medium\n\n  * Release %s, built from commit %s.\n\n -- Custodian maintainers <maintainers@users.noreply.github.com>  %s\n' \
	  "$(VERSION)" "$(VERSION)" "$(COMMIT)" "$$(date -u -R -d @$(SOURCE_DATE_EPOCH))" | gzip -9n > $(DEB_ROOT)/usr/share/doc/custodian/changelog.gz
	@shl=$$(mktemp -d) && mkdir $$shl/debian && printf 'Source: custodian\n\nPackage: custodian\nArchitecture: amd64\n' > $$shl/debian/control && \
	  libs=$$(cd $$shl && dpkg-shlibdeps -O -e $(CURDIR)/$(DEB_ROOT)/usr/bin/custodian 2>/dev/null | sed -n 's/^shlibs:Depends=//p'); rm -rf $$shl; \
	  [ -n "$$libs" ] || { echo "make: dpkg-shlibdeps found no libraries for the binary" >&2; exit 1; }; \
	  size=$$(du -k -s --apparent-size $(DEB_ROOT)/usr | cut -f1); \
	  sed -e "s/@VERSION@/$(VERSION)/" -e "s/@INSTALLED_SIZE@/$$size/" -e "s/@DEPENDS@/$$libs, $(DEB_RUNTIME_DEPENDS)/" \
	    assets/deb/control.in > $(DEB_ROOT)/DEBIAN/control
	cd $(DEB_ROOT) && find usr -type f | LC_ALL=C sort | xargs md5sum > DEBIAN/md5sums
	find $(DEB_ROOT) -type d -exec chmod 0755 {} + && chmod 0644 $(DEB_ROOT)/DEBIAN/control $(DEB_ROOT)/DEBIAN/md5sums
	find $(DEB_ROOT) -exec touch -h -d @$(SOURCE_DATE_EPOCH) {} +
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) dist/$(DEB_NAME)
	rm -rf $(DEB_ROOT)
	lintian --fail-on error,warning --tag-display-limit 0 dist/$(DEB_NAME)
	$(call write_sums)
	@echo "make: dist/$(DEB_NAME)"

# Installs the package on this machine, runs it, removes it. Needs root
# (or sudo) and refuses to touch a custodian package already installed.
deb-test: deb
	@! dpkg-query -W -f='$${Status}' custodian 2>/dev/null | grep -q "install ok installed" || { \
	  echo "make: a custodian package is already installed here; deb-test will not replace it" >&2; exit 1; }
	@tmp=$$(mktemp -d); trap '$(SUDO) dpkg -r custodian >/dev/null 2>&1; rm -rf $$tmp' EXIT; set -e; \
	  $(SUDO) dpkg -i dist/$(DEB_NAME); \
	  /usr/bin/custodian version > $$tmp/version; cat $$tmp/version; \
	  grep -qx "sha256    $$(sha256sum < $(RELEASE_BIN) | cut -d' ' -f1)" $$tmp/version || { \
	    echo "make: the installed binary is not the release binary" >&2; exit 1; }; \
	  man -l /usr/share/man/man1/custodian.1.gz > /dev/null 2>&1 || zcat /usr/share/man/man1/custodian.1.gz | grep -q '^.TH CUSTODIAN'; \
	  /usr/bin/custodian drill run --custodians 3 --quorum 2 --tokens soft --dir $$tmp/d > $$tmp/drill.log 2>&1 || { \
	    cat $$tmp/drill.log; echo "make: the installed custodian failed its drill" >&2; exit 1; }; \
	  tail -1 $$tmp/drill.log; \
	  $(SUDO) dpkg -r custodian; \
	  [ ! -e /usr/bin/custodian ] || { echo "make: /usr/bin/custodian is still there after dpkg -r" >&2; exit 1; }; \
	  echo "make: deb-test passed: installed, ran a drill, removed"
# ---- end of Debian package -------------------------------------------------

# ---- Ceremony image (release) ---------------------------------------------
# dist/custodian-image.iso: a Debian live image built by mmdebstrap from
# Debian's own packages (the mirror apt uses) with the .deb installed:
# boots into Custodian in a kiosk session as the unprivileged user
# "custodian"; no network configured, no network kernel modules, no swap,
# nothing persistent. See assets/image/build.sh. Not part of `make test`.
IMAGE_PACKAGES := mmdebstrap squashfs-tools xorriso grub-pc-bin grub-efi-amd64-bin grub-common mtools
IMAGE := dist/custodian-image.iso
IMAGE_TEST_TIMEOUT ?= 1800

image: deb
	$(call apt_install,$(IMAGE_PACKAGES))
	$(SUDO) env SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) assets/image/build.sh dist/$(DEB_NAME) dist

# Boots the image in QEMU (no KVM needed: plain emulation) straight into
# the self-test entry: the kernel and initrd from the image with the
# self-test's parameters, the ISO as the CD-ROM live-boot finds its root
# on. The serial console must show `custodian version` (the released
# binary's hash) and an air-gap check with no findings, run as the
# ceremony user, and the kiosk's check: the console login's X server up
# and the GUI still running in it after 20 s (kiosk-exit=0).
image-test:
	$(call apt_install,qemu-system-x86)
	@[ -f $(IMAGE) ] || { echo "make: no $(IMAGE): run make image first" >&2; exit 1; }
	@log=dist/image-test.log; rm -f $$log; echo "make: booting $(IMAGE) in qemu (log: $$log)"; \
	  timeout $(IMAGE_TEST_TIMEOUT) qemu-system-x86_64 -m 2048 -smp 2 -nographic -no-reboot \
	    -cdrom $(IMAGE) -kernel dist/image-boot/vmlinuz -initrd dist/image-boot/initrd.img \
	    -append "boot=live components nopersistence noswap ipv6.disable=1 console=ttyS0,115200 custodian.selftest" \
	    < /dev/null > $$log 2>&1; \
	  tr -d '\r' < $$log | sed -n '/CUSTODIAN-SELFTEST-BEGIN/,/CUSTODIAN-SELFTEST-END/p' > dist/image-test.out; \
	  cat dist/image-test.out; \
	  grep -q 'CUSTODIAN-SELFTEST-BEGIN user=custodian' dist/image-test.out && \
	  grep -q '^version-exit=0' dist/image-test.out && \
	  grep -q '^airgap-exit=0' dist/image-test.out && \
	  grep -q '^kiosk-exit=0' dist/image-test.out && \
	  ! grep -q FINDING dist/image-test.out && \
	  grep -q "^sha256    $$(cut -d' ' -f1 dist/image-boot/custodian.sha256)" dist/image-test.out || { \
	    echo "make: image-test failed: see $$log" >&2; exit 1; }; \
	  echo "make: image-test passed: custodian version ran, the air-gap check was clean and the kiosk's GUI came up"
# ---- end of ceremony image -------------------------------------------------

# The camera path on a real V4L2 driver (not part of make test: it
# downloads Debian's kernel package and boots it in qemu, 2-4 minutes):
# vivid as an output-to-capture loopback, QR frames in, ceremony.QRScan
# reading the capture device through ceremony/transfer/camera.
CAMERA_TEST_DIR ?= /tmp/custodian-camera-vm
camera-test:
	$(call apt_install,qemu-system-x86)
	sh internal/testinfra/v4l2loop/vminit/run-vm.sh $(CAMERA_TEST_DIR)
