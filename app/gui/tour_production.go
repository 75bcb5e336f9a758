//go:build !drillbuild

package gui

import (
	"errors"
	"os"

	"fyne.io/fyne/v2"
)

// errTourNeedsDrillBuild is the production build's answer to ScreenshotsEnv.
var errTourNeedsDrillBuild = errors.New("the screenshot tour is in the drill build only: " +
	"`make screenshots` builds and runs bin/custodian-drill (make build-drill)")

// startScreenshotTour, in the production build, refuses the tour: when
// ScreenshotsEnv is set the app quits with errTourNeedsDrillBuild instead
// of opening a window nobody will look at (a CI run would hang).
func (s *shell) startScreenshotTour() <-chan error {
	if os.Getenv(ScreenshotsEnv) == "" {
		return nil
	}
	done := make(chan error, 1)
	done <- errTourNeedsDrillBuild
	go fyne.Do(s.app.Quit)
	return done
}
