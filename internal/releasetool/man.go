package main

import (
	"fmt"
	"io"
	"strings"
)

// writeMan writes custodian(1). The date is left out on purpose: the page
// goes into the .deb, whose bytes should depend on the source alone.
func writeMan(w io.Writer, version string, usages []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH CUSTODIAN 1 \"\" \"custodian %s\" \"User Commands\"\n", roff(version))
	b.WriteString(".SH NAME\ncustodian \\- key ceremonies for Azure Key Vault Managed HSM security domains\n")
	b.WriteString(".SH SYNOPSIS\n.B custodian\n.br\n.B custodian\n.I command\n.RI [ options ]\n")
	b.WriteString(".SH DESCRIPTION\n" +
		"Custodian runs the key ceremonies of an Azure Key Vault Managed HSM security domain on an " +
		"air-gapped machine: activation (custodians enroll keys on tokens and the HSM's security " +
		"domain is downloaded), recovery (a quorum of custodians restores the security domain) and " +
		"drills that rehearse both with throw-away keys. Private keys stay on the tokens; every step " +
		"is written to a hash-chained transcript.\n" +
		".PP\nWith no arguments Custodian opens its graphical interface. With a command it runs that " +
		"command on the terminal. PINs and passphrases are asked on the terminal, never taken from " +
		"options or the environment.\n")
	b.WriteString(".SH COMMANDS\n")
	for _, u := range usages {
		fmt.Fprintf(&b, ".TP\n.B custodian %s\n", roff(u))
	}
	b.WriteString(".SH EXIT STATUS\n.TP\n.B 0\nsuccess\n.TP\n.B 1\nthe operation ran and failed " +
		"(a verification found a problem, not enough shares, an air-gap finding)\n.TP\n.B 2\n" +
		"bad usage or bad input\n.PP\nOn failure the last line on standard error starts with " +
		"\\(lqcustodian: \\(rq and says what failed and what to do.\n")
	b.WriteString(".SH VERIFYING THE BINARY\n.B custodian version\nprints the SHA-256 of the running " +
		"binary as hex and as words; the status bar shows the same, and every transcript records it. " +
		"Compare them with the published release before a ceremony.\n")
	b.WriteString(".SH SEE ALSO\n.BR pcscd (8),\n.BR pkcs11-tool (1)\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// roff escapes text for a roff line: backslashes, and hyphens (which
// would otherwise render as typographic hyphens, not the ASCII minus an
// option needs), and a leading dot or quote.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
