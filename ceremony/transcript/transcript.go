// Package transcript keeps a ceremony's record: an append-only JSON Lines
// file, one entry per step, each entry chained to the previous one by
// SHA-256 so that any edit, insertion, deletion, reordering or truncation
// is detected and located.
//
// Every entry carries prev (the previous entry's hash) and hash (the
// SHA-256 of the entry's own canonical JSON with hash left empty). The
// final digest — the hash of the closing entry — is shown as hex and as
// words and printed on the paper record, which the witnesses sign: the
// chain proves the file is the one they signed.
//
// The transcript never holds a secret. Callers record fingerprints of
// files, identities of tokens and decisions; the drill tests scan every
// transcript for shares, master keys and PINs.
package transcript

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Genesis is the prev of the first entry.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// Steps that open and close every transcript.
const (
	StepOpen  = "transcript.open"
	StepClose = "transcript.close"
)

// Actor is who acted.
type Actor struct {
	Role string `json:"role"`
	Name string `json:"name"`
}

// File names a file by name and SHA-256.
type File struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// Token identifies a token (never its PIN).
type Token struct {
	Kind     string `json:"kind"`
	Model    string `json:"model,omitempty"`
	Serial   string `json:"serial,omitempty"`
	Firmware string `json:"firmware,omitempty"`
	Label    string `json:"label,omitempty"`
}

// Exception is a deviation from the script and who approved it.
type Exception struct {
	What       string `json:"what"`
	ApprovedBy string `json:"approved_by"`
}

// Tool is the identity of the program that wrote the transcript.
type Tool struct {
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
	Words   string `json:"words,omitempty"`
}

// Ceremony identifies the ceremony.
type Ceremony struct {
	ID   string `json:"id"`
	Kind string `json:"kind"` // activation, recovery, drill, rotation
	Mode string `json:"mode"` // PRODUCTION or DRILL
	HSM  string `json:"hsm,omitempty"`
}

// Entry is one line of the transcript. Field order is the serialisation
// order.
type Entry struct {
	Seq       int        `json:"seq"`
	Time      string     `json:"time"`
	Step      string     `json:"step"`
	Drill     bool       `json:"drill"`
	Actor     *Actor     `json:"actor,omitempty"`
	Ceremony  *Ceremony  `json:"ceremony,omitempty"`
	Tool      *Tool      `json:"tool,omitempty"`
	Inputs    []File     `json:"inputs,omitempty"`
	Outputs   []File     `json:"outputs,omitempty"`
	Tokens    []Token    `json:"tokens,omitempty"`
	Decision  string     `json:"decision,omitempty"`
	Exception *Exception `json:"exception,omitempty"`
	Message   string     `json:"message,omitempty"`
	Prev      string     `json:"prev"`
	Hash      string     `json:"hash"`
}

// marshal is the one canonical encoding of an entry: members in the
// struct's order, no spaces, no HTML escaping, one line.
func marshal(e Entry) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// hashMember ends every canonical line: hash is the last member.
const hashMember = `,"hash":"`

// lineHash is the SHA-256 of a line's exact bytes with its hash value
// emptied (`"hash":""`). It covers the bytes written, not a re-encoding:
// a line that decodes to the same entry but is spelled differently
// (duplicated or reordered members, extra spaces) hashes differently, and
// Verify refuses it before comparing hashes.
func lineHash(line []byte) (string, bool) {
	i := bytes.LastIndex(line, []byte(hashMember))
	if i < 0 || !bytes.HasSuffix(line, []byte(`"}`)) || i+len(hashMember) > len(line)-2 {
		return "", false
	}
	h := sha256.New()
	h.Write(line[:i+len(hashMember)])
	h.Write([]byte(`"}`))
	return hex.EncodeToString(h.Sum(nil)), true
}

// encode fills in the entry's hash and returns its line (without the
// newline).
func encode(e Entry) (Entry, []byte, error) {
	e.Hash = ""
	blank, err := marshal(e)
	if err != nil {
		return e, nil, err
	}
	sum := sha256.Sum256(blank)
	e.Hash = hex.EncodeToString(sum[:])
	line, err := marshal(e)
	return e, line, err
}

