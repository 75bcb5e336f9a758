package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/custodian-hsm/custodian/crypto/drillhsm"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/crypto/sd"
	"github.com/custodian-hsm/custodian/crypto/token"
	"github.com/custodian-hsm/custodian/crypto/token/soft"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// cmdDrillKeys makes software custodian key pairs for drills, named and
// laid out as the openssl quickstart makes them (cert_i.key, cert_i.cer).
func cmdDrillKeys(env *Env, args []string) error {
	fs := newFlags(env, "drill keys")
	dir := fs.String("dir", "", "folder for the key pairs (created if missing)")
	count := fs.Int("count", 3, "number of custodians (3–10)")
	bits := fs.Int("bits", 2048, "key size: 2048, 3072 or 4096")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usageErrorf("--dir is required")
	}
	if err := intIn("--count", *count, sd.MinShares, sd.MaxShares, "a security domain has 3 to 10 custodians"); err != nil {
		return err
	}
	if err := intOneOf("--bits", *bits, 2048, 3072, 4096); err != nil {
		return err
	}
	// The key pairs are made in a staging folder next to --dir and moved
	// there together: an interrupted run leaves no half set of keys.
	stage, err := safefile.Stage(*dir)
	if errors.Is(err, safefile.ErrExists) {
		return usageErrorf("--dir %s already holds files: drill keys go into a new or empty folder", *dir)
	}
	if err != nil {
		return failuref("%v", err)
	}
	defer stage.Abort()
	var lines []string
	for i := 0; i < *count; i++ {
		keyPath := filepath.Join(stage.Path(), fmt.Sprintf("cert_%d.key", i))
		req := token.EnrollRequest{Name: fmt.Sprintf("DRILL custodian %d", i), Bits: *bits,
			Progress: func(stage string) { fmt.Fprintf(env.Stderr, "key %d of %d: %s\n", i+1, *count, stage) }}
		cert, err := soft.GenerateFiles(keyPath, req)
		if err != nil {
			return failuref("%v", err)
		}
		final := filepath.Join(*dir, filepath.Base(keyPath))
		lines = append(lines, fmt.Sprintf("%s  %s  SHA-256 %s", final, soft.CertificatePath(final), fingerprint.Of(cert.Raw).Hex()))
	}
	if err := stage.Commit(); err != nil {
		return failuref("%v", err)
	}
	for _, l := range lines {
		fmt.Fprintln(env.Stdout, l)
	}
	fmt.Fprintln(env.Stdout, "DRILL keys: software keys on disk are for rehearsals only")
	return nil
}

// cmdDrillHSM runs the drill HSM's three operations.
func cmdDrillHSM(env *Env, args []string) error {
	if len(args) == 0 {
		return usageErrorf("drill hsm needs an operation: activate, init-recovery or upload")
	}
	switch args[0] {
	case "activate":
		return drillHSMActivate(env, args[1:])
	case "init-recovery":
		return drillHSMInitRecovery(env, args[1:])
	case "upload":
		return drillHSMUpload(env, args[1:])
	}
	return usageErrorf("unknown drill hsm operation %q: use activate, init-recovery or upload", args[0])
}

