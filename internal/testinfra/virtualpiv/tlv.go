package virtualpiv

import "errors"

// tlv is one BER-TLV element as PIV uses them: tags of one to three
// bytes, definite lengths up to 0xFFFF.
type tlv struct {
	tag   uint32
	value []byte
}

var errMalformedTLV = errors.New("malformed BER-TLV")

// parseTLVs splits b into its top-level elements.
func parseTLVs(b []byte) ([]tlv, error) {
	var out []tlv
	for len(b) > 0 {
		tag := uint32(b[0])
		i := 1
		if b[0]&0x1F == 0x1F {
			for {
				if i >= len(b) || i > 3 {
					return nil, errMalformedTLV
				}
				tag = tag<<8 | uint32(b[i])
				i++
				if b[i-1]&0x80 == 0 {
					break
				}
			}
		}
		if i >= len(b) {
			return nil, errMalformedTLV
		}
		n := int(b[i])
		i++
		switch {
		case n < 0x80:
		case n == 0x81:
			if i >= len(b) {
				return nil, errMalformedTLV
			}
			n = int(b[i])
			i++
		case n == 0x82:
			if i+1 >= len(b) {
				return nil, errMalformedTLV
			}
			n = int(b[i])<<8 | int(b[i+1])
			i += 2
		default:
			return nil, errMalformedTLV
		}
		if len(b)-i < n {
			return nil, errMalformedTLV
		}
		out = append(out, tlv{tag: tag, value: b[i : i+n : i+n]})
		b = b[i+n:]
	}
	return out, nil
}

// find returns the value of the first element with the tag.
func find(ts []tlv, tag uint32) ([]byte, bool) {
	for _, t := range ts {
		if t.tag == tag {
			return t.value, true
		}
	}
	return nil, false
}

// appendTLV appends tag, length and value to b.
func appendTLV(b []byte, tag uint32, value []byte) []byte {
	switch {
	case tag > 0xFFFF:
		b = append(b, byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xFF:
		b = append(b, byte(tag>>8), byte(tag))
	default:
		b = append(b, byte(tag))
	}
	n := len(value)
	switch {
	case n < 0x80:
		b = append(b, byte(n))
	case n < 0x100:
		b = append(b, 0x81, byte(n))
	default:
		b = append(b, 0x82, byte(n>>8), byte(n))
	}
	return append(b, value...)
}

// encodeTLV returns one element.
func encodeTLV(tag uint32, value []byte) []byte {
	return appendTLV(make([]byte, 0, len(value)+6), tag, value)
}
