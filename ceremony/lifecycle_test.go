package ceremony

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/custodian-hsm/custodian/ceremony/transcript"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token"
)

// selfTestedActivation is an activation writing its transcript to a file,
// with two of three custodians' shares opened (held in memory).
func selfTestedActivation(t *testing.T) (*Activation, *TranscriptRecorder, *[]string) {
	t.Helper()
	rec, err := OpenTranscript(t.TempDir(), Drill, "activation", "L-1", "test-hsm")
	if err != nil {
		t.Fatal(err)
	}
	a, _, sdBytes, tokens := activationWithSoftKeys(t, 3, 2, rec)
	wiped := &[]string{}
	a.WipeHook(func(label string) { *wiped = append(*wiped, label) })
	if _, err := a.LoadSD("sd.json", sdBytes); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := a.SelfTest(context.Background(), i, tokens.Options(i)); err != nil {
			t.Fatal(err)
		}
	}
	if held := a.Held(); len(held) != 2 {
		t.Fatalf("held after two self-tests: %v", held)
	}
	return a, rec, wiped
}

// verifiedEnding verifies a transcript file and returns its closing entry.
func verifiedEnding(t *testing.T, path, digest string) transcript.Entry {
	t.Helper()
	v, err := transcript.VerifyFile(path)
	if err != nil || !v.OK() {
		t.Fatalf("transcript: %v %v", v.Summary(), err)
	}
	if v.Final != digest {
		t.Errorf("the outcome's digest %s is not the transcript's %s", digest, v.Final)
	}
	return v.Entries[len(v.Entries)-1]
}

func TestCancelWipesAndClosesTheTranscript(t *testing.T) {
	a, rec, wiped := selfTestedActivation(t)
	shares := append([]*sd.Share(nil), a.opened[0], a.opened[1])
	if err := a.Cancel("Wendy", "the fire alarm rang"); err != nil {
		t.Fatal(err)
	}
	if strings.Join(*wiped, ",") != "share of Custodian A,share of Custodian B" || len(a.Held()) != 0 {
		t.Errorf("wiped %v, still held %v", *wiped, a.Held())
	}
	for _, s := range shares {
		if s.Bytes() != nil {
			t.Error("a share survived the cancellation")
		}
	}
	o := a.Outcome()
	if o == nil || o.Ending != Cancelled || o.By.Name != "Wendy" || o.Transcript != rec.Path() || len(o.Wiped) != 2 {
		t.Fatalf("outcome %+v", o)
	}
	last := verifiedEnding(t, rec.Path(), o.Digest)
	if last.Decision != "ended: cancelled" || last.Actor == nil || last.Actor.Name != "Wendy" || !strings.Contains(last.Message, "the fire alarm rang") {
		t.Errorf("closing entry %+v", last)
	}
	if a.Step() != ActCancelled {
		t.Errorf("step %s", a.Step())
	}
	if err := a.SelfTest(context.Background(), 2, token.OpenOptions{}); !errors.Is(err, ErrCancelled) {
		t.Errorf("a step after cancel: %v", err)
	}
	if err := a.Cancel("Wendy", "again"); err != nil || a.Outcome() != o {
		t.Errorf("a second cancel changed the outcome: %v", err)
	}
}

func TestAbandonWipesAndClosesTheTranscript(t *testing.T) {
	for _, why := range []string{LeftScreen, WindowClosed, Interrupted} {
		a, rec, wiped := selfTestedActivation(t)
		o, err := a.Abandon(why)
		if err != nil || o.Ending != Abandoned || len(*wiped) != 2 {
			t.Fatalf("%s: %+v %v wiped %v", why, o, err, *wiped)
		}
		last := verifiedEnding(t, rec.Path(), o.Digest)
		if last.Decision != "ended: abandoned" || !strings.Contains(last.Message, why) {
			t.Errorf("%s: closing entry %+v", why, last)
		}
		v, _ := transcript.VerifyFile(rec.Path())
		before := v.Entries[len(v.Entries)-2]
		if before.Step != "activation.abandoned" || !strings.Contains(before.Message, "in step self-test") || !strings.Contains(before.Message, "2 secret(s) wiped") {
			t.Errorf("%s: abandonment entry %+v", why, before)
		}
	}
}

func TestSignOffEndsTheCeremony(t *testing.T) {
	a, rec, wiped := selfTestedActivation(t)
	if err := a.SignOff("Wendy", true, ""); err == nil {
		t.Fatal("signed off before the quorum was proven")
	}
	if err := a.SkipSelfTest(2, "absent", "Wendy"); err != nil {
		t.Fatal(err)
	}
	if err := a.ProveQuorum(); err != nil {
		t.Fatal(err)
	}
	if len(*wiped) != 2 || len(a.Held()) != 0 {
		t.Errorf("after the proof: wiped %v held %v", *wiped, a.Held())
	}
	if err := a.SignOff("Wendy", false, ""); err == nil {
		t.Error("a refusal without a reason was accepted")
	}
	if err := a.SignOff("Wendy", false, "the serial of token 2 differs"); err != nil {
		t.Fatal(err)
	}
	o := a.Outcome()
	last := verifiedEnding(t, rec.Path(), o.Digest)
	if o.Ending != SignedOff || last.Decision != "ended: signed off" || !strings.Contains(last.Message, "DOES NOT AGREE") {
		t.Errorf("outcome %+v closing %+v", o, last)
	}
	if err := a.RecordException("late", "Wendy"); !errors.Is(err, ErrEnded) {
		t.Errorf("recording after sign-off: %v", err)
	}
}