// Writer appends entries to a transcript file.
type Writer struct {
	mu     sync.Mutex
	f      *os.File
	path   string
	seq    int
	last   string
	drill  bool
	closed bool
	now    func() time.Time
}

// Opening is what the first entry records.
type Opening struct {
	Ceremony Ceremony
	Tool     Tool
	// Now is the clock (tests pin it); time.Now by default.
	Now func() time.Time
}

// Create starts a new transcript at path (which must not exist; mode 0600)
// and writes its opening entry.
func Create(path string, o Opening) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("transcript %s already exists: a transcript is never overwritten or reopened; start a new one", path)
		}
		return nil, fmt.Errorf("creating the transcript: %w", err)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	w := &Writer{f: f, path: path, last: Genesis, drill: o.Ceremony.Mode == "DRILL", now: now}
	c, t := o.Ceremony, o.Tool
	if err := w.Append(Entry{Step: StepOpen, Ceremony: &c, Tool: &t,
		Message: fmt.Sprintf("%s %s ceremony %s opened by Custodian %s (binary SHA-256 %s)", c.Mode, c.Kind, c.ID, t.Version, t.SHA256)}); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// Path is the transcript's file.
func (w *Writer) Path() string { return w.path }

// Append writes an entry (seq, time, drill, prev and hash are filled in)
// and flushes it to the medium before returning: a step is recorded, or
// the ceremony does not go on.
func (w *Writer) Append(e Entry) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("the transcript is closed")
	}
	if e.Step == "" {
		return errors.New("a transcript entry needs a step")
	}
	e.Seq = w.seq
	e.Time = w.now().UTC().Format(time.RFC3339)
	e.Drill = w.drill
	e.Prev = w.last
	e, line, err := encode(e)
	if err != nil {
		return err
	}
	h := e.Hash
	if _, err := w.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("writing the transcript: %w", err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("flushing the transcript: %w", err)
	}
	w.seq++
	w.last = h
	return nil
}

// Digest is the hash of the last entry written.
func (w *Writer) Digest() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// Endings of a ceremony, written on its closing entry.
const (
	EndSignedOff   = "signed off"
	EndCancelled   = "cancelled"
	EndAbandoned   = "abandoned"
	EndInterrupted = "interrupted" // sealed afterwards by `custodian transcript seal`
	EndCompleted   = "completed"   // a record with no sign-off (a single CLI operation)
	EndFailed      = "failed"      // the operation ran and failed
)

// Closing says how a ceremony ended.
type Closing struct {
	Ending string // one of the End… constants
	Actor  *Actor // who ended it (a cancelling witness), if a person did
	Reason string // why, in words
}

// Close writes a closing entry that says the record simply completed
// and returns the final digest.
func (w *Writer) Close() (string, error) { return w.Finish(Closing{Ending: EndCompleted}) }

// Finish writes the closing entry, saying how the ceremony ended, closes
// the file and returns the final digest.
func (w *Writer) Finish(c Closing) (string, error) {
	if c.Ending == "" {
		return "", errors.New("a closing entry must say how the ceremony ended")
	}
	msg := fmt.Sprintf("transcript closed after %d entries", w.entries()+1)
	if c.Reason != "" {
		msg += ": " + c.Reason
	}
	if err := w.Append(Entry{Step: StepClose, Actor: c.Actor, Decision: "ended: " + c.Ending, Message: msg}); err != nil {
		return "", err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return w.last, w.f.Close()
}

func (w *Writer) entries() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seq
}

// Closed reports whether the closing entry has been written.
func (w *Writer) Closed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}

// Problem is a place where a transcript was altered.
type Problem struct {
	Line    int // 1-based line number
	Message string
}

func (p Problem) String() string { return fmt.Sprintf("line %d: %s", p.Line, p.Message) }

// Verification is the result of checking a transcript.
type Verification struct {
	Entries  []Entry
	Final    string // hash of the last entry
	Closed   bool
	Problems []Problem
	// Unclosed is set when the chain is intact up to its last, complete
	// entry and only the closing entry is missing: what a crash or a power
	// loss leaves, and what Seal may close.
	Unclosed bool
}

