package ur

import (
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"slices"
	"testing"
)

// The vectors below are the published ones from the Blockchain Commons
// reference implementation's test suite (bc-ur test/test.cpp and its ports).

func makeMessage(n int) []byte { return newXoshiro([]byte("Wolf")).nextBytes(n) }

func TestCRC32Vectors(t *testing.T) {
	for in, want := range map[string]uint32{"Hello, world!": 0xebe6c6e6, "Wolf": 0x598c84dc} {
		if got := crc32.ChecksumIEEE([]byte(in)); got != want {
			t.Errorf("crc32(%q) = %08x, want %08x", in, got, want)
		}
	}
}

func TestXoshiroMod100(t *testing.T) {
	x := newXoshiro([]byte("Wolf"))
	want := []uint64{42, 81, 85, 8, 82, 84, 76, 73, 70, 88, 2, 74, 40, 48, 77, 54, 88, 7, 5, 88, 37, 25, 82, 13, 69, 59, 30, 39, 11, 82, 19, 99, 45, 87, 30, 15, 32, 22, 89, 44, 92, 77, 29, 78, 4, 92, 44, 68, 92, 69, 1, 42, 89, 50, 37, 84, 63, 34, 32, 3, 17, 62, 40, 98, 82, 89, 24, 43, 85, 39, 15, 3, 99, 29, 20, 42, 27, 10, 85, 66, 50, 35, 69, 70, 70, 74, 30, 13, 72, 54, 11, 5, 70, 55, 91, 52, 10, 43, 43, 52}
	for i, w := range want {
		if got := x.next() % 100; got != w {
			t.Fatalf("draw %d: %d, want %d", i, got, w)
		}
	}
}

func TestXoshiroSeededWithChecksum(t *testing.T) {
	x := newXoshiro([]byte{0x59, 0x8c, 0x84, 0xdc}) // crc32("Wolf"), big-endian
	want := []uint64{88, 44, 94, 74, 0, 99, 7, 77, 68, 35, 47, 78, 19, 21, 50, 15, 42, 36, 91, 11, 85, 39, 64, 22, 57, 11, 25, 12, 1, 91, 17, 75, 29, 47, 88, 11, 68, 58, 27, 65, 21, 54, 47, 54, 73, 83, 23, 58, 75, 27, 26, 15, 60, 36, 30, 21, 55, 57, 77, 76, 75, 47, 53, 76, 9, 91, 14, 69, 3, 95, 11, 73, 20, 99, 68, 61, 3, 98, 36, 98, 56, 65, 14, 80, 74, 57, 63, 68, 51, 56, 24, 39, 53, 80, 57, 51, 81, 3, 1, 30}
	for i, w := range want {
		if got := x.next() % 100; got != w {
			t.Fatalf("draw %d: %d, want %d", i, got, w)
		}
	}
}

func TestXoshiroNextInt(t *testing.T) {
	x := newXoshiro([]byte("Wolf"))
	want := []int{6, 5, 8, 4, 10, 5, 7, 10, 4, 9, 10, 9, 7, 7, 1, 1, 2, 9, 9, 2, 6, 4, 5, 7, 8, 5, 4, 2, 3, 8, 7, 4, 5, 1, 10, 9, 3, 10, 2, 6, 8, 5, 7, 9, 3, 1, 5, 2, 7, 1, 4, 4, 4, 4, 9, 4, 5, 5, 6, 9, 5, 1, 2, 8, 3, 3, 2, 8, 4, 3, 2, 1, 10, 8, 9, 3, 10, 8, 5, 5, 6, 7, 10, 5, 8, 9, 4, 6, 4, 2, 10, 2, 1, 7, 9, 6, 7, 4, 2, 5}
	for i, w := range want {
		if got := x.nextInt(1, 10); got != w {
			t.Fatalf("draw %d: %d, want %d", i, got, w)
		}
	}
}

