package gui

import (
	"crypto/x509"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/custodian-hsm/custodian/ceremony"
	"github.com/custodian-hsm/custodian/ceremony/transfer/filekind"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
	"github.com/custodian-hsm/custodian/crypto/sd"
)

// verifyScreen says what a file is and checks it: any ceremony file alone,
// and a security domain file against certificates and a quorum.
func (s *shell) verifyScreen() {
	path := s.newFileInput("the file to check (SD file, exchange key, blob, certificate, transcript, SHA256SUMS)")
	certs := widget.NewMultiLineEntry()
	certs.SetPlaceHolder("for an SD file: custodian certificate paths, one per line, in share order (optional)")
	quorum := widget.NewEntry()
	quorum.SetPlaceHolder("quorum M (optional)")
	result := widget.NewLabel("")
	result.Wrapping = fyne.TextWrapWord
	result.TextStyle = fyne.TextStyle{Monospace: true}
	check := widget.NewButtonWithIcon("Check", theme.SearchIcon(), func() {
		_, data, err := path.Read()
		if err != nil {
			result.SetText(err.Error())
			return
		}
		det := filekind.Detect(data)
		fp := fingerprint.Of(data)
		text := det.String() + "\n\nSHA-256 " + fp.GroupedHex() + "\n        " + fp.WordString()
		if det.Kind == filekind.SecurityDomain && strings.TrimSpace(certs.Text) != "" {
			text += "\n\n" + sdReport(data, certs.Text, quorum.Text)
		}
		result.SetText(text)
	})
	check.Importance = widget.HighImportance
	s.show(ceremony.Production, "Verify a file", container.NewVBox(
		widget.NewForm(widget.NewFormItem("File", path.box), widget.NewFormItem("Certificates", certs), widget.NewFormItem("Quorum", quorum)),
		check, result))
}

// sdReport holds an SD file against certificates; the checks are
// crypto/sd's, this only gathers the inputs.
func sdReport(data []byte, certPaths, quorumText string) string {
	f, err := sd.ParseFile(data)
	if err != nil {
		return err.Error()
	}
	var certs []*x509.Certificate
	// What Azure does not check (expired, CA certificates), said below the
	// report once per sentence with the files it is true of: openssl's
	// certificates of one ceremony usually share both.
	var notes []string
	filesOf := map[string][]string{}
	for _, p := range strings.Split(certPaths, "\n") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		b, err := readFileLimited(p)
		if err != nil {
			return err.Error()
		}
		c, err := sd.ParseCertificate(b)
		if err != nil {
			return filepath.Base(p) + ": " + err.Error()
		}
		for _, n := range sd.CustodianCertificateNotes(c, time.Now()) {
			if filesOf[n.Sentence] == nil {
				notes = append(notes, n.Sentence)
			}
			filesOf[n.Sentence] = append(filesOf[n.Sentence], filepath.Base(p))
		}
		certs = append(certs, c)
	}
	m, _ := strconv.Atoi(strings.TrimSpace(quorumText))
	report := sd.Verify(f, certs, m).String()
	for _, n := range notes {
		report += "\nNote on " + strings.Join(filesOf[n], ", ") + ": " + n + "."
	}
	return report
}