func drillHSMActivate(env *Env, args []string) error {
	fs := newFlags(env, "drill hsm activate")
	dir := fs.String("hsm-dir", "", "folder of the drill HSM (created; must be new or empty)")
	quorum := fs.Int("quorum", 0, "quorum M")
	out := fs.String("out", "", "where to write the security domain file")
	items := fs.Int("items", 0, "number of EncData items (drill option; default 3, as a live HSM)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usageErrorf("--hsm-dir is required")
	}
	if err := refuseExisting("--out", *out); err != nil {
		return err
	}
	certs, err := readCertificates(env, "certificate", fs.Args())
	if err != nil {
		return err
	}
	if len(certs) == 0 {
		return usageErrorf("name the custodian certificates after the flags, in share order")
	}
	// Everything is checked before the drill HSM's folder is made: a
	// refused activation leaves nothing behind.
	if len(certs) < sd.MinShares || len(certs) > sd.MaxShares {
		return usageErrorf("%d custodian certificates given: a security domain has %d to %d custodians", len(certs), sd.MinShares, sd.MaxShares)
	}
	if err := intIn("--quorum", *quorum, sd.MinRequired, len(certs), "the quorum is at least 2 and at most the number of certificates"); err != nil {
		return err
	}
	if err := intIn("--items", *items, 0, 16, "0 means 3, as a live HSM"); err != nil {
		return err
	}
	if _, err := sd.BuildDownloadRequest(certs, *quorum); err != nil {
		return badInput(err)
	}
	// The drill HSM's files are made in a staging folder next to
	// --hsm-dir and moved there whole; a failure leaves nothing.
	stage, err := safefile.Stage(*dir)
	if errors.Is(err, safefile.ErrExists) {
		return usageErrorf("--hsm-dir %s already holds files: a drill HSM needs a new or empty folder", *dir)
	}
	if err != nil {
		return failuref("%v", err)
	}
	stage.Private() // the drill exchange key's private half is in it
	defer stage.Abort()
	h, err := drillhsm.CreateNamed(stage.Path(), filepath.Base(stage.Dest()))
	if err != nil {
		return failuref("%v", err)
	}
	sdBytes, err := h.Activate(certs, *quorum, drillhsm.ActivateOptions{Items: *items})
	if err != nil {
		return badInput(err)
	}
	if err := stage.Commit(); err != nil {
		return failuref("%v", err)
	}
	// After the commit, so that --out may lie inside --hsm-dir; if it
	// cannot be written the new HSM goes too (it would only block a rerun).
	if err := safefile.Write(*out, sdBytes, safefile.Private()); err != nil {
		if rerr := os.RemoveAll(stage.Dest()); rerr != nil {
			return failuref("writing %s: %v; removing the drill HSM %s again failed too: %v", *out, err, stage.Dest(), rerr)
		}
		return writeFailed(*out, err)
	}
	fmt.Fprintf(env.Stdout, "DRILL HSM activated: %d custodians, quorum %d; security domain written to %s (SHA-256 %s)\n",
		len(certs), *quorum, *out, fingerprint.Of(sdBytes).Hex())
	return nil
}

func drillHSMInitRecovery(env *Env, args []string) error {
	fs := newFlags(env, "drill hsm init-recovery")
	dir := fs.String("hsm-dir", "", "folder of the drill HSM")
	out := fs.String("out", "", "where to write the exchange key certificate")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := refuseExisting("--out", *out); err != nil {
		return err
	}
	h, err := drillhsm.Open(*dir)
	if err != nil {
		return usageErrorf("%v", err)
	}
	fmt.Fprintln(env.Stderr, "drill HSM: generating the exchange key pair")
	pemBytes, err := h.InitRecovery()
	if err != nil {
		return failuref("%v", err)
	}
	if err := safefile.Write(*out, pemBytes); err != nil {
		return writeFailed(*out, err)
	}
	fmt.Fprintf(env.Stdout, "DRILL exchange key written to %s\n", *out)
	return nil
}

func drillHSMUpload(env *Env, args []string) error {
	fs := newFlags(env, "drill hsm upload")
	dir := fs.String("hsm-dir", "", "folder of the drill HSM")
	blobPath := fs.String("blob", "", "the restore blob")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	h, err := drillhsm.Open(*dir)
	if err != nil {
		return usageErrorf("%v", err)
	}
	blob, err := readInput("--blob", *blobPath)
	if err != nil {
		return err
	}
	res, err := h.Upload(blob)
	if err != nil {
		return failuref("the drill HSM rejected the blob: %v", err)
	}
	if !res.Restored {
		return failuref("the drill HSM did not restore: %s", res)
	}
	fmt.Fprintf(env.Stdout, "DRILL HSM %s\n", res)
	return nil
}