func TestXorVector(t *testing.T) {
	x := newXoshiro([]byte("Wolf"))
	a, b := x.nextBytes(10), x.nextBytes(10)
	if hex.EncodeToString(a) != "916ec65cf77cadf55cd7" || hex.EncodeToString(b) != "f9cda1a1030026ddd42e" {
		t.Fatalf("next data: %x %x", a, b)
	}
	xorInto(a, b)
	if hex.EncodeToString(a) != "68a367fdf47c8b2888f9" {
		t.Fatalf("xor: %x", a)
	}
}

func TestNominalFragmentLen(t *testing.T) {
	if got := nominalFragmentLen(12345, 1005, 1955); got != 1764 {
		t.Errorf("got %d, want 1764", got)
	}
	if got := nominalFragmentLen(12345, 1005, 30000); got != 12345 {
		t.Errorf("got %d, want 12345", got)
	}
}

func TestSamplerVector(t *testing.T) {
	s := newSampler([]float64{1, 2, 4, 8})
	x := newXoshiro([]byte("Wolf"))
	// The first 60 of the published 500 samples.
	want := []int{3, 3, 3, 3, 3, 3, 3, 0, 2, 3, 3, 3, 3, 1, 2, 2, 1, 3, 3, 2, 3, 3, 1, 1, 2, 1, 1, 3, 1, 3, 1, 2, 0, 2, 1, 0, 3, 3, 3, 1, 3, 3, 3, 3, 1, 3, 2, 3, 2, 2, 3, 3, 3, 3, 2, 3, 3, 0, 3, 3}
	for i, w := range want {
		if got := s.next(x); got != w {
			t.Fatalf("sample %d: %d, want %d", i, got, w)
		}
	}
}

func TestShuffleVector(t *testing.T) {
	x := newXoshiro([]byte("Wolf"))
	values := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	want := [][]int{
		{6, 4, 9, 3, 10, 5, 7, 8, 1, 2},
		{10, 8, 6, 5, 1, 2, 3, 9, 7, 4},
		{6, 4, 5, 8, 9, 3, 2, 1, 7, 10},
		{7, 3, 5, 1, 10, 9, 4, 8, 2, 6},
		{8, 5, 7, 10, 2, 1, 4, 3, 9, 6},
	}
	for i, w := range want {
		if got := shuffled(values, x); !slices.Equal(got, w) {
			t.Fatalf("shuffle %d: %v, want %v", i, got, w)
		}
	}
}

func TestChooseDegreeVector(t *testing.T) {
	msg := makeMessage(1024)
	n := len(partition(msg, nominalFragmentLen(len(msg), 10, 100)))
	want := []int{11, 3, 6, 5, 2, 1, 2, 11, 1, 3, 9, 10, 10, 4, 2, 1, 1, 2, 1, 1, 5, 2, 4, 10, 3, 2, 1, 1, 3, 11}
	for i, w := range want {
		if got := chooseDegree(n, newXoshiro([]byte(fmt.Sprintf("Wolf-%d", i+1)))); got != w {
			t.Fatalf("nonce %d: degree %d, want %d", i+1, got, w)
		}
	}
}

func TestPartitionVector(t *testing.T) {
	msg := makeMessage(1024)
	frags := partition(msg, nominalFragmentLen(len(msg), 10, 100))
	if len(frags) != 11 {
		t.Fatalf("%d fragments, want 11", len(frags))
	}
	if got := hex.EncodeToString(frags[0]); got != "916ec65cf77cadf55cd7f9cda1a1030026ddd42e905b77adc36e4f2d3ccba44f7f04f2de44f42d84c374a0e149136f25b01852545961d55f7f7a8cde6d0e2ec43f3b2dcb644a2209e8c9e34af5c4747984a5e873c9cf5f965e25ee29039f" {
		t.Errorf("fragment 0: %s", got)
	}
	if got := hex.EncodeToString(frags[10]); got != "170010067e2e75ebe2d2904aeb1f89d5dc98cd4a6f2faaa8be6d03354c990fd895a97feb54668473e9d942bb99e196d897e8f1b01625cf48a7b78d249bb4985c065aa8cd1402ed2ba1b6f908f63dcd84b66425df00000000000000000000" {
		t.Errorf("fragment 10 (padded): %s", got)
	}
}

