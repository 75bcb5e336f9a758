package ur

import "testing"

// Whatever a camera reads, the decoder answers with a result or an error,
// never a panic.
func FuzzDecoderReceive(f *testing.F) {
	u, _ := FileUR(File{Kind: KindOther, Name: "x", Data: makeMessage(700)})
	enc, _ := NewEncoder(u, 100)
	for range 12 {
		f.Add(enc.NextPart(), enc.NextPart())
	}
	f.Add("ur:bytes/hdeymejtswhhylkepmykhhtsytsnoyoyaxaedsuttydmmhhpktpmsrjtgwdpfnsboxgwlbaawzuefywkdplrsrjynbvygabwjldapfcsdwkbrkch", "ur:x/1-1/ae")
	f.Fuzz(func(t *testing.T, a, b string) {
		d := NewDecoder("")
		_ = d.Receive(a)
		_ = d.Receive(b)
		_ = d.Progress()
		if d.Complete() {
			if got, err := d.Result(); err == nil {
				_, _ = FileFromUR(got)
			}
		}
	})
}

func FuzzParsePart(f *testing.F) {
	f.Add([]byte{0x85, 0x01, 0x09, 0x19, 0x01, 0x00, 0x1a, 0x01, 0x67, 0xaa, 0x07, 0x41, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePart(b)
		if err != nil {
			return
		}
		var d fountainDecoder
		_ = d.receive(p)
	})
}

func FuzzUnmarshalFile(f *testing.F) {
	b, _ := MarshalFile(File{Kind: KindCertificate, Name: "a.pem", Data: []byte("x")})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		if f, err := UnmarshalFile(b); err == nil {
			again, err := MarshalFile(f)
			if err != nil || string(again) != string(b) {
				t.Fatalf("accepted an envelope that does not re-encode identically: %v", err)
			}
		}
	})
}
