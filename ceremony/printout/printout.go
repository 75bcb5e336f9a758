// Package printout renders a ceremony transcript as the printable record
// that witnesses initial and sign: the ceremony's identity, the tool that
// ran it, the participants, every step with an initials column, the
// fingerprints of what went in and out, exceptions highlighted, the final
// digest as text and as a QR code, signature lines and a "do not agree"
// box.
//
// The same transcript always renders to the same bytes: the PDF's dates
// come from the transcript, its catalog is sorted, and nothing random is
// written. A record can therefore be re-printed years later and compared.
package printout

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/custodian-hsm/custodian/ceremony/transcript"
	"github.com/custodian-hsm/custodian/crypto/fingerprint"
)

// Options change how a record renders.
type Options struct {
	// Compress the page streams (off in tests so the text can be read).
	Compress bool
}

// Render writes the record of a verified transcript. A transcript that
// failed verification is rendered with FAILED VERIFICATION on every page
// and its problems listed, so that a damaged record is never mistaken for
// a good one.
func Render(v *transcript.Verification, w io.Writer, opts Options) error {
	if v == nil || len(v.Entries) == 0 {
		return fmt.Errorf("the transcript has no entries to print")
	}
	first := v.Entries[0]
	c := first.Ceremony
	if c == nil {
		c = &transcript.Ceremony{ID: "(unknown: the opening entry is missing)", Mode: "UNKNOWN"}
	}
	drill := c.Mode == "DRILL"
	when, err := time.Parse(time.RFC3339, first.Time)
	if err != nil {
		when = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	}

	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCompression(opts.Compress)
	pdf.SetCatalogSort(true)
	pdf.SetCreationDate(when)
	pdf.SetModificationDate(when)
	pdf.SetCreator("Custodian", false)
	pdf.SetProducer("Custodian", false)
	pdf.SetTitle("Ceremony record "+c.ID, true)
	pdf.SetAutoPageBreak(true, 18)
	pdf.AliasNbPages("{nb}")
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	failed := !v.OK()

	pdf.SetHeaderFunc(func() {
		pdf.SetFont("Helvetica", "B", 9)
		if drill {
			pdf.SetFillColor(211, 95, 0)
			pdf.SetTextColor(255, 255, 255)
			pdf.CellFormat(0, 7, "DRILL - REHEARSAL ONLY - NOT A PRODUCTION CEREMONY", "", 1, "C", true, 0, "")
			pdf.SetTextColor(0, 0, 0)
		}
		if failed {
			pdf.SetTextColor(200, 0, 0)
			pdf.CellFormat(0, 7, "FAILED VERIFICATION - THIS TRANSCRIPT WAS ALTERED", "1", 1, "C", false, 0, "")
			pdf.SetTextColor(0, 0, 0)
		}
		pdf.SetFont("Helvetica", "", 8)
		pdf.CellFormat(0, 5, tr("Custodian ceremony record - "+c.ID), "B", 1, "L", false, 0, "")
		pdf.Ln(2)
	})
	pdf.SetFooterFunc(func() {
		pdf.SetY(-14)
		pdf.SetFont("Helvetica", "", 8)
		pdf.CellFormat(0, 5, tr(fmt.Sprintf("page %d of {nb} - final digest %s - initials: ________", pdf.PageNo(), short(v.Final))), "T", 0, "C", false, 0, "")
	})
	pdf.AddPage()

	pdf.SetFont("Helvetica", "B", 16)
	pdf.CellFormat(0, 10, tr(fmt.Sprintf("%s %s ceremony", c.Mode, c.Kind)), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	kv := func(k, val string) {
		pdf.SetFont("Helvetica", "B", 9)
		pdf.CellFormat(40, 5, tr(k), "", 0, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 9)
		pdf.MultiCell(0, 5, tr(val), "", "L", false)
	}
	kv("Ceremony", c.ID)
	kv("HSM", c.HSM)
	kv("Opened", first.Time)
	if n := len(v.Entries); n > 0 {
		kv("Last entry", v.Entries[n-1].Time)
	}
	if t := first.Tool; t != nil {
		kv("Tool", t.Version)
		kv("Tool SHA-256", t.SHA256)
		if t.Words != "" {
			kv("  as words", t.Words)
		}
	}
	kv("Entries", fmt.Sprintf("%d (%s)", len(v.Entries), verdict(v)))
	pdf.Ln(2)

	// Participants, in order of first appearance.
	pdf.SetFont("Helvetica", "B", 11)
	pdf.CellFormat(0, 7, "Participants", "", 1, "L", false, 0, "")
	seen := map[string]bool{}
	pdf.SetFont("Helvetica", "", 9)
	for _, e := range v.Entries {
		if e.Actor == nil || e.Actor.Role == "system" {
			continue
		}
		key := e.Actor.Role + "|" + e.Actor.Name
		if seen[key] {
			continue
		}
		seen[key] = true
		pdf.CellFormat(60, 6, tr(e.Actor.Name), "B", 0, "L", false, 0, "")
		pdf.CellFormat(30, 6, e.Actor.Role, "B", 0, "L", false, 0, "")
		pdf.CellFormat(0, 6, "initials: __________", "B", 1, "L", false, 0, "")
	}
	pdf.Ln(3)

	// Steps.
	pdf.SetFont("Helvetica", "B", 11)
	pdf.CellFormat(0, 7, "Steps", "", 1, "L", false, 0, "")
	colW := []float64{10, 32, 118, 20}
	header := []string{"#", "time / step", "what happened", "initials"}
	pdf.SetFont("Helvetica", "B", 8)
	for i, h := range header {
		pdf.CellFormat(colW[i], 6, h, "1", 0, "C", false, 0, "")
	}
	pdf.Ln(-1)
	for _, e := range v.Entries {
		details := describe(e)
		pdf.SetFont("Helvetica", "", 7.5)
		lines := pdf.SplitLines([]byte(tr(details)), colW[2]-2)
		stepLines := pdf.SplitLines([]byte(tr(strings.TrimPrefix(e.Time, "")+"\n"+e.Step)), colW[1]-2)
		h := 3.6 * float64(max(len(lines), len(stepLines), 2))
		if pdf.GetY()+h > 297-20 {
			pdf.AddPage()
		}
		x, y := pdf.GetX(), pdf.GetY()
		if e.Exception != nil {
			pdf.SetFillColor(255, 230, 230)
			pdf.Rect(x, y, colW[0]+colW[1]+colW[2]+colW[3], h, "F")
		}
		pdf.Rect(x, y, colW[0], h, "D")
		pdf.Rect(x+colW[0], y, colW[1], h, "D")
		pdf.Rect(x+colW[0]+colW[1], y, colW[2], h, "D")
		pdf.Rect(x+colW[0]+colW[1]+colW[2], y, colW[3], h, "D")
		pdf.SetXY(x, y+0.5)
		pdf.CellFormat(colW[0], 3.6, fmt.Sprint(e.Seq), "", 0, "C", false, 0, "")
		pdf.SetXY(x+colW[0]+1, y+0.5)
		pdf.MultiCell(colW[1]-2, 3.6, tr(e.Time+"\n"+e.Step), "", "L", false)
		pdf.SetXY(x+colW[0]+colW[1]+1, y+0.5)
		if e.Exception != nil {
			pdf.SetTextColor(170, 0, 0)
		}
		pdf.MultiCell(colW[2]-2, 3.6, tr(details), "", "L", false)
		pdf.SetTextColor(0, 0, 0)
		pdf.SetXY(x, y+h)
	}
	pdf.Ln(4)

	// Final digest, as text and QR.
	if pdf.GetY() > 297-95 {
		pdf.AddPage()
	}
	pdf.SetFont("Helvetica", "B", 11)
	pdf.CellFormat(0, 7, "Final digest", "", 1, "L", false, 0, "")
	fp, _ := fingerprint.FromHex(v.Final)
	y := pdf.GetY()
	png, err := qrcode.Encode(v.Final, qrcode.Medium, 256)
	if err != nil {
		return fmt.Errorf("rendering the digest's QR code: %w", err)
	}
	pdf.RegisterImageOptionsReader("digest", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(png))
	pdf.ImageOptions("digest", 150, y, 40, 40, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	pdf.SetFont("Courier", "", 9)
	pdf.MultiCell(135, 4.5, fp.GroupedHex(), "", "L", false)
	pdf.SetFont("Helvetica", "", 9)
	pdf.MultiCell(135, 4.5, tr(strings.ReplaceAll(fp.WordString(), " · ", " / ")), "", "L", false)
	pdf.MultiCell(135, 4.5, tr("Compare this digest with the one shown on screen at the end of the ceremony ("+verdict(v)+"). "+
		"`custodian transcript verify` recomputes it from the transcript file."), "", "L", false)
	if failed {
		pdf.SetTextColor(200, 0, 0)
		pdf.SetFont("Helvetica", "B", 9)
		for _, p := range v.Problems {
			pdf.MultiCell(135, 4.5, tr("ALTERED: "+p.String()), "", "L", false)
		}
		pdf.SetTextColor(0, 0, 0)
	}
	pdf.SetY(max(pdf.GetY(), y+42))

	// Signatures.
	pdf.Ln(4)
	pdf.SetFont("Helvetica", "B", 11)
	pdf.CellFormat(0, 7, "Witness sign-off", "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 9)
	for i := 1; i <= 3; i++ {
		pdf.CellFormat(70, 10, "name: ______________________", "", 0, "L", false, 0, "")
		pdf.CellFormat(60, 10, "signature: ____________________", "", 0, "L", false, 0, "")
		pdf.CellFormat(0, 10, "date: ______________", "", 1, "L", false, 0, "")
	}
	pdf.Ln(2)
	x := pdf.GetX()
	yy := pdf.GetY()
	pdf.Rect(x, yy, 5, 5, "D")
	pdf.SetX(x + 7)
	pdf.MultiCell(0, 5, tr("I do NOT agree with this record. Reason (and who I told):"), "", "L", false)
	pdf.Rect(x, pdf.GetY()+1, 180, 22, "D")

	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("writing the PDF: %w", err)
	}
	return nil
}

func verdict(v *transcript.Verification) string {
	switch {
	case !v.OK():
		return "FAILED VERIFICATION"
	case v.Closed:
		return "verified, closed"
	}
	return "verified"
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}

// describe is the "what happened" cell of a step.
func describe(e transcript.Entry) string {
	var parts []string
	if e.Actor != nil {
		parts = append(parts, fmt.Sprintf("%s: %s", e.Actor.Role, e.Actor.Name))
	}
	if e.Decision != "" {
		parts = append(parts, "decision: "+e.Decision)
	}
	if e.Exception != nil {
		parts = append(parts, fmt.Sprintf("EXCEPTION: %s - approved by %s", e.Exception.What, e.Exception.ApprovedBy))
	}
	if e.Message != "" {
		parts = append(parts, e.Message)
	}
	for _, f := range e.Inputs {
		parts = append(parts, fmt.Sprintf("in: %s %s", f.Name, f.SHA256))
	}
	for _, f := range e.Outputs {
		parts = append(parts, fmt.Sprintf("out: %s %s", f.Name, f.SHA256))
	}
	for _, t := range e.Tokens {
		parts = append(parts, fmt.Sprintf("token: %s %s %s %s", t.Kind, t.Model, t.Serial, t.Firmware))
	}
	return strings.Join(parts, "\n")
}