// OK reports an intact, closed transcript.
func (v *Verification) OK() bool { return len(v.Problems) == 0 }

// Ceremony returns the opening entry's ceremony, if readable.
func (v *Verification) Ceremony() *Ceremony {
	if len(v.Entries) > 0 {
		return v.Entries[0].Ceremony
	}
	return nil
}

// Ending is how the ceremony ended, from its closing entry ("" when not
// closed).
func (v *Verification) Ending() string {
	if !v.Closed {
		return ""
	}
	return strings.TrimPrefix(v.Entries[len(v.Entries)-1].Decision, "ended: ")
}

// CheckDigest compares the final digest with the one the witnesses signed
// (want, 64 hex digits) and records a problem when they differ: a
// transcript edited and re-chained verifies on its own, but not against
// the paper.
func (v *Verification) CheckDigest(want string) {
	if v.Final == want {
		return
	}
	line := len(v.Entries)
	if line == 0 {
		line = 1
	}
	v.Problems = append(v.Problems, Problem{line, fmt.Sprintf("the final digest %s is not the digest on the signed record %s: the transcript was edited and re-chained, or it is another ceremony's transcript", v.Final, want)})
}

// MaxSize bounds a transcript read.
const MaxSize = 64 << 20

// Verify reads a transcript and checks every line: that it is in the one
// canonical encoding, that its hash covers its bytes, and that it links to
// the line before. It reports every problem with its line; the error is
// only for an unreadable input.
func Verify(r io.Reader) (*Verification, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("the transcript is over %d bytes", MaxSize)
	}
	v := &Verification{}
	if len(data) == 0 {
		v.Problems = append(v.Problems, Problem{1, "the transcript is empty"})
		return v, nil
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	prev := Genesis
	for i, raw := range lines {
		line := i + 1
		if !bytes.HasSuffix(raw, []byte("\n")) {
			v.Problems = append(v.Problems, Problem{line, "the last line is cut off mid-entry: the file was truncated"})
			break
		}
		e, ok := v.checkLine(line, bytes.TrimSuffix(raw, []byte("\n")), prev)
		if !ok {
			prev = "" // the chain is broken here; report the next link as such
			continue
		}
		v.Entries = append(v.Entries, e)
		prev = e.Hash
	}
	v.checkEnds(len(lines))
	return v, nil
}

// checkLine checks one line against the entry before it (prev; "" when
// that line was unreadable). ok is false for a line that is not an entry.
func (v *Verification) checkLine(line int, raw []byte, prev string) (Entry, bool) {
	var e Entry
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		v.Problems = append(v.Problems, Problem{line, fmt.Sprintf("not a transcript entry: %v", err)})
		return e, false
	}
	if canon, err := marshal(e); err != nil || !bytes.Equal(canon, raw) {
		v.Problems = append(v.Problems, Problem{line, fmt.Sprintf("entry %d (%s) is not in the canonical encoding: %s; what it shows may not be what its hash covers, so the line was edited", e.Seq, e.Step, encodingDifference(raw, canon))})
	}
	if e.Seq != line-1 {
		v.Problems = append(v.Problems, Problem{line, fmt.Sprintf("sequence number %d where %d was expected: an entry was inserted, deleted or moved", e.Seq, line-1)})
	}
	if want, ok := lineHash(raw); !ok || e.Hash != want {
		v.Problems = append(v.Problems, Problem{line, fmt.Sprintf("entry %d (%s) was edited: its contents do not match its hash", e.Seq, e.Step)})
	}
	if prev != "" && e.Prev != prev {
		v.Problems = append(v.Problems, Problem{line, fmt.Sprintf("entry %d (%s) does not follow the entry before it: an entry was inserted, deleted, moved or edited", e.Seq, e.Step)})
	}
	if line == 1 && (e.Step != StepOpen || e.Prev != Genesis) {
		v.Problems = append(v.Problems, Problem{line, "the transcript does not start with its opening entry: the beginning was removed"})
	}
	return e, true
}