// A share opened by a step that was blocked on a token while the ceremony
// ended is wiped at once, not kept.
func TestHoldAfterTheEndWipesAtOnce(t *testing.T) {
	l := newLifecycle("test", Drill, &MemoryRecorder{})
	var wiped []string
	l.WipeHook(func(s string) { wiped = append(wiped, s) })
	if _, err := l.Abandon(Interrupted); err != nil {
		t.Fatal(err)
	}
	s := &fakeSecret{}
	if err := l.hold(s, "late share"); !errors.Is(err, ErrCancelled) || !s.wiped || len(wiped) != 1 {
		t.Errorf("hold after the end: %v wiped=%v %v", err, s.wiped, wiped)
	}
}

type fakeSecret struct{ wiped bool }

func (f *fakeSecret) Wipe() { f.wiped = true }

func TestDrillEndsOnEveryPath(t *testing.T) {
	start := func(t *testing.T) *DrillRun {
		d, err := StartDrill(DrillConfig{Custodians: 3, Quorum: 2, Dir: filepath.Join(t.TempDir(), "drill"), Staged: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	t.Run("abandoned in the activation", func(t *testing.T) {
		d := start(t)
		a, err := d.NewActivation()
		if err != nil {
			t.Fatal(err)
		}
		if d.Current() != a.Lifecycle {
			t.Fatal("the activation is not the current workflow")
		}
		o, err := d.Abandon(WindowClosed)
		if err != nil || o.Ending != Abandoned || d.Outcome() != o {
			t.Fatalf("%+v %v", o, err)
		}
		if last := verifiedEnding(t, d.Transcript(), o.Digest); last.Decision != "ended: abandoned" {
			t.Errorf("closing entry %+v", last)
		}
	})
	t.Run("closed before it started", func(t *testing.T) {
		d := start(t)
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		o := d.Outcome()
		if o == nil || o.Ending != Abandoned || o.Digest == "" {
			t.Fatalf("outcome %+v", o)
		}
		// An abandoned drill leaves nothing, its transcript included.
		if _, err := os.Stat(d.Dir()); !errors.Is(err, os.ErrNotExist) || d.Kept() {
			t.Errorf("the abandoned drill's folder %s is still there: %v", d.Dir(), err)
		}
	})
	t.Run("a failed step cancels", func(t *testing.T) {
		d := start(t)
		a, _ := d.NewActivation()
		if _, err := a.Enroll(context.Background(), "A", "file:/nonexistent/dir/k.key", token.EnrollRequest{}, token.OpenOptions{}); err == nil {
			t.Fatal("enrolled into a missing folder")
		} else if _, err := d.Fail(err); err != nil {
			t.Fatal(err)
		}
		o := d.Outcome()
		last := verifiedEnding(t, d.Transcript(), o.Digest)
		if last.Decision != "ended: cancelled" || !strings.Contains(last.Message, "the drill stopped") {
			t.Errorf("closing entry %+v", last)
		}
	})
}

// A 3-of-5 rotation drill: five new custodians replace five old ones, the
// re-downloaded domain is checked, compared and proven, the old keys
// retired; the transcript closes signed off.
func TestRotationDrill(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "drill")
	report, err := RunDrill(context.Background(), DrillConfig{Custodians: 5, Quorum: 3, Dir: dir, Rotation: true})
	if err != nil || !report.Accepted {
		t.Fatalf("%v\n%v", err, report)
	}
	if !strings.Contains(report.String(), "same master key") || !strings.Contains(report.String(), "the rotation works end to end") {
		t.Errorf("report:\n%s", report)
	}
	v, err := transcript.VerifyFile(report.Transcript)
	if err != nil || !v.OK() || v.Ending() != "signed off" || v.Final != report.Digest {
		t.Fatalf("transcript: %s %v", v.Summary(), err)
	}
	count := map[string]int{}
	for _, e := range v.Entries {
		count[e.Step]++
	}
	if count["rotation.retire"] != 5 || count["rotation.compare"] != 1 || count["activation.self-test"] != 10 || count["rotation.to-retire"] != 1 || count["rotation.sign-off"] != 1 {
		t.Errorf("steps: %v", count)
	}
	assertDrillNames(t, dir)
	scanFor(t, dir, [][]byte{drillPIN})
}
