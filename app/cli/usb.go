package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/custodian-hsm/custodian/ceremony/transfer/filekind"
	"github.com/custodian-hsm/custodian/ceremony/transfer/usb"
	"github.com/custodian-hsm/custodian/internal/safefile"
)

// exportReadLimit bounds what `usb export` reads into memory: operator
// packages with PDFs are the largest legitimate files, well under this.
const exportReadLimit = 512 << 20

// usbLister is the media lister; tests of the list command point it at a
// fake sysfs tree.
var usbLister = usb.Lister{}

// parseInterspersed parses flags that may come before, between or after
// the file arguments (flag stops at the first non-flag) and returns the
// files. "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var files []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return files, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(files, rest...), nil
		}
		files = append(files, rest[0])
		args = rest[1:]
	}
}

// cmdUSBList: custodian usb list [--all]
func cmdUSBList(env *Env, args []string) error {
	fs := newFlags(env, "usb list")
	all := fs.Bool("all", false, "also show media Custodian refuses (the system disk)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q: usb list takes no files", fs.Arg(0))
	}
	list := usbLister.List
	if *all {
		list = usbLister.ListAll
	}
	media, err := list()
	if err != nil {
		return failuref("listing removable media: %v", err)
	}
	if len(media) == 0 {
		fmt.Fprintln(env.Stdout, "no removable media found: insert a USB stick or SD card (and mount it if the desktop does not)")
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tLABEL\tSIZE\tFREE\tFS\tMOUNTED AT\tBUS\tMODEL\tNOTE")
	for _, m := range media {
		free := "-"
		if m.Free >= 0 {
			free = humanSize(m.Free)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			m.Device, orDash(m.Label), humanSize(m.Size), free, orDash(m.FSType), orDash(m.MountPoint),
			m.Bus(), orDash(strings.TrimSpace(m.Vendor+" "+m.Model)), m.Refused)
	}
	return tw.Flush()
}

// cmdUSBExport: custodian usb export --to MOUNT [--folder NAME] FILE...
func cmdUSBExport(env *Env, args []string) error {
	fs := newFlags(env, "usb export")
	to := fs.String("to", "", "mount point of the medium (see custodian usb list)")
	folder := fs.String("folder", usb.DefaultFolder, "folder on the medium to write into")
	anyDisk := fs.Bool("any-disk", false, "accept a mounted disk that is not removable (a disk image); never the system disk")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *to == "" {
		return usageErrorf("--to is required: the mount point of the medium (custodian usb list shows it)")
	}
	if len(files) == 0 {
		return usageErrorf("no files to export: give them after the flags")
	}
	var out []usb.File
	for _, p := range files {
		data, err := safefile.ReadLimited(p, exportReadLimit)
		if err != nil {
			return usageErrorf("reading %s: %v", p, err)
		}
		out = append(out, usb.File{Name: filepath.Base(p), Data: data})
	}
	ex := usb.Exporter{Folder: *folder, AnyDisk: *anyDisk, Lister: usbLister}
	m, err := ex.Export(context.Background(), *to, out, progressPrinter(env.Stderr))
	if err != nil {
		if errors.Is(err, usb.ErrSystemDisk) || errors.Is(err, usb.ErrNotBlockDev) ||
			errors.Is(err, usb.ErrNotRemovable) || errors.Is(err, usb.ErrNotMounted) {
			return usageErrorf("%v", err)
		}
		return failuref("%v", err)
	}
	for _, c := range m.Written {
		fmt.Fprintf(env.Stdout, "%s  %s  written and verified\n", hexSum(c.SHA256), c.Name)
	}
	for _, c := range m.Present {
		fmt.Fprintf(env.Stdout, "%s  %s  already on the medium, identical\n", hexSum(c.SHA256), c.Name)
	}
	fmt.Fprintf(env.Stdout, "checksum list: %s (%d entries)\n", m.Path, len(m.Entries))
	fmt.Fprintln(env.Stdout, "unmount (eject) the medium before pulling it out")
	return nil
}

