package ceremony

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"

	"github.com/custodian-hsm/custodian/crypto/token"
)

// Role is who acted in a step.
type Role string

// Roles.
const (
	RoleCustodian Role = "custodian"
	RoleWitness   Role = "witness"
	RoleOperator  Role = "operator"
	RoleSystem    Role = "system"
)

// Actor is a person (or Custodian itself) acting in a step.
type Actor struct {
	Role Role
	Name string
}

// System is Custodian itself.
var System = Actor{Role: RoleSystem, Name: "custodian"}

// FileRef names a file by name and SHA-256, as the record shows it.
type FileRef struct {
	Name   string
	SHA256 string
}

// RefOf fingerprints data under a name.
func RefOf(name string, data []byte) FileRef {
	sum := sha256.Sum256(data)
	return FileRef{Name: name, SHA256: hex.EncodeToString(sum[:])}
}

// Exception is a deviation from the script and who approved it.
type Exception struct {
	What       string
	ApprovedBy string
}

// Event is one step as the record keeps it. It never holds a secret: files
// are named by fingerprint, tokens by identity, and messages are written by
// this package from non-secret facts.
type Event struct {
	Step      string
	Actor     Actor
	Inputs    []FileRef
	Outputs   []FileRef
	Tokens    []token.Info
	Decision  string
	Exception *Exception
	Message   string
}

// Recorder keeps a ceremony's record: the transcript writer, through
// record.go's adapter, or a test's memory.
type Recorder interface {
	Record(Event) error
	// Close writes the closing entry, saying how the ceremony ended, and
	// returns the final digest. Nothing can be recorded after it.
	Close(Closing) (string, error)
}

// MemoryRecorder keeps events in memory (tests, and previews of a drill).
type MemoryRecorder struct {
	mu     sync.Mutex
	Events []Event
	// Closing is how the record was closed, once it was.
	Closing *Closing
}

// Record implements Recorder.
func (m *MemoryRecorder) Record(e Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Closing != nil {
		return errors.New("the record is closed")
	}
	m.Events = append(m.Events, e)
	return nil
}

// Close implements Recorder: it records the closing step (there is no
// digest in memory).
func (m *MemoryRecorder) Close(c Closing) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Closing != nil {
		return "", errors.New("the record is already closed")
	}
	m.Events = append(m.Events, Event{Step: "transcript.close", Actor: c.Actor, Decision: "ended: " + c.Ending.String(), Message: c.Reason})
	m.Closing = &c
	return "", nil
}

// Steps lists the recorded step names in order.
func (m *MemoryRecorder) Steps() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var s []string
	for _, e := range m.Events {
		s = append(s, e.Step)
	}
	return s
}

// Part is the recorder of a workflow that is one part of a larger
// ceremony — a drill's activation before its recovery. Signing the part
// off leaves the record open for the next part; cancelling or abandoning
// it ends the whole ceremony and closes the record.
func Part(rec Recorder) Recorder { return &partRecorder{rec} }

type partRecorder struct{ Recorder }

func (p *partRecorder) Close(c Closing) (string, error) {
	if c.Ending == SignedOff || c.Ending == Completed {
		return "", nil
	}
	return p.Recorder.Close(c)
}

// Path forwards the transcript's file, if the record has one.
func (p *partRecorder) Path() string {
	if f, ok := p.Recorder.(interface{ Path() string }); ok {
		return f.Path()
	}
	return ""
}
