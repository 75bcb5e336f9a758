package cli

import (
	"errors"
	"fmt"

	"github.com/custodian-hsm/custodian/ceremony/transcript"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// maxTranscript bounds a transcript file: a ceremony writes a few hundred
// lines, far under this.
const maxTranscript = 64 << 20

// fileThenFlags lets a command take its one file before its flags, as the
// documented form `custodian transcript verify FILE --digest D` does.
func fileThenFlags(args []string) (string, []string) {
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		return args[0], args[1:]
	}
	return "", args
}

// transcriptVerifyCmd checks a transcript's chain, byte for byte, and says
// where it was altered; with --digest it also checks that the transcript
// ends in the digest the witnesses signed. Exit 1 when it was altered. It
// never writes.
func transcriptVerifyCmd(env *Env, args []string) error {
	fs := newFlags(env, "transcript verify")
	digest := fs.String("digest", "", "the final digest on the signed record: 64 hex digits (grouped or not) or the 32 words")
	file, args := fileThenFlags(args)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return usageErrorf("name one transcript file: custodian transcript verify FILE [--digest HEX|WORDS]")
	}
	if file == "" {
		return usageErrorf("name one transcript file: custodian transcript verify FILE [--digest HEX|WORDS]")
	}
	var want *fingerprint.Fingerprint
	if *digest != "" {
		f, err := fingerprint.Parse(*digest)
		if err != nil {
			return usageErrorf("--digest: %v", err)
		}
		want = &f
	}
	if err := safefile.CheckRegular(file, maxTranscript); err != nil {
		return inputError("transcript", file, err)
	}
	v, err := transcript.VerifyFile(file)
	if err != nil {
		return usageErrorf("reading %s: %v", file, err)
	}
	if want != nil {
		v.CheckDigest(want.Hex())
	}
	if fp, ok := fingerprint.FromHex(v.Final); ok {
		fmt.Fprintf(env.Stdout, "final digest: %s\n              %s\n", fp.GroupedHex(), fp.WordString())
	}
	if !v.OK() {
		for _, p := range v.Problems {
			fmt.Fprintf(env.Stdout, "ALTERED %s\n", p)
		}
		return failuref("transcript %s failed verification: %d problem(s), see above", file, len(v.Problems))
	}
	c := v.Ceremony()
	fmt.Fprintf(env.Stdout, "transcript OK: %d entries", len(v.Entries))
	if c != nil {
		fmt.Fprintf(env.Stdout, ", %s %s ceremony %s", c.Mode, c.Kind, c.ID)
	}
	fmt.Fprintf(env.Stdout, ", ended: %s\n", v.Ending())
	if want != nil {
		fmt.Fprintln(env.Stdout, "the final digest matches the signed record")
	}
	return nil
}

// transcriptSealCmd closes a transcript that a crash or a power loss left
// open, with the closing entry "interrupted". A transcript that does not
// verify up to its last entry is left alone and reported (exit 1).
func transcriptSealCmd(env *Env, args []string) error {
	fs := newFlags(env, "transcript seal")
	file, args := fileThenFlags(args)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if fs.NArg() > 0 || file == "" {
		return usageErrorf("name one transcript file: custodian transcript seal FILE")
	}
	if err := safefile.CheckRegular(file, maxTranscript); err != nil {
		return inputError("transcript", file, err)
	}
	v, err := transcript.Seal(file, nil)
	var refused *transcript.SealRefusedError
	if errors.As(err, &refused) {
		for _, p := range refused.Verification.Problems {
			fmt.Fprintf(env.Stdout, "ALTERED %s\n", p)
		}
		return failuref("%v", err)
	}
	if err != nil {
		return failuref("sealing %s: %v", file, err)
	}
	fp, _ := fingerprint.FromHex(v.Final)
	fmt.Fprintf(env.Stdout, "sealed %s: closing entry \"interrupted\" appended after %d entries\n", file, len(v.Entries)-1)
	fmt.Fprintf(env.Stdout, "final digest: %s\n              %s\n", fp.GroupedHex(), fp.WordString())
	if !v.OK() {
		return failuref("the sealed transcript does not verify: %s", v.Summary())
	}
	return nil
}