// checkEnds checks that the transcript closes once, at its end.
func (v *Verification) checkEnds(lines int) {
	n := len(v.Entries)
	if n == 0 {
		return
	}
	last := v.Entries[n-1]
	v.Final = last.Hash
	v.Closed = last.Step == StepClose
	for i, e := range v.Entries[:n-1] {
		if e.Step == StepClose {
			v.Problems = append(v.Problems, Problem{i + 1, "a closing entry in the middle: entries were appended after the transcript was closed"})
		}
	}
	if !v.Closed {
		v.Unclosed = len(v.Problems) == 0 && n == lines
		v.Problems = append(v.Problems, Problem{lines, "the transcript is not closed: it was truncated, or the ceremony is still running, or it was interrupted (custodian transcript seal closes an interrupted one)"})
	}
}

// encodingDifference says how a line differs from its canonical encoding.
func encodingDifference(raw, canon []byte) string {
	if name := duplicateMember(raw); name != "" {
		return fmt.Sprintf("member %q appears more than once", name)
	}
	n := 0
	for n < len(raw) && n < len(canon) && raw[n] == canon[n] {
		n++
	}
	return fmt.Sprintf("it differs from the canonical encoding at column %d (members reordered, spaces added, or characters escaped differently)", n+1)
}

// duplicateMember returns the first member name that appears twice in one
// JSON object of raw, at any depth ("" if none).
func duplicateMember(raw []byte) string {
	type level struct {
		object bool
		seen   map[string]bool
		name   bool // an object expects a member name (or its end) next
	}
	var stack []*level
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.name {
			name, ok := tok.(string)
			if !ok { // the object's closing brace
				stack = stack[:len(stack)-1]
				continue
			}
			if top.seen[name] {
				return name
			}
			top.seen[name], top.name = true, false
			continue
		}
		if top != nil && top.object {
			top.name = true // after this value, a name or the end
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &level{object: true, seen: map[string]bool{}, name: true})
		case json.Delim('['):
			stack = append(stack, &level{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

// VerifyFile verifies the transcript at path.
func VerifyFile(path string) (*Verification, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Verify(f)
}

// Summary is a one-line description of a verification.
func (v *Verification) Summary() string {
	if v.OK() {
		return fmt.Sprintf("transcript OK: %d entries, final digest %s", len(v.Entries), v.Final)
	}
	var p []string
	for _, x := range v.Problems {
		p = append(p, x.String())
	}
	return fmt.Sprintf("transcript FAILED verification: %s", strings.Join(p, "; "))
}

// SealRefusedError is Seal's refusal: the transcript is already closed, or
// it does not verify up to its last entry. Nothing was written.
type SealRefusedError struct {
	Path         string
	Verification *Verification
}

func (e *SealRefusedError) Error() string {
	v := e.Verification
	if v.Closed && v.OK() {
		return fmt.Sprintf("%s is already closed (%s): there is nothing to seal", e.Path, v.Ending())
	}
	return fmt.Sprintf("%s does not verify, so it was left alone: %s", e.Path, v.Summary())
}

// Seal closes a transcript that a crash, a power loss or a killed process
// left open: the chain must verify up to its last, complete entry; then a
// closing entry "interrupted", with the time of sealing, is appended. A
// transcript that does not verify, or is already closed, is left exactly
// as it is (*SealRefusedError). now is the clock (nil: time.Now).
func Seal(path string, now func() time.Time) (*Verification, error) {
	v, err := VerifyFile(path)
	if err != nil {
		return nil, err
	}
	if !v.Unclosed {
		return v, &SealRefusedError{Path: path, Verification: v}
	}
	if now == nil {
		now = time.Now
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return v, fmt.Errorf("opening %s to seal it: %w", path, err)
	}
	last := v.Entries[len(v.Entries)-1]
	w := &Writer{f: f, path: path, seq: last.Seq + 1, last: last.Hash, drill: v.Entries[0].Drill, now: now}
	at := now().UTC().Format(time.RFC3339)
	if _, err := w.Finish(Closing{Ending: EndInterrupted, Reason: fmt.Sprintf(
		"sealed at %s by `custodian transcript seal`: the ceremony ended without closing its transcript (crash, power loss or killed process) after step %s", at, last.Step)}); err != nil {
		f.Close()
		return v, err
	}
	return VerifyFile(path)
}
