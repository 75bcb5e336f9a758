package gui

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2/container"
)

// "Show as QR" hands the step's file to the QR transmitter hook and,
// without one, says where else the file can go.
func TestOutputActionsShowAsQR(t *testing.T) {
	dir := t.TempDir()
	blob := []byte(`{"restore":"blob"}`)
	os.WriteFile(filepath.Join(dir, "blob.json"), blob, 0o600)
	h := newHarness(t)
	h.locked(func() {
		h.shell.show(h.shell.mode, "Output", container.NewVBox(h.shell.outputActions(dir, []string{"blob.json"})))
	})
	h.tap("Show as QR")
	h.waitShows("The QR transmitter is not in this build")

	var gotName string
	var gotData []byte
	saved := showFileAsQR
	showFileAsQR = func(_ *shell, name string, data []byte) { gotName, gotData = name, data }
	defer func() { showFileAsQR = saved }()
	h.tap("Show as QR")
	if gotName != "blob.json" || !bytes.Equal(gotData, blob) {
		t.Errorf("the transmitter got %q %q", gotName, gotData)
	}
}