// cmdUSBImport: custodian usb import --from MOUNT [--to DIR] [FILE...]
func cmdUSBImport(env *Env, args []string) error {
	fs := newFlags(env, "usb import")
	from := fs.String("from", "", "folder on the medium holding the files (e.g. MOUNT/custodian-export)")
	to := fs.String("to", "", "folder to copy the files into when every check passes (optional)")
	limit := fs.Int64("max-size", usb.DefaultImportLimit, "largest file accepted, in bytes")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *from == "" {
		return usageErrorf("--from is required: the folder on the medium (custodian usb list shows mount points)")
	}
	if err := intIn64("--max-size", *limit, 1, 1<<30); err != nil {
		return err
	}
	if err := safefile.CheckDir(*from); err != nil {
		return usageErrorf("--from: %v: is the medium mounted?", err)
	}
	if *to != "" {
		if err := safefile.CheckDir(*to); err != nil {
			return usageErrorf("--to: %v", err)
		}
	}
	for _, f := range files {
		if err := usb.CheckName(f); err != nil {
			return usageErrorf("%v: usb import reads only files directly inside --from %s", err, *from)
		}
		if *to != "" {
			dst := filepath.Join(*to, f)
			if _, err := os.Lstat(dst); err == nil {
				return usageErrorf("%s already exists: Custodian never overwrites; choose another --to or move it away", dst)
			}
		}
	}
	rep, importErr := usb.Importer{Limit: *limit}.ImportDir(context.Background(), *from, files)
	if rep == nil {
		if errors.Is(importErr, usb.ErrBadName) {
			return badInput(importErr)
		}
		return failuref("%v", importErr)
	}
	results := rep.Files
	if len(results) == 0 {
		return usageErrorf("%v", importErr)
	}
	if *to != "" {
		for _, r := range results {
			dst := filepath.Join(*to, filepath.Base(r.Path))
			if _, err := os.Lstat(dst); err == nil {
				return usageErrorf("%s already exists: Custodian never overwrites; choose another --to or move it away", dst)
			}
		}
	}
	failed := 0
	for _, r := range results {
		name := filepath.Base(r.Path)
		if r.Err != nil {
			failed++
			if r.Data == nil {
				fmt.Fprintf(env.Stdout, "%s: NOT IMPORTED: %v\n", name, r.Err)
				continue
			}
			fmt.Fprintf(env.Stdout, "%s: %s\n", name, r.Summary())
			for _, e := range splitErrors(r.Err) {
				var de *usb.DetectedError
				if errors.As(e, &de) {
					continue // the summary line already says it
				}
				fmt.Fprintf(env.Stdout, "  ERROR: %v\n", e)
			}
			fmt.Fprintf(env.Stdout, "  do not use %s\n", name)
		} else {
			fmt.Fprintf(env.Stdout, "%s: %s\n", name, r.Summary())
		}
		for _, w := range r.Warnings {
			fmt.Fprintf(env.Stdout, "  warning: %s\n", w)
		}
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(env.Stdout, "PROBLEM: %s\n", p)
	}
	if importErr != nil {
		what := fmt.Sprintf("%d of %d files failed the checks", failed, len(results))
		if failed == 0 {
			what = fmt.Sprintf("%s: %d problem(s) with the folder, see above", *from, len(rep.Problems))
		}
		if *to != "" {
			return failuref("%s; nothing was copied to %s", what, *to)
		}
		return failuref("%s", what)
	}
	if *to == "" {
		return nil
	}
	// Every file is staged inside --to and moved into place together: a
	// failure copies nothing (no SHA256SUMS left alone).
	stage, err := safefile.StageFiles(*to)
	if err != nil {
		return failuref("%v", err)
	}
	defer stage.Abort()
	for _, r := range results {
		var opts []safefile.Option
		if k := r.Kind(); k == filekind.SecurityDomain || k == filekind.RestoreBlob || k == filekind.Transcript {
			opts = append(opts, safefile.Private())
		}
		if err := safefile.Write(filepath.Join(stage.Path(), filepath.Base(r.Path)), r.Data, opts...); err != nil {
			return failuref("copying %s: %v; nothing was copied to %s", filepath.Base(r.Path), err, *to)
		}
	}
	if err := stage.Commit(); err != nil {
		return failuref("%v", err)
	}
	for _, r := range results {
		fmt.Fprintf(env.Stdout, "copied to %s\n", filepath.Join(*to, filepath.Base(r.Path)))
	}
	return nil
}

// splitErrors undoes errors.Join.
func splitErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// regularFiles lists the non-hidden regular files of dir, sorted.
func regularFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || e.Type()&fs.ModeType != 0 {
			continue
		}
		out = append(out, filepath.Join(dir, e.Name()))
	}
	sort.Strings(out)
	return out, nil
}

// progressPrinter reports files of 1 MB or more on w: one line updated in
// place on a terminal, otherwise a line at each quarter.
func progressPrinter(w io.Writer) usb.Progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	lastQuarter := map[string]int64{}
	return func(e usb.ProgressEvent) {
		if e.Total < 1<<20 {
			return
		}
		pct := e.Done * 100 / e.Total
		key := e.File + "/" + e.Phase.String()
		if tty {
			fmt.Fprintf(w, "\r%s %s: %3d%% of %s", e.Phase, e.File, pct, humanSize(e.Total))
			if e.Done == e.Total {
				fmt.Fprintln(w)
			}
			return
		}
		q := pct / 25
		if prev, ok := lastQuarter[key]; ok && prev >= q {
			return
		}
		lastQuarter[key] = q
		fmt.Fprintf(w, "%s %s: %d%% of %s\n", e.Phase, e.File, pct, humanSize(e.Total))
	}
}

func humanSize(n int64) string {
	switch {
	case n < 0:
		return "?"
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1e6:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1e9:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1f GB", float64(n)/1e9)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func hexSum(sum [32]byte) string { return hex.EncodeToString(sum[:]) }
