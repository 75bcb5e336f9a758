package pkcs11

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// A PKCS#11 module is native code loaded into the process that holds every
// custodian's share and, later, the master key. Which modules may be
// loaded is therefore configuration fixed when Custodian starts, never
// input: a reference's module-path only chooses among the configured
// modules, and every module is checked before dlopen (see CheckModule).

// SystemModules are the well-known places where Debian and Ubuntu install
// hardware modules: OpenSC (PIV cards, Nitrokey HSM, smart-card HSMs),
// Yubico's ykcs11, and vendor modules installed under /usr/lib. Those that
// exist are on the production list.
var SystemModules = []string{
	"/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
	"/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
	"/usr/lib/opensc-pkcs11.so",
	"/usr/lib/x86_64-linux-gnu/libykcs11.so.2",
	"/usr/lib/aarch64-linux-gnu/libykcs11.so.2",
	"/usr/lib/x86_64-linux-gnu/libykcs11.so",
	"/usr/lib/aarch64-linux-gnu/libykcs11.so",
	"/usr/lib/libeTPkcs11.so",      // Thales (SafeNet) eToken / SafeNet Authentication Client
	"/usr/lib/libIDPrimePKCS11.so", // Thales IDPrime
}

// DrillModules are where Debian and Ubuntu install SoftHSM2. SoftHSM is a
// drill module: never on the production list, always allowed in a drill,
// and every token it serves is a drill token.
var DrillModules = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
}

// DefaultConfigFile lists further modules, one absolute path a line (#
// comments). It is read only when it and its directories are owned by root
// and writable by nobody else, so only the machine's administrator can add
// a module.
const DefaultConfigFile = "/etc/custodian/pkcs11-modules"

// ModuleEnv names a module for drills; production ignores it.
const ModuleEnv = "CUSTODIAN_PKCS11_MODULE"

// Module is a PKCS#11 module Custodian may load.
type Module struct {
	// Path is the module as named; Resolved is the file after symlinks,
	// which is what references are compared against and what is loaded.
	Path, Resolved string
	// Source says where the module came from ("system", "--pkcs11-module",
	// the configuration file, "drill").
	Source string
	// Drill is set for SoftHSM, known by its resolved file name before
	// loading and by its C_GetInfo identity after.
	Drill bool
}

// ModuleError is a module Custodian refuses to load: bad input or bad
// configuration, never a token failure.
type ModuleError struct {
	Path   string
	Reason string
}

func (e *ModuleError) Error() string {
	return fmt.Sprintf("PKCS#11 module %s refused: %s", e.Path, e.Reason)
}

// isSoftHSMFile recognises SoftHSM2 by its resolved file name, so that it
// is kept off the production list before it is ever loaded.
func isSoftHSMFile(resolved string) bool {
	return filepath.Base(resolved) == "libsofthsm2.so"
}

// CheckModule resolves a module's symlinks and checks, before any dlopen,
// that the target is a regular file; that the target, every link on the
// way and every directory holding them are owned by root and not writable
// by group or others (a root-owned sticky directory such as /tmp protects
// root's entries and is accepted); and that none lies on removable media.
// It returns the resolved path.
func CheckModule(path string) (string, error) {
	if !filepath.IsAbs(path) {
		return "", &ModuleError{Path: path, Reason: "not an absolute path"}
	}
	cur := filepath.Clean(path)
	for hops := 0; ; hops++ {
		if hops > 32 {
			return "", &ModuleError{Path: path, Reason: "too many symbolic links"}
		}
		st, err := os.Lstat(cur)
		if err != nil {
			return "", &ModuleError{Path: path, Reason: err.Error()}
		}
		if err := checkOwner(cur, st, st.Mode()&os.ModeSymlink == 0); err != nil {
			return "", &ModuleError{Path: path, Reason: err.Error()}
		}
		if err := checkParents(cur); err != nil {
			return "", &ModuleError{Path: path, Reason: err.Error()}
		}
		if err := checkNotRemovable(cur, st); err != nil {
			return "", &ModuleError{Path: path, Reason: err.Error()}
		}
		if st.Mode()&os.ModeSymlink == 0 {
			if !st.Mode().IsRegular() {
				return "", &ModuleError{Path: path, Reason: cur + " is not a regular file"}
			}
			return cur, nil
		}
		target, err := os.Readlink(cur)
		if err != nil {
			return "", &ModuleError{Path: path, Reason: err.Error()}
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(cur), target)
		}
		cur = filepath.Clean(target)
	}
}

// checkOwner: owned by root; a file (not a link, whose mode bits mean
// nothing) not writable by group or others.
func checkOwner(p string, st os.FileInfo, file bool) error {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("cannot read the owner of %s", p)
	}
	if sys.Uid != 0 {
		return fmt.Errorf("%s is owned by uid %d, not root: only root-owned modules are loaded", p, sys.Uid)
	}
	if file && st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is writable by group or others (mode %v): chmod go-w it", p, st.Mode().Perm())
	}
	return nil
}

// checkParents checks every directory above p: root-owned, and either not
// writable by group or others, or sticky (then nobody else can replace
// root's entries).
func checkParents(p string) error {
	for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
		st, err := os.Stat(dir)
		if err != nil {
			return err
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if !ok || sys.Uid != 0 {
			return fmt.Errorf("directory %s is not owned by root", dir)
		}
		if st.Mode().Perm()&0o022 != 0 && st.Mode()&os.ModeSticky == 0 {
			return fmt.Errorf("directory %s is writable by group or others (mode %v)", dir, st.Mode().Perm())
		}
		if dir == "/" || dir == "." {
			return nil
		}
	}
}

