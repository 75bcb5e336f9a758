package gui

// ScreenshotsEnv names the environment variable that turns the GUI into a
// screenshot tour: CUSTODIAN_SCREENSHOTS=DIR makes Run visit the main
// screens in the real window (a drill with software keys in a temporary
// folder plays the ceremony), write one PNG per screen into DIR (a new
// folder) and quit. `make screenshots` runs it under Xvfb; documentation
// and reviewers get pictures of exactly what the build shows.
//
// The tour (screenshots.go) is in the drill build only (build tag
// drillbuild, `make build-drill`): it drives ceremonies by itself, which a
// production binary must never be able to do.
const ScreenshotsEnv = "CUSTODIAN_SCREENSHOTS"
