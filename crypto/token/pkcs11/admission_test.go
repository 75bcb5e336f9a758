package pkcs11

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ThalesGroup/crypto11"
	p11 "github.com/miekg/pkcs11"

	"github.com/custodian-hsm/custodian/crypto/token"
)

// copyModule copies the SoftHSM module to dir/name (root-owned, 0755 when
// the tests run as root) so that tests can give it other owners, modes and
// names than the system's.
func copyModule(t *testing.T, dir, name string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("module ownership checks need the tests to run as root")
	}
	src, err := os.Open(hsm.Module)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := filepath.Join(dir, name)
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, src); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

func mustURI(t *testing.T, s string) *token.URI {
	t.Helper()
	u, err := token.ParseURI(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// A production provider never loads SoftHSM: not from the system list,
// not from --pkcs11-module, not from a reference's module-path, and not
// from $CUSTODIAN_PKCS11_MODULE.
func TestProductionNeverLoadsSoftHSM(t *testing.T) {
	ref := newToken(t)
	t.Setenv(ModuleEnv, hsm.Module)
	p := New(Options{Modules: []string{hsm.Module}, ConfigFile: "-"})
	for _, m := range p.Modules() {
		if isSoftHSMFile(m.Resolved) {
			t.Fatalf("production list holds SoftHSM: %+v", m)
		}
	}
	if probs := p.Problems(); len(probs) == 0 || !strings.Contains(errors.Join(probs...).Error(), "drill module") {
		t.Errorf("--pkcs11-module SoftHSM in production: problems %v", probs)
	}
	asked := false
	ask := token.OpenOptions{PIN: func(context.Context, token.PINRequest) ([]byte, error) { asked = true; return []byte("1234"), nil }}
	var me *ModuleError
	if _, err := p.OpenKey(context.Background(), ref, ask); !errors.As(err, &me) || !strings.Contains(err.Error(), "drill module") {
		t.Errorf("production OpenKey of a SoftHSM reference: %v", err)
	}
	if _, err := p.Enroll(context.Background(), ref, token.EnrollRequest{Name: "Alice"}, ask); !errors.As(err, &me) {
		t.Errorf("production Enroll on a SoftHSM reference: %v", err)
	}
	if asked {
		t.Error("a PIN was asked for a module that must not be loaded")
	}
	infos, _ := p.List(context.Background())
	for _, in := range infos {
		if in.Label == ref.Get("token") {
			t.Errorf("production List shows the SoftHSM token %v", in)
		}
	}
}

// SoftHSM under another file name is still SoftHSM: its C_GetInfo
// identity gives it away, and a production provider refuses its tokens.
func TestSoftHSMKnownByIdentityNotName(t *testing.T) {
	ref := newToken(t)
	renamed := copyModule(t, t.TempDir(), "libvendor-hsm.so")
	p := New(Options{Modules: []string{renamed}, ConfigFile: "-"})
	if len(p.Modules()) == 0 || p.Modules()[0].Resolved != renamed {
		t.Fatalf("the renamed module should pass the file checks: %v %v", p.Modules(), p.Problems())
	}
	r := ref.With("token", ref.Get("token"))
	r.Query["module-path"] = renamed
	var me *ModuleError
	if _, err := p.Describe(context.Background(), r); !errors.As(err, &me) || !strings.Contains(err.Error(), "SoftHSM") {
		t.Errorf("renamed SoftHSM in production: %v", err)
	}
	d := New(Options{Modules: []string{renamed}, ConfigFile: "-", Drill: true})
	info, err := d.Describe(context.Background(), r)
	if err != nil || !info.Drill {
		t.Errorf("renamed SoftHSM in a drill: drill=%v err=%v", info.Drill, err)
	}
}

// A module-path that is not on the list is refused before anything is
// loaded, even when the file itself would pass the checks.
func TestModuleNotOnTheListIsRefused(t *testing.T) {
	other := copyModule(t, t.TempDir(), "libother.so")
	p := drillProvider()
	r := mustURI(t, "pkcs11:token=x?module-path="+other)
	var me *ModuleError
	_, err := p.Describe(context.Background(), r)
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "not on the list") {
		t.Fatalf("module not on the list: %v", err)
	}
	if _, loaded := modules[other]; loaded {
		t.Error("the module was loaded although it is not on the list")
	}
}

// CheckModule refuses writable modules, modules not owned by root, and
// links not owned by root; it follows symlinks to a regular file.
func TestCheckModule(t *testing.T) {
	dir := t.TempDir()
	good := copyModule(t, dir, "libgood.so")
	if r, err := CheckModule(good); err != nil || r != good {
		t.Fatalf("good module: %q %v", r, err)
	}
	resolved, err := CheckModule(hsm.Module)
	if err != nil || filepath.Base(resolved) != "libsofthsm2.so" {
		t.Errorf("system module through Debian's symlink: %q %v", resolved, err)
	}
	writable := copyModule(t, dir, "libwritable.so")
	if err := os.Chmod(writable, 0o777); err != nil {
		t.Fatal(err)
	}
	notRoot := copyModule(t, dir, "libnotroot.so")
	if err := os.Chown(notRoot, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "liblink.so")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "open")
	if err := os.Mkdir(sub, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sub, 0o777); err != nil {
		t.Fatal(err)
	}
	inOpenDir := copyModule(t, sub, "libopen.so")
	for _, c := range []struct{ path, want string }{
		{writable, "writable by group or others"},
		{notRoot, "not root"},
		{link, "not root"},
		{inOpenDir, "directory " + sub + " is writable"},
		{dir, "not a regular file"},
		{"relative.so", "absolute"},
		{filepath.Join(dir, "missing.so"), "no such file"},
	} {
		_, err := CheckModule(c.path)
		var me *ModuleError
		if !errors.As(err, &me) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckModule(%s) = %v, want %q", c.path, err, c.want)
		}
	}
	// Such a module named with --pkcs11-module is left off the list and
	// reported.
	p := New(Options{Modules: []string{writable}, ConfigFile: "-", Drill: true})
	for _, m := range p.Modules() {
		if m.Resolved == writable {
			t.Error("a writable module is on the list")
		}
	}
	if len(p.Problems()) == 0 {
		t.Error("a writable --pkcs11-module is not reported")
	}
}