// checkNotRemovable refuses a file on removable media (a USB stick, an SD
// card): the block device's sysfs entry, or a parent's, says removable, or
// the device hangs off USB or MMC.
func checkNotRemovable(p string, st os.FileInfo) error {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	dev, err := filepath.EvalSymlinks(fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(uint64(sys.Dev)), unix.Minor(uint64(sys.Dev))))
	if err != nil {
		return nil // not a block device (tmpfs, overlay): not removable media
	}
	if strings.Contains(dev, "/usb") || strings.Contains(dev, "/mmc") {
		return fmt.Errorf("%s is on removable media (%s): modules are loaded only from the system disk", p, filepath.Base(dev))
	}
	for d := dev; strings.HasPrefix(d, "/sys/devices/"); d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "removable")); err == nil {
			if bytes.Equal(bytes.TrimSpace(b), []byte("1")) {
				return fmt.Errorf("%s is on removable media (%s): modules are loaded only from the system disk", p, filepath.Base(dev))
			}
			return nil
		}
	}
	return nil
}

// readConfigFile reads the module list file. A missing file is no list; a
// file that is not root-owned or is writable by others is refused whole.
func readConfigFile(path string) ([]string, error) {
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := checkOwner(path, st, true); err != nil {
		return nil, fmt.Errorf("module list %s ignored: %w", path, err)
	}
	if st.Mode()&os.ModeSymlink != 0 || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("module list %s ignored: not a regular file", path)
	}
	if err := checkParents(path); err != nil {
		return nil, fmt.Errorf("module list %s ignored: %w", path, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out, sc.Err()
}

// buildModules fixes the list of modules this provider may load. Explicit
// modules (flags, the configuration file) that fail their checks are
// reported in problems; system paths that do not exist are skipped.
func buildModules(opts Options) (mods []Module, problems []error) {
	type cand struct {
		path, source string
		optional     bool
	}
	var cands []cand
	for _, m := range opts.Modules {
		cands = append(cands, cand{m, "--pkcs11-module", false})
	}
	conf := opts.ConfigFile
	if conf == "" {
		conf = DefaultConfigFile
	}
	if conf != "-" {
		lines, err := readConfigFile(conf)
		if err != nil {
			problems = append(problems, err)
		}
		for _, l := range lines {
			cands = append(cands, cand{l, conf, false})
		}
	}
	if opts.Drill {
		if env := os.Getenv(ModuleEnv); env != "" {
			cands = append(cands, cand{env, "$" + ModuleEnv + " (drill)", false})
		}
		for _, m := range DrillModules {
			cands = append(cands, cand{m, "drill", true})
		}
	}
	for _, m := range SystemModules {
		cands = append(cands, cand{m, "system", true})
	}
	seen := map[string]bool{}
	for _, c := range cands {
		if c.optional {
			if _, err := os.Stat(c.path); err != nil {
				continue
			}
		}
		resolved, err := CheckModule(c.path)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s (from %s): %w", c.path, c.source, err))
			continue
		}
		drill := isSoftHSMFile(resolved)
		if drill && !opts.Drill {
			problems = append(problems, &ModuleError{Path: c.path, Reason: "SoftHSM is a drill module: it is never loaded by a production ceremony (use --drill)"})
			continue
		}
		if seen[resolved] {
			continue
		}
		seen[resolved] = true
		mods = append(mods, Module{Path: c.path, Resolved: resolved, Source: c.source, Drill: drill})
	}
	return mods, problems
}

// Modules returns the modules this provider may load.
func (p *Provider) Modules() []Module { return append([]Module(nil), p.mods...) }

// Problems returns the configured modules that were refused, so that a
// front-end can say why a module it was given is not used.
func (p *Provider) Problems() []error { return append([]error(nil), p.problems...) }

// selectModules picks the modules a reference may use: the one its
// module-path names (compared after resolving symlinks) or whose file its
// module-name names, or all of them. A module not on the list is refused
// before anything is loaded.
func (p *Provider) selectModules(query map[string]string) ([]Module, error) {
	if mp := query["module-path"]; mp != "" {
		resolved, err := filepath.EvalSymlinks(mp)
		if err != nil {
			return nil, &ModuleError{Path: mp, Reason: err.Error()}
		}
		for _, m := range p.mods {
			if m.Resolved == resolved {
				return []Module{m}, nil
			}
		}
		return nil, &ModuleError{Path: mp, Reason: "not on the list of modules Custodian may load (" + p.listText() + "); an administrator adds a module with --pkcs11-module PATH or in " + DefaultConfigFile + why(p, resolved)}
	}
	if mn := query["module-name"]; mn != "" {
		for _, m := range p.mods {
			base := strings.TrimSuffix(filepath.Base(m.Resolved), filepath.Ext(m.Resolved))
			if base == mn || strings.TrimPrefix(base, "lib") == mn || filepath.Base(m.Path) == mn {
				return []Module{m}, nil
			}
		}
		return nil, &ModuleError{Path: mn, Reason: "no module of that name on the list (" + p.listText() + ")"}
	}
	if len(p.mods) == 0 {
		msg := "no PKCS#11 module is configured: install OpenSC or your token vendor's module, or name one with --pkcs11-module PATH"
		if len(p.problems) > 0 {
			msg += " (refused: " + errors.Join(p.problems...).Error() + ")"
		}
		return nil, errors.New(msg)
	}
	return p.mods, nil
}

// why adds the reason a module was refused at start, when it was.
func why(p *Provider, resolved string) string {
	if isSoftHSMFile(resolved) && !p.opts.Drill {
		return "; SoftHSM is a drill module, allowed only with --drill"
	}
	return ""
}

func (p *Provider) listText() string {
	if len(p.mods) == 0 {
		return "none"
	}
	var s []string
	for _, m := range p.mods {
		s = append(s, m.Resolved)
	}
	return strings.Join(s, ", ")
}
