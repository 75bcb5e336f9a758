package gui

import (
	"context"
	"errors"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/custodian-hsm/custodian/crypto/token"
)

type pinAnswer struct {
	pin []byte
	err error
}

// askPIN calls the shell's PIN prompt from a worker goroutine, as token
// backends do, and returns where its answer arrives.
func askPIN(ctx context.Context, h *harness, req token.PINRequest) <-chan pinAnswer {
	out := make(chan pinAnswer, 1)
	ask := h.shell.pinPrompt()
	go func() {
		pin, err := ask(ctx, req)
		out <- pinAnswer{pin, err}
	}()
	return out
}

func waitAnswer(t *testing.T, ch <-chan pinAnswer) pinAnswer {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(30 * time.Second):
		t.Fatal("the PIN prompt never returned")
		return pinAnswer{}
	}
}

var yubikey = token.Info{Kind: token.KindYubiKey, Model: "YubiKey 5 NFC", Serial: "12345678"}

// The PIN dialog names the token and the reason, warns on the last try,
// masks what is typed, takes Enter, and forgets the text once taken.
func TestPINDialogMasksWarnsAndForgets(t *testing.T) {
	h := newHarness(t)
	answer := askPIN(context.Background(), h, token.PINRequest{Token: yubikey, What: "PIN", Reason: "open the share of custodian Alice", RetriesLeft: 1})
	h.waitShows("Enter PIN")
	for _, want := range []string{"YubiKey 5 NFC", "open the share of custodian Alice", "1 try left — a wrong PIN will block the token"} {
		if !h.shows(want) {
			t.Errorf("the PIN dialog does not say %q; it shows:\n%s", want, h.describe())
		}
	}
	entry := h.entry("PIN")
	if entry == nil {
		t.Fatal("no PIN entry in the dialog")
	}
	h.locked(func() {
		if !entry.Password {
			t.Error("the PIN entry does not mask what is typed")
		}
		if h.canvas().Focused() != fyne.Focusable(entry) {
			t.Error("the PIN entry does not have the focus: a keyboard user would type elsewhere")
		}
		test.Type(entry, "654321")
		entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	})
	a := waitAnswer(t, answer)
	if a.err != nil || string(a.pin) != "654321" {
		t.Fatalf("PIN prompt returned %q, %v; want the typed PIN", a.pin, a.err)
	}
	h.locked(func() {
		if entry.Text != "" {
			t.Error("the PIN entry still holds the PIN after it was taken")
		}
		if h.canvas().Overlays().Top() != nil {
			t.Error("the PIN dialog is still shown after OK")
		}
	})
}

func TestPINDialogRetriesShown(t *testing.T) {
	h := newHarness(t)
	answer := askPIN(context.Background(), h, token.PINRequest{Token: yubikey, What: "PUK", RetriesLeft: 3})
	h.waitShows("3 tries left")
	if h.shows("will block") {
		t.Error("the block warning is shown with 3 tries left")
	}
	h.tap("Cancel")
	waitAnswer(t, answer)
}

// Cancel gives the token an error it can report, never an empty PIN.
func TestPINDialogCancel(t *testing.T) {
	h := newHarness(t)
	answer := askPIN(context.Background(), h, token.PINRequest{Token: yubikey, What: "PIN", RetriesLeft: -1})
	h.waitShows("Enter PIN")
	if h.shows("tries left") {
		t.Error("unknown retries are shown as a number")
	}
	h.typeInto("PIN", "123")
	h.tap("Cancel")
	a := waitAnswer(t, answer)
	if !errors.Is(a.err, errPINCancelled) || a.pin != nil {
		t.Fatalf("cancel returned %q, %v; want errPINCancelled", a.pin, a.err)
	}
}

// A worker that gives up (its context ends) takes the dialog away.
func TestPINDialogGoesAwayWhenTheWorkerGivesUp(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	answer := askPIN(ctx, h, token.PINRequest{Token: yubikey, What: "PIN", RetriesLeft: -1})
	h.waitShows("Enter PIN")
	cancel()
	a := waitAnswer(t, answer)
	if !errors.Is(a.err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", a.err)
	}
	h.waitFor("the dialog to close", func() bool { return !h.shows("Enter PIN") })
}
