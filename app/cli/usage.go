package cli

import "sort"

// Usages lists every command's usage line, sorted, as `custodian help`
// prints them. The man page generator (internal/releasetool) reads them so
// that the manual cannot drift from the program.
func Usages() []string {
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, commands[n].usage)
	}
	return out
}
