package gui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// journey is one of the four things people come to Custodian for.
type journey struct {
	title, who, what, cli string
	icon                  func() fyne.Resource
}

// journeys is a function because theme icons need a running app.
func journeys() []journey {
	return []journey{
		{
			title: "Activation",
			who:   "Custodians and a witness, when a Managed HSM is first activated.",
			what:  "Generate custodian keys on YubiKeys or PKCS#11 tokens, hand the certificates to the operator, then check the security domain the HSM returns: every share maps to a custodian, each custodian opens their own, the quorum recovers it.",
			cli:   "custodian sd verify --sd-file sd.json --cert c0.cer … --quorum M",
			icon:  theme.ContentAddIcon,
		},
		{
			title: "Recovery",
			who:   "A quorum of custodians at the offline recovery workstation, after a disaster.",
			what:  "Open each custodian's share on their token, rebuild the security domain and write the restore blob for the new HSM's exchange key — the file `az keyvault security-domain upload --restore-blob` takes.",
			cli:   "custodian sd restore-blob --sd-file sd.json --sd-exchange-key sde.cer --key REF … --out blob.json",
			icon:  theme.HistoryIcon,
		},
		{
			title: "Rotation",
			who:   "The old and the new custodians and a witness, when the custodian set changes.",
			what:  "The new custodians enroll, the operator downloads the security domain again for their certificates, each new custodian opens their share and the new quorum rebuilds it, compared with the old domain when an old quorum is here. The record lists the old tokens and files to retire.",
			cli:   "custodian rotation package|check|retire --old-manifest manifest.json …",
			icon:  theme.ViewRefreshIcon,
		},
		{
			title: "Drill",
			who:   "Everyone, regularly: rehearse before it matters.",
			what:  "The whole activation and recovery — or a rotation — against a simulated HSM with software keys or virtual tokens. Every file, screen and record says DRILL.",
			cli:   "custodian drill run --custodians 3 --quorum 2 --tokens soft --dir my-drill",
			icon:  theme.MediaReplayIcon,
		},
	}
}

// NewHome builds the home screen without actions (previews, tests).
func NewHome(id Identity) fyne.CanvasObject { return NewHomeWithActions(id, nil) }

// NewHomeWithActions builds the home screen with buttons that start the
// journeys and tools (see newHome).
func NewHomeWithActions(id Identity, actions map[string]func()) fyne.CanvasObject {
	return newHome(id, actions, nil)
}

// newHome builds the home screen: the four journeys, each with a button
// that starts its wizard, the tools, settings (the theme switch) and the
// build's identity.
func newHome(id Identity, actions map[string]func(), settings fyne.CanvasObject) fyne.CanvasObject {
	title := widget.NewLabelWithStyle("Custodian", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameHeadingText
	subtitle := widget.NewLabel("Key ceremonies for Azure Key Vault Managed HSM security domains — keys stay on hardware, every step on the record.")
	subtitle.Wrapping = fyne.TextWrapWord

	var cards []fyne.CanvasObject
	for _, j := range journeys() {
		who := widget.NewLabelWithStyle(j.who, fyne.TextAlignLeading, fyne.TextStyle{Italic: true})
		who.Wrapping = fyne.TextWrapWord
		what := widget.NewLabel(j.what)
		what.Wrapping = fyne.TextWrapWord
		cli := widget.NewLabelWithStyle("From the command line:\n"+j.cli, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
		cli.Wrapping = fyne.TextWrapWord
		// The button right under who it is for: with four journeys in two
		// rows every Start button shows without scrolling at 1024×768.
		body := container.NewVBox(who)
		if act, ok := actions[j.title]; ok {
			b := widget.NewButtonWithIcon("Start "+strings.ToLower(j.title), j.icon(), act)
			b.Importance = widget.HighImportance
			body.Add(b)
		}
		body.Add(what)
		body.Add(cli)
		card := widget.NewCard(j.title, "", body)
		cards = append(cards, card)
	}
	// Two by two: four cards side by side would not fit 1024 px.
	grid := container.NewGridWithColumns(2, cards...)
	var tools []fyne.CanvasObject
	for _, t := range []struct {
		name, label string
		icon        fyne.Resource
	}{
		{"Tokens", "Tokens", theme.AccountIcon()},
		{"Verify", "Verify a file", theme.SearchIcon()},
		{"Transfer", "Transfer (USB, QR)", theme.MailSendIcon()},
		{"Transcripts", "Transcripts", theme.DocumentIcon()},
	} {
		if act, ok := actions[t.name]; ok {
			tools = append(tools, widget.NewButtonWithIcon(t.label, t.icon, act))
		}
	}
	toolbar := container.NewHBox(tools...)
	if settings != nil {
		toolbar = container.NewBorder(nil, nil, container.NewHBox(tools...), settings)
	}

	return container.NewBorder(
		container.NewVBox(title, subtitle, widget.NewSeparator()),
		NewStatusBar(id),
		nil, nil,
		container.NewVScroll(container.NewVBox(grid, toolbar)),
	)
}
