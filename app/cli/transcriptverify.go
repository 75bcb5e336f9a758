package cli

import (
	"fmt"

	"github.com/custodian-hsm/custodian/ceremony/transcript"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// maxTranscript bounds a transcript file: a ceremony writes a few hundred
// lines, far under this.
const maxTranscript = 64 << 20

// transcriptVerifyCmd checks a transcript's chain and says where it was
// altered; exit 1 when it was.
func transcriptVerifyCmd(env *Env, args []string) error {
	fs := newFlags(env, "transcript verify")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErrorf("name one transcript file: custodian transcript verify FILE")
	}
	if err := safefile.CheckRegular(fs.Arg(0), maxTranscript); err != nil {
		return inputError("transcript", fs.Arg(0), err)
	}
	v, err := transcript.VerifyFile(fs.Arg(0))
	if err != nil {
		return usageErrorf("reading %s: %v", fs.Arg(0), err)
	}
	if !v.OK() {
		for _, p := range v.Problems {
			fmt.Fprintf(env.Stdout, "ALTERED %s\n", p)
		}
		return failuref("transcript %s failed verification: %d problem(s), see above", fs.Arg(0), len(v.Problems))
	}
	fp, _ := fingerprint.FromHex(v.Final)
	c := v.Ceremony()
	fmt.Fprintf(env.Stdout, "transcript OK: %d entries", len(v.Entries))
	if c != nil {
		fmt.Fprintf(env.Stdout, ", %s %s ceremony %s", c.Mode, c.Kind, c.ID)
	}
	fmt.Fprintf(env.Stdout, "\nfinal digest %s\n             %s\n", fp.GroupedHex(), fp.WordString())
	return nil
}
