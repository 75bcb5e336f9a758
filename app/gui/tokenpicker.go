package gui

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/crypto/token"
)

// tokenPollInterval is how often a token list on screen looks for tokens
// plugged in or removed.
const tokenPollInterval = 2 * time.Second

// tokenPicker lists the tokens present by name (ceremony.TokenChoice) and
// keeps the list current while it is on screen. Choosing one fills the
// reference entry underneath, which can also be typed into (scripts, odd
// tokens).
type tokenPicker struct {
	s       *shell
	m       *token.Manager
	choices []ceremony.TokenChoice
	// last is what the list showed, so an unchanged poll leaves the
	// selection and the focus alone.
	last string

	radio  *widget.RadioGroup
	detail *widget.Label
	notes  *widget.Label
	Ref    *widget.Entry
	box    *fyne.Container
	// onRows, when set, is called on the UI thread after each listing
	// (the Tokens screen builds its rows from it).
	onRows func([]ceremony.TokenChoice, []error)
	// paused stops polling while a token is in use: a key being generated
	// or a share being opened must not share the card with a listing.
	paused atomic.Bool
}

// newTokenPicker builds a picker over m; start it once its screen is shown.
func (s *shell) newTokenPicker(m *token.Manager, ref string) *tokenPicker {
	p := &tokenPicker{s: s, m: m}
	p.Ref = widget.NewEntry()
	p.Ref.SetPlaceHolder("token reference: choose a token above, or type yubikey:serial=… or pkcs11:…")
	p.Ref.TextStyle = fyne.TextStyle{Monospace: true}
	p.Ref.SetText(ref)
	p.detail = widget.NewLabel("")
	p.detail.Wrapping = fyne.TextWrapWord
	p.notes = widget.NewLabel("Looking for tokens…")
	p.notes.Wrapping = fyne.TextWrapWord
	p.radio = widget.NewRadioGroup(nil, p.chosen)
	p.box = container.NewVBox(p.radio, p.detail, p.notes, p.Ref)
	return p
}

// chosen fills the reference of the token chosen by its title.
func (p *tokenPicker) chosen(title string) {
	for _, c := range p.choices {
		if c.Title() == title {
			p.Ref.SetText(c.Ref)
			p.detail.SetText(c.Detail())
			return
		}
	}
	p.detail.SetText("")
}

// tokenUse lets one thing at a time talk to the tokens: a listing (of
// this screen's picker, or of the one just left, still finishing) and a
// key being generated or opened. A YubiKey is opened exclusively, so a
// listing in flight when "Open my share" is pressed made the open fail
// with a sharing violation. Worker goroutines only: the UI thread never
// waits for it.
var tokenUse sync.Mutex

// start lists the tokens now and every tokenPollInterval until the screen
// is left.
func (p *tokenPicker) start() {
	stop := make(chan struct{})
	p.s.onLeave(func() { close(stop) })
	go func() {
		t := time.NewTicker(tokenPollInterval)
		defer t.Stop()
		for {
			if !p.paused.Load() {
				tokenUse.Lock()
				choices, errs := ceremony.ListTokenChoices(context.Background(), p.m)
				tokenUse.Unlock()
				select {
				case <-stop:
					return
				default:
				}
				p.s.do(func() { p.update(choices, errs) })
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
}

// update shows a new listing (UI thread).
func (p *tokenPicker) update(choices []ceremony.TokenChoice, errs []error) {
	var sig strings.Builder
	for _, c := range choices {
		sig.WriteString(c.Title() + "\x00" + c.Detail() + "\x00")
	}
	var notes []string
	for _, e := range errs {
		notes = append(notes, "note: "+e.Error())
	}
	if len(choices) == 0 {
		notes = append(notes, "No token found yet. Insert the token; the list updates by itself. A YubiKey needs pcscd; a PKCS#11 token needs its module installed or named with --pkcs11-module.")
	}
	sig.WriteString(strings.Join(notes, "\n"))
	if sig.String() == p.last {
		return
	}
	if p.onRows != nil {
		defer p.onRows(choices, errs)
	}
	p.last = sig.String()
	p.choices = choices
	p.notes.SetText(strings.Join(notes, "\n"))
	// Empty labels still take a line's height.
	if len(notes) == 0 {
		p.notes.Hide()
	} else {
		p.notes.Show()
	}
	var titles []string
	selected := ""
	for _, c := range choices {
		titles = append(titles, c.Title())
		if c.Ref == p.Ref.Text {
			selected = c.Title()
		}
	}
	p.radio.Options = titles
	p.radio.Selected = selected
	p.radio.Refresh()
	if selected == "" {
		p.detail.SetText("")
	} else {
		p.chosen(selected)
	}
}

// startPicker starts the picker of a screen just shown. A drill with
// software key files has no tokens to list: its reference is filled in
// and only that is shown.
func (s *shell) startPicker(p *tokenPicker, session *ceremony.DrillSession) {
	if session != nil && strings.HasPrefix(p.Ref.Text, token.SchemeFile+":") {
		p.radio.Hide()
		p.notes.SetText("Drill key file (software key, no token to insert):")
		return
	}
	p.start()
}
