// Package airgap checks, before a ceremony, that the machine is as
// isolated as the ceremony assumes: no network interface up other than
// loopback, no wireless or Bluetooth hardware, no swap (where secrets in
// memory could be written to disk), and not running as root.
//
// The findings are recorded in the transcript. A production ceremony shows
// them loudly and asks the witness to acknowledge each one; a drill only
// notes them.
package airgap

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Severity ranks a finding.
type Severity int

// Severities.
const (
	OK Severity = iota
	Warning
)

// Finding is one check's result.
type Finding struct {
	Check    string // "network", "wireless", "bluetooth", "swap", "root"
	Severity Severity
	Message  string
}

// Report is the result of every check.
type Report struct {
	Findings []Finding
}

// Clean reports whether nothing was found.
func (r *Report) Clean() bool {
	for _, f := range r.Findings {
		if f.Severity != OK {
			return false
		}
	}
	return true
}

// Warnings lists the findings that are not OK.
func (r *Report) Warnings() []Finding {
	var w []Finding
	for _, f := range r.Findings {
		if f.Severity != OK {
			w = append(w, f)
		}
	}
	return w
}

// Summary is one line for a status bar or a transcript entry.
func (r *Report) Summary() string {
	w := r.Warnings()
	if len(w) == 0 {
		return "air gap: no network, no radios, no swap, not root"
	}
	var parts []string
	for _, f := range w {
		parts = append(parts, f.Message)
	}
	return fmt.Sprintf("air gap: %d finding(s): %s", len(w), strings.Join(parts, "; "))
}

// System is where the checks read from; tests point it at a fake tree.
type System struct {
	Root string // "/" on a live machine
	UID  int
}

// Live is this machine.
func Live() System { return System{Root: "/", UID: os.Geteuid()} }

func (s System) path(p string) string { return filepath.Join(s.Root, p) }

// Check runs every check.
func (s System) Check() *Report {
	r := &Report{}
	r.Findings = append(r.Findings, s.network()...)
	r.Findings = append(r.Findings, s.wireless()...)
	r.Findings = append(r.Findings, s.bluetooth()...)
	r.Findings = append(r.Findings, s.swap())
	r.Findings = append(r.Findings, s.root())
	return r
}

// network reports interfaces that are up, other than loopback. An
// interface is up when its operstate says so, or, for virtual interfaces
// whose operstate is "unknown", when its IFF_UP flag is set.
func (s System) network() []Finding {
	entries, err := os.ReadDir(s.path("sys/class/net"))
	if err != nil {
		return []Finding{{"network", Warning, "cannot read network interfaces: " + err.Error()}}
	}
	var up []string
	for _, e := range entries {
		name := e.Name()
		if name == "lo" {
			continue
		}
		dir := s.path(filepath.Join("sys/class/net", name))
		state := readTrim(filepath.Join(dir, "operstate"))
		flags := readTrim(filepath.Join(dir, "flags"))
		var f uint64
		fmt.Sscanf(flags, "0x%x", &f)
		const iffUp = 0x1
		if state == "up" || (state == "unknown" && f&iffUp != 0) || state == "dormant" {
			up = append(up, name)
		}
	}
	sort.Strings(up)
	if len(up) > 0 {
		return []Finding{{"network", Warning, fmt.Sprintf("network interface(s) up: %s — unplug the cable and bring them down", strings.Join(up, ", "))}}
	}
	return []Finding{{"network", OK, "no network interface up except loopback"}}
}

func (s System) wireless() []Finding {
	var radios []string
	if entries, err := os.ReadDir(s.path("sys/class/net")); err == nil {
		for _, e := range entries {
			if _, err := os.Stat(s.path(filepath.Join("sys/class/net", e.Name(), "wireless"))); err == nil {
				radios = append(radios, e.Name())
			}
		}
	}
	if entries, err := os.ReadDir(s.path("sys/class/ieee80211")); err == nil {
		for _, e := range entries {
			radios = append(radios, e.Name())
		}
	}
	var unblocked []string
	if entries, err := os.ReadDir(s.path("sys/class/rfkill")); err == nil {
		for _, e := range entries {
			dir := s.path(filepath.Join("sys/class/rfkill", e.Name()))
			if readTrim(filepath.Join(dir, "soft")) == "0" && readTrim(filepath.Join(dir, "hard")) == "0" {
				unblocked = append(unblocked, readTrim(filepath.Join(dir, "type"))+" "+readTrim(filepath.Join(dir, "name")))
			}
		}
	}
	sort.Strings(radios)
	var f []Finding
	if len(radios) > 0 {
		f = append(f, Finding{"wireless", Warning, fmt.Sprintf("wireless hardware present: %s — use a machine without radios, or remove the card", strings.Join(dedupe(radios), ", "))})
	} else {
		f = append(f, Finding{"wireless", OK, "no wireless hardware"})
	}
	if len(unblocked) > 0 {
		sort.Strings(unblocked)
		f = append(f, Finding{"rfkill", Warning, fmt.Sprintf("radio(s) not blocked by rfkill: %s — run `rfkill block all`", strings.Join(unblocked, ", "))})
	}
	return f
}

func (s System) bluetooth() []Finding {
	entries, err := os.ReadDir(s.path("sys/class/bluetooth"))
	if err == nil && len(entries) > 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		return []Finding{{"bluetooth", Warning, "Bluetooth adapter(s) present: " + strings.Join(names, ", ")}}
	}
	return []Finding{{"bluetooth", OK, "no Bluetooth adapter"}}
}

// swap reports active swap: locked memory is not swapped, but the Go
// runtime's other memory could be.
func (s System) swap() Finding {
	f, err := os.Open(s.path("proc/swaps"))
	if err != nil {
		return Finding{"swap", OK, "no swap information (no /proc/swaps)"}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var devices []string
	first := true
	for sc.Scan() {
		if first {
			first = false // the header
			continue
		}
		if fields := strings.Fields(sc.Text()); len(fields) > 0 {
			devices = append(devices, fields[0])
		}
	}
	if len(devices) > 0 {
		return Finding{"swap", Warning, fmt.Sprintf("swap is enabled (%s) — run `swapoff -a`", strings.Join(devices, ", "))}
	}
	return Finding{"swap", OK, "no swap"}
}

func (s System) root() Finding {
	if s.UID == 0 {
		return Finding{"root", Warning, "running as root — run Custodian as an ordinary user (with access to the token devices)"}
	}
	return Finding{"root", OK, "not running as root"}
}

func readTrim(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