func TestChooseFragmentsVector(t *testing.T) {
	msg := makeMessage(1024)
	sum := crc32.ChecksumIEEE(msg)
	want := [][]int{{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}, {10}, {9}, {2, 5, 6, 8, 9, 10}, {8}, {1, 5}, {1}, {0, 2, 4, 5, 8, 10}, {5}, {2}, {2}, {0, 1, 3, 4, 5, 7, 9, 10}, {0, 1, 2, 3, 5, 6, 8, 9, 10}, {0, 2, 4, 5, 7, 8, 9, 10}, {3, 5}, {4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {0, 1, 3, 4, 5, 6, 7, 9, 10}, {6}, {5, 6}, {7}}
	for i, w := range want {
		if got := chooseFragments(uint32(i+1), 11, sum); !slices.Equal(got, w) {
			t.Fatalf("seqNum %d: %v, want %v", i+1, got, w)
		}
	}
}

func TestFountainEncoderCBORVector(t *testing.T) {
	enc, err := newFountainEncoder(makeMessage(256), 30, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"8501091901001a0167aa07581d916ec65cf77cadf55cd7f9cda1a1030026ddd42e905b77adc36e4f2d3c",
		"8502091901001a0167aa07581dcba44f7f04f2de44f42d84c374a0e149136f25b01852545961d55f7f7a",
		"8503091901001a0167aa07581d8cde6d0e2ec43f3b2dcb644a2209e8c9e34af5c4747984a5e873c9cf5f",
		"8504091901001a0167aa07581d965e25ee29039fdf8ca74f1c769fc07eb7ebaec46e0695aea6cbd60b3e",
		"8505091901001a0167aa07581dc4bbff1b9ffe8a9e7240129377b9d3711ed38d412fbb4442256f1e6f59",
		"8506091901001a0167aa07581d5e0fc57fed451fb0a0101fb76b1fb1e1b88cfdfdaa946294a47de8fff1",
		"8507091901001a0167aa07581d73f021c0e6f65b05c0a494e50791270a0050a73ae69b6725505a2ec8a5",
		"8508091901001a0167aa07581d791457c9876dd34aadd192a53aa0dc66b556c0c215c7ceb8248b717c22",
		"8509091901001a0167aa07581d951e65305b56a3706e3e86eb01c803bbf915d80edcd64d4d0000000000",
		"850a091901001a0167aa07581d330f0f33a05eead4f331df229871bee733b50de71afd2e5a79f196de09",
		"850b091901001a0167aa07581d3b205ce5e52d8c24a52cffa34c564fa1af3fdffcd349dc4258ee4ee828",
		"850c091901001a0167aa07581ddd7bf725ea6c16d531b5f03254783803048ca08b87148daacd1cd7a006",
		"850d091901001a0167aa07581d760be7ad1c6187902bbc04f539b9ee5eb8ea6833222edea36031306c01",
		"850e091901001a0167aa07581d5bf4031217d2c3254b088fa7553778b5003632f46e21db129416f65b55",
		"850f091901001a0167aa07581d73f021c0e6f65b05c0a494e50791270a0050a73ae69b6725505a2ec8a5",
		"8510091901001a0167aa07581db8546ebfe2048541348910267331c643133f828afec9337c318f71b7df",
		"8511091901001a0167aa07581d23dedeea74e3a0fb052befabefa13e2f80e4315c9dceed4c8630612e64",
		"8512091901001a0167aa07581dd01a8daee769ce34b6b35d3ca0005302724abddae405bdb419c0a6b208",
		"8513091901001a0167aa07581d3171c5dc365766eff25ae47c6f10e7de48cfb8474e050e5fe997a6dc24",
		"8514091901001a0167aa07581de055c2433562184fa71b4be94f262e200f01c6f74c284b0dc6fae6673f",
	}
	for i, w := range want {
		p := enc.nextPart()
		if got := hex.EncodeToString(p.cbor()); got != w {
			t.Fatalf("part %d:\n got %s\nwant %s", i+1, got, w)
		}
		back, err := parsePart(p.cbor())
		if err != nil || hex.EncodeToString(back.cbor()) != w {
			t.Fatalf("part %d does not parse back: %v", i+1, err)
		}
	}
}

func messageUR(n int) UR { return UR{Type: TypeBytes, CBOR: appendBytes(nil, makeMessage(n))} }

func TestSinglePartURVector(t *testing.T) {
	const want = "ur:bytes/hdeymejtswhhylkepmykhhtsytsnoyoyaxaedsuttydmmhhpktpmsrjtgwdpfnsboxgwlbaawzuefywkdplrsrjynbvygabwjldapfcsdwkbrkch"
	u := messageUR(50)
	got, err := Encode(u)
	if err != nil || got != want {
		t.Fatalf("Encode = %q, %v; want %q", got, err, want)
	}
	back, err := Decode(want)
	if err != nil || back.Type != "bytes" || !slices.Equal(back.CBOR, u.CBOR) {
		t.Fatalf("Decode = %+v, %v", back, err)
	}
}

func TestMultipartURVector(t *testing.T) {
	enc, err := NewEncoder(messageUR(256), 30)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ur:bytes/1-9/lpadascfadaxcywenbpljkhdcahkadaemejtswhhylkepmykhhtsytsnoyoyaxaedsuttydmmhhpktpmsrjtdkgslpgh",
		"ur:bytes/2-9/lpaoascfadaxcywenbpljkhdcagwdpfnsboxgwlbaawzuefywkdplrsrjynbvygabwjldapfcsgmghhkhstlrdcxaefz",
		"ur:bytes/3-9/lpaxascfadaxcywenbpljkhdcahelbknlkuejnbadmssfhfrdpsbiegecpasvssovlgeykssjykklronvsjksopdzmol",
		"ur:bytes/4-9/lpaaascfadaxcywenbpljkhdcasotkhemthydawydtaxneurlkosgwcekonertkbrlwmplssjtammdplolsbrdzcrtas",
		"ur:bytes/5-9/lpahascfadaxcywenbpljkhdcatbbdfmssrkzmcwnezelennjpfzbgmuktrhtejscktelgfpdlrkfyfwdajldejokbwf",
		"ur:bytes/6-9/lpamascfadaxcywenbpljkhdcackjlhkhybssklbwefectpfnbbectrljectpavyrolkzczcpkmwidmwoxkilghdsowp",
		"ur:bytes/7-9/lpatascfadaxcywenbpljkhdcavszmwnjkwtclrtvaynhpahrtoxmwvwatmedibkaegdosftvandiodagdhthtrlnnhy",
		"ur:bytes/8-9/lpayascfadaxcywenbpljkhdcadmsponkkbbhgsoltjntegepmttmoonftnbuoiyrehfrtsabzsttorodklubbuyaetk",
		"ur:bytes/9-9/lpasascfadaxcywenbpljkhdcajskecpmdckihdyhphfotjojtfmlnwmadspaxrkytbztpbauotbgtgtaeaevtgavtny",
	}
	for i, w := range want {
		if got := enc.NextPart(); got != w {
			t.Fatalf("part %d:\n got %s\nwant %s", i+1, got, w)
		}
	}
}

// firstShuffled must agree with the full reference shuffle.
func TestFirstShuffledMatchesShuffle(t *testing.T) {
	for n := 1; n <= 40; n++ {
		for k := 0; k <= n; k++ {
			all := make([]int, n)
			for i := range all {
				all[i] = i
			}
			seed := []byte(fmt.Sprintf("%d-%d", n, k))
			want := shuffled(all, newXoshiro(seed))[:k]
			if got := firstShuffled(n, k, newXoshiro(seed)); !slices.Equal(got, want) {
				t.Fatalf("n=%d k=%d: %v, want %v", n, k, got, want)
			}
		}
	}
}
