package cli

import (
	"bytes"
	"fmt"

	"github.com/custodian-hsm/custodian/ceremony/printout"
	"github.com/custodian-hsm/custodian/ceremony/transcript"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// transcriptPrintCmd renders the printable record of a transcript. A
// transcript that fails verification is refused unless --force, which
// stamps FAILED VERIFICATION on every page.
func transcriptPrintCmd(env *Env, args []string) error {
	fs := newFlags(env, "transcript print")
	out := fs.String("out", "", "where to write the record (PDF)")
	force := fs.Bool("force", false, "print an altered transcript anyway, stamped FAILED VERIFICATION")
	// The transcript may come before the flags, as in the documented form.
	var file string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		file, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	}
	if file == "" {
		return usageErrorf("name the transcript: custodian transcript print FILE --out record.pdf")
	}
	if err := refuseExisting("--out", *out); err != nil {
		return err
	}
	if err := safefile.CheckRegular(file, maxTranscript); err != nil {
		return inputError("transcript", file, err)
	}
	v, err := transcript.VerifyFile(file)
	if err != nil {
		return usageErrorf("reading %s: %v", file, err)
	}
	if !v.OK() && !*force {
		for _, p := range v.Problems {
			fmt.Fprintf(env.Stdout, "ALTERED %s\n", p)
		}
		return failuref("%s failed verification: not printed (use --force to print it stamped FAILED VERIFICATION)", file)
	}
	var pdf bytes.Buffer
	if err := printout.Render(v, &pdf, printout.Options{Compress: true}); err != nil {
		return failuref("%v", err)
	}
	if err := safefile.Write(*out, pdf.Bytes()); err != nil {
		return writeFailed(*out, err)
	}
	fmt.Fprintf(env.Stdout, "wrote %s: %d entries, final digest %s\n", *out, len(v.Entries), v.Final)
	return nil
}
