package qr

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/custodian-hsm/custodian/ceremony/transfer/ur"
)

// BenchmarkTransfer plays the frames in order at DefaultFPS, losing each
// with probability 1/4, and reports how many frames were shown before the
// receiver completed (mean and worst over 40 trials) and the seconds that
// takes (the frames as strings; app/gui BenchmarkQRTransfer20KB does the
// same from screen captures).
func BenchmarkTransfer(b *testing.B) {
	for _, size := range []int{4 << 10, 16 << 10, 20 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			f := ur.File{Kind: ur.KindSDFile, Name: "sd.json", Data: payload(size, 9)}
			seq, err := NewSequence(f, Options{Frames: 0})
			if err != nil {
				b.Fatal(err)
			}
			// Enough parts that no trial runs out (the sender loops
			// anyway; the UR encoder is endless).
			enc, _ := ur.NewEncoder(mustFileUR(b, f), DefaultFragmentBytes)
			parts := make([]string, 6*enc.SeqLen()+40)
			for i := range parts {
				parts[i] = enc.NextPart()
			}
			v, _ := seq.Version(0)
			const trials = 40
			var sum, worst float64
			b.ResetTimer()
			for range b.N {
				sum, worst = 0, 0
				for trial := range trials {
					rng := rand.New(rand.NewPCG(uint64(trial), uint64(size)))
					d := ur.NewDecoder(ur.TypeFile)
					shown := 0
					for _, p := range parts {
						shown++
						if rng.IntN(4) == 0 {
							continue
						}
						if err := d.Receive(p); err != nil {
							b.Fatal(err)
						}
						if d.Complete() {
							break
						}
					}
					if !d.Complete() {
						b.Fatal("ran out of parts")
					}
					sum += float64(shown)
					worst = max(worst, float64(shown))
				}
			}
			b.ReportMetric(float64(seq.SeqLen), "fragments")
			b.ReportMetric(sum/trials, "frames-mean")
			b.ReportMetric(worst, "frames-worst")
			b.ReportMetric(sum/trials/DefaultFPS, "s-mean@8fps")
			b.ReportMetric(worst/DefaultFPS, "s-worst@8fps")
			b.ReportMetric(float64(v), "qr-version")
			b.ReportMetric(float64(17+4*v), "modules")
		})
	}
}

func mustFileUR(b *testing.B, f ur.File) ur.UR {
	u, err := ur.FileUR(f)
	if err != nil {
		b.Fatal(err)
	}
	return u
}

// BenchmarkEncodeFrame is the cost of one default-density frame as PNG.
func BenchmarkEncodeFrame(b *testing.B) {
	seq, err := NewSequence(ur.File{Kind: ur.KindOther, Name: "x", Data: payload(16<<10, 10)}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := seq.PNG(i % len(seq.Parts)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeFrame is the cost of reading one frame image (as a
// camera frame would be read: detector, not pure-barcode mode).
func BenchmarkDecodeFrame(b *testing.B) {
	seq, err := NewSequence(ur.File{Kind: ur.KindOther, Name: "x", Data: payload(16<<10, 11)}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	img, _ := seq.Image(0)
	b.ResetTimer()
	for range b.N {
		if _, err := ReadImage(img); err != nil {
			b.Fatal(err)
		}
	}
}
