package ceremony

import "testing"

// Operator manifests cross the air gap: the reader must never panic, and a
// manifest it accepts names a ceremony and custodians.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"custodian_kind":"` + ManifestKind + `","ceremony_id":"C-1","custodians":[{}]}`))
	f.Add([]byte(`{"custodian_kind":"x","custodian_kind":"y"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err == nil && (m.CeremonyID == "" || len(m.Custodians) == 0) {
			t.Fatal("accepted a manifest without a ceremony or custodians")
		}
	})
}
