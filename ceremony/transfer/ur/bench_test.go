package ur

import "testing"

// BenchmarkChooseFragmentsMax is the decoder's cost for one mixed part
// with the largest sequence length a header may claim: what a hostile
// code in view of the camera can make the receiver do per frame.
func BenchmarkChooseFragmentsMax(b *testing.B) {
	for i := range b.N {
		chooseFragments(uint32(maxFragments+1+i), maxFragments, 0x12345678)
	}
}
