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
	"bufio"
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

// canonical is the entry's JSON with hash empty: what its hash covers.
func (e Entry) canonical() ([]byte, error) {
	e.Hash = ""
	return marshal(e)
}

func marshal(e Entry) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func hashOf(e Entry) (string, error) {
	c, err := e.canonical()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c)
	return hex.EncodeToString(sum[:]), nil
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
	h, err := hashOf(e)
	if err != nil {
		return err
	}
	e.Hash = h
	line, err := marshal(e)
	if err != nil {
		return err
	}
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

// Close writes the closing entry and returns the final digest.
func (w *Writer) Close() (string, error) {
	if err := w.Append(Entry{Step: StepClose, Message: fmt.Sprintf("transcript closed after %d entries", w.seq+1)}); err != nil {
		return "", err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return w.last, w.f.Close()
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

// MaxSize bounds a transcript read.
const MaxSize = 64 << 20

// Verify reads a transcript and checks every link. It reports every
// problem with its line; the error is only for an unreadable input.
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
	if data[len(data)-1] != '\n' {
		lines := bytes.Count(data, []byte("\n")) + 1
		v.Problems = append(v.Problems, Problem{lines, "the last line is cut off mid-entry: the file was truncated"})
	}
	prev := Genesis
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), MaxSize)
	line := 0
	for sc.Scan() {
		line++
		raw := sc.Bytes()
		var e Entry
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			if line == bytes.Count(data, []byte("\n"))+1 && data[len(data)-1] != '\n' {
				break // already reported as cut off
			}
			v.Problems = append(v.Problems, Problem{line, fmt.Sprintf("not a transcript entry: %v", err)})
			prev = "" // the chain is broken here; report the next link as such
			continue
		}
		if e.Seq != line-1 {
			v.Problems = append(v.Problems, Problem{line, fmt.Sprintf("sequence number %d where %d was expected: an entry was inserted, deleted or moved", e.Seq, line-1)})
		}
		want, err := hashOf(e)
		if err != nil {
			return nil, err
		}
		if e.Hash != want {
			v.Problems = append(v.Problems, Problem{line, fmt.Sprintf("entry %d (%s) was edited: its contents do not match its hash", e.Seq, e.Step)})
		}
		if prev != "" && e.Prev != prev {
			v.Problems = append(v.Problems, Problem{line, fmt.Sprintf("entry %d (%s) does not follow the entry before it: an entry was inserted, deleted, moved or edited", e.Seq, e.Step)})
		}
		if line == 1 && (e.Step != StepOpen || e.Prev != Genesis) {
			v.Problems = append(v.Problems, Problem{line, "the transcript does not start with its opening entry: the beginning was removed"})
		}
		v.Entries = append(v.Entries, e)
		prev = e.Hash
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if n := len(v.Entries); n > 0 {
		last := v.Entries[n-1]
		v.Final = last.Hash
		v.Closed = last.Step == StepClose
		if !v.Closed {
			v.Problems = append(v.Problems, Problem{line, "the transcript is not closed: it was truncated, or the ceremony is still running"})
		}
		for i, e := range v.Entries[:n-1] {
			if e.Step == StepClose {
				v.Problems = append(v.Problems, Problem{i + 1, "a closing entry in the middle: entries were appended after the transcript was closed"})
			}
		}
	}
	return v, nil
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
