// Package bytewords encodes bytes as Blockchain Commons Bytewords
// (BCR-2020-012): 256 four-letter English words, one per byte value,
// chosen so that the first and last letters alone identify each word.
//
// Custodian uses them twice: to read fingerprints aloud at a ceremony (a
// witness and an operator compare "tuna acid draw oboe …" more reliably
// than hex), and as the body encoding of Uniform Resources (UR) in
// multi-frame QR transfers, where a CRC-32 checksum is appended.
package bytewords

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
)

// The word list is the published standard's (data, not code). The first
// and last letters of each word are unique, which the minimal style uses.
const words = "" +
	"ableacidalsoapexaquaarchatomauntawayaxisbackbaldbarnbeltbetabias" +
	"bluebodybragbrewbulbbuzzcalmcashcatschefcityclawcodecolacookcost" +
	"cruxcurlcuspcyandarkdatadaysdelidicedietdoordowndrawdropdrumdull" +
	"dutyeacheasyechoedgeepicevenexamexiteyesfactfairfernfigsfilmfish" +
	"fizzflapflewfluxfoxyfreefrogfuelfundgalagamegeargemsgiftgirlglow" +
	"goodgraygrimgurugushgyrohalfhanghardhawkheathelphighhillholyhope" +
	"hornhutsicedideaidleinchinkyintoirisironitemjadejazzjoinjoltjowl" +
	"judojugsjumpjunkjurykeepkenokeptkeyskickkilnkingkitekiwiknoblamb" +
	"lavalazyleaflegsliarlimplionlistlogoloudloveluaulucklungmainmany" +
	"mathmazememomenumeowmildmintmissmonknailnavyneednewsnextnoonnote" +
	"numbobeyoboeomitonyxopenovalowlspaidpartpeckplaypluspoempoolpose" +
	"puffpumapurrquadquizraceramprealredorichroadrockroofrubyruinruns" +
	"rustsafesagascarsetssilkskewslotsoapsolosongstubsurfswantacotask" +
	"taxitenttiedtimetinytoiltombtoystriptunatwinuglyundouniturgeuser" +
	"vastveryvetovialvibeviewvisavoidvowswallwandwarmwaspwavewaxywebs" +
	"whatwhenwhizwolfworkyankyawnyellyogayurtzapszerozestzinczonezoom"

var (
	byWord    = map[string]byte{}
	byMinimal = map[string]byte{}
)

func init() {
	for i := 0; i < 256; i++ {
		w := words[4*i : 4*i+4]
		byWord[w] = byte(i)
		byMinimal[w[:1]+w[3:]] = byte(i)
	}
}

// Word returns the word for a byte.
func Word(b byte) string { return words[4*int(b) : 4*int(b)+4] }

// Words returns one word per byte, with no checksum: the form for reading
// a fingerprint aloud.
func Words(data []byte) []string {
	out := make([]string, len(data))
	for i, b := range data {
		out[i] = Word(b)
	}
	return out
}

// Style is how words are written.
type Style int

// Styles.
const (
	Standard Style = iota // "able acid also"
	URI                   // "able-acid-also"
	Minimal               // "aeadao": first and last letters, no separator
)

func withChecksum(data []byte) []byte {
	out := make([]byte, len(data), len(data)+4)
	copy(out, data)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(data))
}

// Encode writes data followed by its CRC-32 checksum (big-endian) in a
// style, as UR bodies do.
func Encode(style Style, data []byte) string {
	all := withChecksum(data)
	switch style {
	case Minimal:
		var b strings.Builder
		for _, x := range all {
			w := Word(x)
			b.WriteString(w[:1] + w[3:])
		}
		return b.String()
	case URI:
		return strings.Join(Words(all), "-")
	default:
		return strings.Join(Words(all), " ")
	}
}

// ErrChecksum is returned when the checksum does not match: a word was
// misread or the data is damaged.
var ErrChecksum = errors.New("bytewords: checksum mismatch: a word was misread or the data is damaged")

// Decode reads words in a style and checks and strips the checksum.
// Decoding is case-insensitive, since QR codes carry upper case.
func Decode(style Style, s string) ([]byte, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	var out []byte
	switch style {
	case Minimal:
		if len(s)%2 != 0 {
			return nil, fmt.Errorf("bytewords: minimal text has an odd length %d", len(s))
		}
		for i := 0; i < len(s); i += 2 {
			b, ok := byMinimal[s[i:i+2]]
			if !ok {
				return nil, fmt.Errorf("bytewords: %q at position %d is not a minimal byteword", s[i:i+2], i)
			}
			out = append(out, b)
		}
	default:
		sep := " "
		if style == URI {
			sep = "-"
		}
		for i, w := range strings.Split(s, sep) {
			b, ok := byWord[w]
			if !ok {
				return nil, fmt.Errorf("bytewords: word %d %q is not a byteword", i+1, w)
			}
			out = append(out, b)
		}
	}
	if len(out) < 4 {
		return nil, errors.New("bytewords: too short to hold a checksum")
	}
	body, sum := out[:len(out)-4], binary.BigEndian.Uint32(out[len(out)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, ErrChecksum
	}
	return body, nil
}

// Lookup returns the byte a (four-letter, lower-case) word stands for.
func Lookup(word string) (byte, bool) {
	b, ok := byWord[word]
	return b, ok
}
