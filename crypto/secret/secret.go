// Package secret keeps secrets (shares, master keys, PINs) out of places
// they could leak from: it allocates them in memory locked against swap and
// excluded from core dumps, wipes them, and hardens the process so that it
// writes no core dump and cannot be attached to by other users' debuggers.
//
// Go's garbage collector may copy ordinary slices; secrets that must not
// be copied are therefore allocated here, outside the Go heap, with mmap.
// A finalizer is not a substitute for Wipe: callers wipe explicitly on
// completion, cancellation and error.
package secret

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// Wipe zeroes a slice in a way the compiler cannot elide.
func Wipe(b []byte) {
	clear(b)
	runtime.KeepAlive(b)
}

// Buffer is secret memory: page-aligned, outside the Go heap, locked in
// RAM where the OS allows, and excluded from core dumps.
type Buffer struct {
	mu     sync.Mutex
	mem    []byte
	n      int
	locked bool
	// Why is set when the memory could not be locked (RLIMIT_MEMLOCK):
	// the secret is still protected from core dumps and wiped, but could
	// reach swap; Harden's report says so.
	Why string
}

// New allocates n bytes of secret memory.
func New(n int) (*Buffer, error) {
	if n <= 0 {
		return nil, errors.New("secret: size must be positive")
	}
	page := unix.Getpagesize()
	size := (n + page - 1) / page * page
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("secret: allocating locked memory: %w", err)
	}
	b := &Buffer{mem: mem, n: n}
	_ = unix.Madvise(mem, unix.MADV_DONTDUMP)
	if err := unix.Mlock(mem); err != nil {
		b.Why = fmt.Sprintf("memory not locked (%v): raise RLIMIT_MEMLOCK or disable swap", err)
	} else {
		b.locked = true
	}
	return b, nil
}

// Copy allocates secret memory holding a copy of src, and wipes src.
func Copy(src []byte) (*Buffer, error) {
	b, err := New(max(len(src), 1))
	if err != nil {
		return nil, err
	}
	copy(b.mem, src)
	b.n = len(src)
	Wipe(src)
	return b, nil
}

// Bytes is the secret. It is valid until Wipe.
func (b *Buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mem == nil {
		return nil
	}
	return b.mem[:b.n]
}

// Locked reports whether the memory is locked against swap.
func (b *Buffer) Locked() bool { return b.locked }

// Wipe zeroes and releases the memory. It is idempotent.
func (b *Buffer) Wipe() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mem == nil {
		return
	}
	Wipe(b.mem)
	if b.locked {
		_ = unix.Munlock(b.mem)
	}
	_ = unix.Munmap(b.mem)
	b.mem = nil
}

// Report says what HardenProcess did.
type Report struct {
	CoreDumpsDisabled bool
	NotDumpable       bool
	Notes             []string
}

func (r Report) String() string {
	s := fmt.Sprintf("core dumps disabled: %v; ptrace attach and /proc memory reads blocked: %v", r.CoreDumpsDisabled, r.NotDumpable)
	for _, n := range r.Notes {
		s += "; " + n
	}
	return s
}

// HardenProcess sets RLIMIT_CORE to zero and marks the process
// non-dumpable (PR_SET_DUMPABLE 0), which also stops other non-root
// processes from attaching with ptrace or reading /proc/PID/mem. main
// calls it before anything else.
func HardenProcess() (Report, error) {
	var r Report
	var errs []error
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{Cur: 0, Max: 0}); err != nil {
		errs = append(errs, fmt.Errorf("disabling core dumps: %w", err))
	} else {
		r.CoreDumpsDisabled = true
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		errs = append(errs, fmt.Errorf("marking the process non-dumpable: %w", err))
	} else {
		r.NotDumpable = true
	}
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim) == nil && lim.Cur < 1<<20 {
		r.Notes = append(r.Notes, fmt.Sprintf("RLIMIT_MEMLOCK is %d bytes: secrets may not all be locked in RAM", lim.Cur))
	}
	return r, errors.Join(errs...)
}
