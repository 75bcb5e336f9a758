package gui

import "github.com/custodian-hsm/custodian/ceremony"

// runningCeremony is the lifecycle of the ceremony on screen, nil when
// none is running (Home, set-up screens, an ended ceremony).
func (s *shell) runningCeremony() *ceremony.Lifecycle {
	var l *ceremony.Lifecycle
	switch w := s.wizard.(type) {
	case *activationWizard:
		l = w.a.Lifecycle
	case *recoveryWizard:
		l = w.r.Lifecycle
	}
	if l == nil || l.Ended() {
		return nil
	}
	return l
}

// abandonRunning ends the ceremony on screen as abandoned, for why: its
// shares are wiped and its transcript closed. Asking first ("End this
// ceremony?") is the caller's part.
func (s *shell) abandonRunning(why string) *ceremony.Outcome {
	l := s.runningCeremony()
	if l == nil {
		return nil
	}
	o, _ := l.Abandon(why)
	return o
}

// closeRequested is the window's close intercept: a running ceremony is
// abandoned (wiped, transcript closed) before the window goes.
func (s *shell) closeRequested() {
	s.abandonRunning(ceremony.WindowClosed)
	s.win.Close()
}
