// Package locale makes the POSIX locale names readable to Fyne. Air-gapped
// machines often run with LANG=C; Fyne's locale lookup cannot parse "C" or
// "POSIX" and logs an error for it at start-up, which would clutter every
// CLI command's output. This package maps them to "en_US.UTF-8" for this
// process only.
//
// main imports it for its side effect. Go initialises packages in
// import-path order among those whose imports are ready, and this package
// needs only os, so it runs before github.com/jeandeaual/go-locale and
// therefore before fyne.io/fyne/v2/lang reads the environment.
package locale

import "os"

func init() {
	Normalize()
}

// Normalize replaces C and POSIX locale settings by en_US.UTF-8.
func Normalize() {
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		switch os.Getenv(v) {
		case "C", "POSIX", "C.UTF-8", "C.utf8":
			os.Setenv(v, "en_US.UTF-8")
		}
	}
}
