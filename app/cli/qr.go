package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/custodian-hsm/custodian/ceremony/transfer/filekind"
	"github.com/custodian-hsm/custodian/ceremony/transfer/qr"
	"github.com/custodian-hsm/custodian/ceremony/transfer/ur"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

func cmdQREncode(env *Env, args []string) error {
	fs := newFlags(env, "qr encode")
	in := fs.String("in", "", "file to show as QR codes")
	outDir := fs.String("out-dir", "", "new or empty directory for the frames, page and UR text")
	fps := fs.Float64("fps", qr.DefaultFPS, "frames per second the frames are meant to be shown at")
	frag := fs.Int("fragment-bytes", qr.DefaultFragmentBytes, "bytes per frame: larger means fewer, denser codes")
	kind := fs.String("kind", "", "what the file is (certificate, sd-file, exchange-key, restore-blob, operator-package, transcript, other); detected when omitted")
	level := fs.String("level", "M", "QR error correction: L, M, Q or H")
	px := fs.Int("module-pixels", qr.DefaultModulePixels, "pixels per QR module in the PNG frames")
	frames := fs.Int("frames", 0, "number of frames to write (0: twice the fragments plus ten)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q: give the file with --in", fs.Arg(0))
	}
	if *in == "" || *outDir == "" {
		return usageErrorf("qr encode needs --in FILE and --out-dir DIR")
	}
	lvl, err := qr.ParseLevel(*level)
	if err != nil {
		return badInput(err)
	}
	if err := floatIn("--fps", *fps, 0, 60); err != nil {
		return err
	}
	if err := intIn("--fragment-bytes", *frag, 20, qr.MaxFragmentBytes, ""); err != nil {
		return err
	}
	if err := intIn("--module-pixels", *px, 1, qr.MaxModulePixels, "pixels per QR module"); err != nil {
		return err
	}
	if err := intIn("--frames", *frames, 0, qr.MaxFrames, "0 picks twice the fragments plus ten"); err != nil {
		return err
	}
	data, err := safefile.ReadLimited(*in, ur.MaxPayload)
	if err != nil {
		if errors.Is(err, safefile.ErrTooLarge) {
			return usageErrorf("--in: %v (QR transfer is limited to %d bytes; use USB for larger files)", err, ur.MaxPayload)
		}
		return inputError("--in", *in, err)
	}
	f, det, err := qr.FileFor(filepath.Base(*in), data)
	if err != nil {
		return badInput(err)
	}
	if *kind != "" {
		if f.Kind, err = ur.ParseKind(*kind); err != nil {
			return badInput(err)
		}
	}
	if det.Err != nil {
		fmt.Fprintf(env.Stderr, "warning: %s looks like a %s but fails its checks: %v\n", *in, det.Kind, det.Err)
	}
	opts := qr.Options{FragmentBytes: *frag, FPS: *fps, Level: lvl, ModulePixels: *px, Frames: *frames,
		Progress: func(done, total int) { fmt.Fprintf(env.Stderr, "\rmaking QR frames: %d/%d", done, total) }}
	sum, err := qr.WriteDir(*outDir, f, opts)
	fmt.Fprintln(env.Stderr)
	if errors.Is(err, qr.ErrOutDirNotEmpty) {
		return badInput(err)
	}
	if err != nil {
		return framesFailed(*outDir, err)
	}
	digest := sha256.Sum256(data)
	fmt.Fprintf(env.Stdout, "%s (%s, %d bytes) SHA-256 %s\n", f.Name, f.Kind, len(data), hex.EncodeToString(digest[:]))
	if sum.SeqLen == 1 {
		fmt.Fprintf(env.Stdout, "one QR code (version %d, %d×%d modules) in %s\n", sum.Version, sum.Modules, sum.Modules, *outDir)
	} else {
		fmt.Fprintf(env.Stdout, "%d frames for %d fragments (QR version %d, %d×%d modules): %.1f s per loop at %g fps, in %s\n",
			sum.Frames, sum.SeqLen, sum.Version, sum.Modules, sum.Modules, sum.Seconds, *fps, *outDir)
	}
	fmt.Fprintln(env.Stdout, "also written: parts.txt (the codes as text), page.png and page.pdf (printable)")
	return nil
}