// The configuration file adds modules only when root owns it and nobody
// else can write it.
func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	mod := copyModule(t, dir, "libconfigured.so")
	conf := filepath.Join(dir, "pkcs11-modules")
	if err := os.WriteFile(conf, []byte("# vendor modules\n"+mod+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := New(Options{ConfigFile: conf, Drill: true})
	found := false
	for _, m := range p.Modules() {
		found = found || m.Resolved == mod
	}
	if !found {
		t.Fatalf("configured module not on the list: %v %v", p.Modules(), p.Problems())
	}
	if err := os.Chmod(conf, 0o666); err != nil {
		t.Fatal(err)
	}
	p = New(Options{ConfigFile: conf, Drill: true})
	for _, m := range p.Modules() {
		if m.Resolved == mod {
			t.Error("a module from a world-writable configuration file is on the list")
		}
	}
	if len(p.Problems()) == 0 || !strings.Contains(p.Problems()[0].Error(), "ignored") {
		t.Errorf("problems %v", p.Problems())
	}
}

// Two tokens with the same label: a reference naming only the label is
// refused before any PIN is asked, and the error says serial tells them
// apart.
func TestAmbiguousLabelIsRefusedBeforeLogin(t *testing.T) {
	p := drillProvider()
	// The drill helper refuses a second token with the same label, so the
	// twins differ in label and the reference names only what they share.
	for _, label := range []string{"twin-label-a", "twin-label-b"} {
		if err := hsm.InitToken(label, []byte("87654321"), []byte("1234")); err != nil {
			t.Fatal(err)
		}
	}
	asked := 0
	ask := token.OpenOptions{PIN: func(context.Context, token.PINRequest) ([]byte, error) { asked++; return []byte("1234"), nil }}
	ref := mustURI(t, "pkcs11:manufacturer=SoftHSM%20project?module-path="+hsm.Module)
	var amb *token.AmbiguousError
	if _, err := p.Enroll(context.Background(), ref, token.EnrollRequest{Name: "Alice"}, ask); !errors.As(err, &amb) {
		t.Fatalf("ambiguous reference: %v", err)
	}
	if len(amb.Matches) < 2 || !contains(amb.Distinguish, "serial") || !strings.Contains(amb.Error(), "serial") {
		t.Errorf("ambiguity error: %v (distinguish %v)", amb, amb.Distinguish)
	}
	if _, err := p.OpenKey(context.Background(), ref, ask); !errors.As(err, &amb) {
		t.Errorf("OpenKey with an ambiguous reference: %v", err)
	}
	if asked != 0 {
		t.Errorf("a PIN was asked %d times for an ambiguous reference", asked)
	}
	// Naming the serial selects one.
	one := ref.With("serial", amb.Matches[1].Serial)
	if info, err := p.Describe(context.Background(), one); err != nil || info.Serial != amb.Matches[1].Serial {
		t.Errorf("serial-qualified reference: %v %v", info, err)
	}
}

// Two tokens with the same serial and label: SoftHSM refuses two tokens
// with one serial in one instance, so the same token is seen through two
// copies of the module (the way two PIV cards without a CHUID both report
// serial 00000000 through OpenSC). A reference naming the serial is refused
// before login and the error says module-path tells them apart; naming it
// selects one, and the PIN reaches that one.
func TestSameSerialTokens(t *testing.T) {
	ref := newToken(t)
	twin := copyModule(t, t.TempDir(), "libtwin.so")
	p := New(Options{Modules: []string{twin}, ConfigFile: "-", Drill: true})
	e := enroll(t, p, ref, 2048)
	serialRef := mustURI(t, "pkcs11:serial="+e.Token.Serial)
	asked := 0
	ask := token.OpenOptions{PIN: func(context.Context, token.PINRequest) ([]byte, error) { asked++; return []byte("1234"), nil }}
	var amb *token.AmbiguousError
	if _, err := p.OpenKey(context.Background(), serialRef, ask); !errors.As(err, &amb) {
		t.Fatalf("two tokens with serial %s: %v", e.Token.Serial, err)
	}
	if asked != 0 {
		t.Error("a PIN was asked although two tokens share the serial")
	}
	if !contains(amb.Distinguish, "module-path") || contains(amb.Distinguish, "serial") || !strings.Contains(amb.Error(), "add module-path=") {
		t.Errorf("distinguish %v (%v), want module-path and not serial", amb.Distinguish, amb)
	}
	for _, mod := range []string{twin, hsm.Module} {
		r := serialRef.With("serial", e.Token.Serial)
		r.Query["module-path"] = mod
		k, err := p.OpenKey(context.Background(), r, ask)
		if err != nil {
			t.Fatalf("module-path %s: %v", mod, err)
		}
		want, _ := filepath.EvalSymlinks(mod)
		if got := k.(*Key).t.module; got != want {
			t.Errorf("opened through %s, asked for %s", got, want)
		}
		k.Close()
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.Mkdir(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		b, err := os.ReadFile(filepath.Join(src, en.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, en.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Custodian keys carry the least capability: decrypt and unwrap, not
// copyable or modifiable, a neutral label (readable without the PIN), the
// certificate's subject.
func TestKeyAttributesAreLeastCapability(t *testing.T) {
	p := drillProvider()
	ref := newToken(t)
	e := enroll(t, p, ref, 2048)
	c11, err := crypto11.Configure(&crypto11.Config{Path: hsm.Module, TokenLabel: ref.Get("token"), Pin: "1234"})
	if err != nil {
		t.Fatal(err)
	}
	defer c11.Close()
	kp, err := c11.FindRSAKeyPair([]byte(e.Ref.Get("id")), nil)
	if err != nil || kp == nil {
		t.Fatalf("key not found: %v", err)
	}
	want := map[crypto11.AttributeType]bool{p11.CKA_DECRYPT: true, p11.CKA_UNWRAP: true, p11.CKA_COPYABLE: false, p11.CKA_MODIFIABLE: false, p11.CKA_EXTRACTABLE: false, p11.CKA_SENSITIVE: true}
	for typ, v := range want {
		a, err := c11.GetAttribute(kp, typ)
		if err != nil || len(a.Value) != 1 || (a.Value[0] == 1) != v {
			t.Errorf("attribute %#x = %v (%v), want %v", typ, a, err, v)
		}
	}
	label, err := c11.GetAttribute(kp, p11.CKA_LABEL)
	if err != nil || string(label.Value) != token.NeutralLabel || strings.Contains(string(label.Value), "Alice") {
		t.Errorf("label %q (%v): want the neutral %q, never the custodian's name", label.Value, err, token.NeutralLabel)
	}
	subj, err := c11.GetAttribute(kp, p11.CKA_SUBJECT)
	if err != nil || !bytes.Equal(subj.Value, e.Certificate.RawSubject) {
		t.Errorf("CKA_SUBJECT %x (%v), want the certificate's subject %x", subj.Value, err, e.Certificate.RawSubject)
	}
	if e.Ref.Get("object") != "" {
		t.Errorf("the key reference carries a label: %s", e.Ref)
	}
}
