package airgap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tree builds a fake /sys and /proc in the kernel's real layouts.
func tree(t *testing.T, files map[string]string) System {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if strings.HasSuffix(p, "/") {
			os.MkdirAll(full, 0o755)
			continue
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return System{Root: root, UID: 1000}
}

func TestIsolatedMachineIsClean(t *testing.T) {
	s := tree(t, map[string]string{
		"sys/class/net/lo/operstate":   "unknown\n",
		"sys/class/net/lo/flags":       "0x9\n",
		"sys/class/net/eth0/operstate": "down\n",
		"sys/class/net/eth0/flags":     "0x1002\n",
		"proc/swaps":                   "Filename\tType\tSize\tUsed\tPriority\n",
	})
	r := s.Check()
	if !r.Clean() {
		t.Fatalf("findings on an isolated machine: %v", r.Warnings())
	}
	if !strings.Contains(r.Summary(), "no network") {
		t.Errorf("summary %q", r.Summary())
	}
}

func TestEveryExposureIsFound(t *testing.T) {
	s := tree(t, map[string]string{
		"sys/class/net/lo/operstate":    "unknown\n",
		"sys/class/net/eth0/operstate":  "up\n",
		"sys/class/net/tun0/operstate":  "unknown\n",
		"sys/class/net/tun0/flags":      "0x1091\n",
		"sys/class/net/wlan0/operstate": "down\n",
		"sys/class/net/wlan0/wireless/": "",
		"sys/class/ieee80211/phy0/":     "",
		"sys/class/rfkill/rfkill0/type": "wlan\n",
		"sys/class/rfkill/rfkill0/name": "phy0\n",
		"sys/class/rfkill/rfkill0/soft": "0\n",
		"sys/class/rfkill/rfkill0/hard": "0\n",
		"sys/class/bluetooth/hci0/":     "",
		"proc/swaps":                    "Filename\tType\tSize\tUsed\tPriority\n/dev/dm-1 partition\t999420\t0\t-2\n",
	})
	s.UID = 0
	r := s.Check()
	got := map[string]string{}
	for _, f := range r.Warnings() {
		got[f.Check] = f.Message
	}
	for check, want := range map[string]string{
		"network":   "eth0, tun0",
		"wireless":  "phy0, wlan0",
		"rfkill":    "wlan phy0",
		"bluetooth": "hci0",
		"swap":      "/dev/dm-1",
		"root":      "running as root",
	} {
		if !strings.Contains(got[check], want) {
			t.Errorf("%s: %q, want it to mention %q", check, got[check], want)
		}
	}
}

func TestLiveMachineRuns(t *testing.T) {
	r := Live().Check()
	if len(r.Findings) < 5 || r.Summary() == "" {
		t.Errorf("live check: %+v", r)
	}
}
