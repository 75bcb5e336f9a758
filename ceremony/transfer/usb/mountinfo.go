package usb

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
)

// mount is one line of /proc/self/mountinfo (proc(5)).
type mount struct {
	major, minor uint32
	root         string // the path inside the file system that is mounted
	point        string // where it is mounted
	fsType       string
	source       string   // e.g. /dev/sdb1; "overlay", "tmpfs" for virtual ones
	options      []string // per-mount options (ro/rw live here)
	superOptions []string // file-system options (overlay's lowerdir=, …)
}

// readOnly reports a read-only mount or file system: a stick with its
// write-protect switch on is mounted ro by the kernel.
func (m mount) readOnly() bool {
	return hasOption(m.options, "ro") || hasOption(m.superOptions, "ro")
}

// blockBacked says whether the mount is a block device the kernel names by
// number. btrfs and FUSE show an anonymous 0:N number even when a disk is
// behind them; their source names the device instead.
func (m mount) blockBacked() bool { return m.major != 0 }

func hasOption(opts []string, name string) bool {
	for _, o := range opts {
		if o == name {
			return true
		}
	}
	return false
}

// option returns the value of name=value among opts.
func option(opts []string, name string) (string, bool) {
	for _, o := range opts {
		if v, ok := strings.CutPrefix(o, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// parseMountInfo reads mountinfo lines:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// Fields are separated by single spaces; spaces, tabs, newlines and
// backslashes inside paths are written as octal escapes (\040 …). The
// optional fields end at a lone "-".
func parseMountInfo(r io.Reader) ([]mount, error) {
	var out []mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, " ")
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if len(f) < 10 || sep < 0 || sep+3 > len(f) {
			return nil, fmt.Errorf("mountinfo line %d has an unexpected layout: %q", lineNo, line)
		}
		maj, min, ok := strings.Cut(f[2], ":")
		if !ok {
			return nil, fmt.Errorf("mountinfo line %d: device %q is not major:minor", lineNo, f[2])
		}
		ma, err1 := strconv.ParseUint(maj, 10, 32)
		mi, err2 := strconv.ParseUint(min, 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("mountinfo line %d: device %q is not major:minor", lineNo, f[2])
		}
		m := mount{
			major:   uint32(ma),
			minor:   uint32(mi),
			root:    unescapeMount(f[3]),
			point:   unescapeMount(f[4]),
			options: strings.Split(f[5], ","),
			fsType:  f[sep+1],
			source:  unescapeMount(f[sep+2]),
		}
		if sep+3 < len(f) {
			m.superOptions = strings.Split(f[sep+3], ",")
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mountinfo: %w", err)
	}
	return out, nil
}

// unescapeMount decodes the kernel's \ooo octal escapes.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// mountFor finds the mount that holds path: the longest mount point that
// is a prefix of it, the last one listed when several share a mount point
// (a later mount hides an earlier one). path must be absolute and clean.
func mountFor(mounts []mount, path string) (mount, bool) {
	best := -1
	for i, m := range mounts {
		if !within(path, m.point) {
			continue
		}
		if best < 0 || len(m.point) >= len(mounts[best].point) {
			best = i
		}
	}
	if best < 0 {
		return mount{}, false
	}
	return mounts[best], true
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	path, dir = filepath.Clean(path), filepath.Clean(dir)
	if dir == "/" {
		return strings.HasPrefix(path, "/")
	}
	return path == dir || strings.HasPrefix(path, dir+"/")
}