// framesFailed says what a failed write of the frames means: which
// folder, why, and that nothing was kept (qr.WriteDir stages the frames
// next to the folder and removes them all on failure). The temporary
// names are not shown: the person never sees or uses them.
func framesFailed(dir string, err error) error {
	var pe *fs.PathError
	cause := err.Error()
	if errors.As(err, &pe) {
		cause = pe.Err.Error()
	}
	switch {
	case errors.Is(err, syscall.ENOSPC):
		free := ""
		if n, ok := freeBytes(filepath.Dir(filepath.Clean(dir))); ok {
			free = fmt.Sprintf(" (%d KiB free once the partial frames were removed)", n>>10)
		}
		return failuref("writing the QR frames to %s: the file system is full%s; no frames were kept: free space or choose a folder on another disk", dir, free)
	case errors.Is(err, syscall.EROFS):
		return failuref("writing the QR frames to %s: the file system is read-only; no frames were kept: choose a writable folder", dir)
	}
	return failuref("writing the QR frames to %s: %s; no frames were kept", dir, cause)
}

// reportReceived prints what arrived and writes it atomically.
func reportReceived(env *Env, f ur.File, out string) error {
	if err := safefile.Write(out, f.Data, safefile.Private()); err != nil {
		if errors.Is(err, safefile.ErrExists) {
			return badInput(fmt.Errorf("%s already exists: choose a new name (nothing is overwritten)", out))
		}
		return writeFailed(out, err)
	}
	det := filekind.Detect(f.Data)
	digest := sha256.Sum256(f.Data)
	name := f.Name
	if name == "" {
		name = "(no name)"
	}
	fmt.Fprintf(env.Stdout, "received %s: sender says %s, content is a %s", name, f.Kind, det.Kind)
	if det.Summary != "" {
		fmt.Fprintf(env.Stdout, " (%s)", det.Summary)
	}
	fmt.Fprintf(env.Stdout, ", %d bytes\nSHA-256 %s\nwritten to %s\n", len(f.Data), hex.EncodeToString(digest[:]), out)
	if det.Err != nil {
		fmt.Fprintf(env.Stderr, "warning: the received file fails the %s checks: %v\n", det.Kind, det.Err)
	}
	if det.Kind == filekind.PrivateKey {
		return failuref("the received file is a private key: it should never have crossed the air gap; destroy %s", out)
	}
	return nil
}

// cmdQRDecode: custodian qr decode --out FILE IMAGE...
func cmdQRDecode(env *Env, args []string) error {
	fs := newFlags(env, "qr decode")
	out := fs.String("out", "", "where to write the received file (must not exist)")
	images, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *out == "" || len(images) == 0 {
		return usageErrorf("qr decode needs --out FILE and one or more images (PNG or JPEG)")
	}
	if _, err := os.Lstat(*out); err == nil {
		return usageErrorf("%s already exists: choose a new name (nothing is overwritten)", *out)
	}
	// A missing image, a folder or a FIFO is bad input (exit 2), found
	// before any decoding; an image without a readable code is not.
	for _, img := range images {
		if err := safefile.CheckRegular(img, 64<<20); err != nil {
			return inputError("image", img, err)
		}
	}
	f, err := qr.DecodeFiles(images,
		func(p ur.Progress) { fmt.Fprintf(env.Stderr, "\r%s   ", p) },
		func(e *qr.ImageError) { fmt.Fprintf(env.Stderr, "\nskipped %v\n", e) })
	fmt.Fprintln(env.Stderr)
	if err != nil {
		return failuref("%v", err)
	}
	return reportReceived(env, f, *out)
}

// cmdQRScan: custodian qr scan --device /dev/videoN --out FILE
func cmdQRScan(env *Env, args []string) error {
	fs := newFlags(env, "qr scan")
	device := fs.String("device", "/dev/video0", "V4L2 camera device")
	out := fs.String("out", "", "where to write the received file (must not exist)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		return usageErrorf("qr scan needs --out FILE")
	}
	if _, err := os.Lstat(*out); err == nil {
		return usageErrorf("%s already exists: choose a new name (nothing is overwritten)", *out)
	}
	if _, err := os.Stat(*device); err != nil {
		return usageErrorf("--device %s: %v: plug the camera in or give its /dev/videoN", *device, err)
	}
	cam, err := openCamera(*device)
	if err != nil {
		return failuref("%v", err)
	}
	defer cam.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Fprintf(env.Stderr, "scanning with %s: show the codes to the camera; Ctrl-C to stop\n", *device)
	sc := &qr.Scanner{
		Source:   cam,
		Progress: func(p ur.Progress) { fmt.Fprintf(env.Stderr, "\r%s   ", p) },
		Rejected: func(err error) { fmt.Fprintf(env.Stderr, "\nignored a code: %v\n", err) },
	}
	f, err := sc.Run(ctx)
	fmt.Fprintln(env.Stderr)
	if err != nil {
		return failuref("%v", err)
	}
	return reportReceived(env, f, *out)
}
