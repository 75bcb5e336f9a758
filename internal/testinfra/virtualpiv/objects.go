package virtualpiv

// Data objects (SP 800-73-4 part 1, 3.1.2 and Yubico's 5FFFxx range).
const (
	tagDiscovery = 0x7E
	tagPrinted   = 0x5FC109 // Yubico keeps the PIN-protected management key here
)

// objectTag reads the 5C tag list of GET DATA / PUT DATA.
func objectTag(v []byte) (uint32, bool) {
	var tag uint32
	switch len(v) {
	case 1, 3:
	default:
		return 0, false
	}
	for _, b := range v {
		tag = tag<<8 | uint32(b)
	}
	return tag, true
}

// storable reports whether PUT DATA may write the object: the PIV
// objects 5FC101–5FC123 and Yubico's 5FFF00–5FFF15.
func storable(tag uint32) bool {
	return (tag >= 0x5FC101 && tag <= 0x5FC123) || (tag >= 0x5FFF00 && tag <= 0x5FFF15)
}

// pinProtected are the objects GET DATA returns only after VERIFY PIN.
func pinProtected(tag uint32) bool {
	switch tag {
	case tagPrinted, 0x5FC103, 0x5FC108, 0x5FC121: // printed, fingerprints, facial image, iris
		return true
	}
	return false
}

// discoveryObject is the PIV discovery object: the AID and the PIN usage
// policy (application PIN only).
func discoveryObject() []byte {
	var t []byte
	t = appendTLV(t, 0x4F, aidPIV11())
	t = appendTLV(t, 0x5F2F, []byte{0x40, 0x00})
	return encodeTLV(tagDiscovery, t)
}

// certificateObject wraps a DER certificate as a PIV certificate object:
// 70 certificate, 71 CertInfo (uncompressed), FE error detection code.
func certificateObject(der []byte) []byte {
	var t []byte
	t = appendTLV(t, 0x70, der)
	t = appendTLV(t, 0x71, []byte{0x00})
	t = appendTLV(t, 0xFE, nil)
	return t
}

// getData is GET DATA (SP 800-73-4 3.1.2): P1P2 3FFF, data 5C tag; the
// answer is 53 { object }.
func (c *Card) getData(cmd command) ([]byte, uint16) {
	if cmd.p1 != 0x3F || cmd.p2 != 0xFF {
		return nil, swIncorrectP1P2
	}
	fields, err := parseTLVs(cmd.data)
	if err != nil || len(fields) != 1 || fields[0].tag != 0x5C {
		return nil, swIncorrectData
	}
	tag, ok := objectTag(fields[0].value)
	if !ok {
		return nil, swIncorrectData
	}
	if tag == tagDiscovery {
		return discoveryObject(), swOK
	}
	if pinProtected(tag) && !c.pinVerified {
		return nil, swSecurityStatus
	}
	obj, ok := c.objects[tag]
	if !ok {
		return nil, swNotFound
	}
	return encodeTLV(0x53, obj), swOK
}

// putData is PUT DATA (SP 800-73-4 3.3.1): data 5C tag, 53 { object }; it
// needs the management key. An empty 53 deletes the object.
func (c *Card) putData(cmd command) ([]byte, uint16) {
	if !c.mgmAuthed {
		return nil, swSecurityStatus
	}
	if cmd.p1 != 0x3F || cmd.p2 != 0xFF {
		return nil, swIncorrectP1P2
	}
	fields, err := parseTLVs(cmd.data)
	if err != nil || len(fields) != 2 || fields[0].tag != 0x5C || fields[1].tag != 0x53 {
		return nil, swIncorrectData
	}
	tag, ok := objectTag(fields[0].value)
	if !ok || !storable(tag) {
		return nil, swIncorrectData
	}
	obj := fields[1].value
	if len(obj) > maxObjectSize {
		return nil, swNoMemory
	}
	if len(obj) == 0 {
		delete(c.objects, tag)
		return nil, swOK
	}
	c.objects[tag] = append([]byte(nil), obj...)
	return nil, swOK
}
