package rig

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
)

// vpcd's wire protocol (vsmartcard, virtualsmartcard/src/vpcd/vpcd.c):
// every message in either direction is a 2-byte big-endian length and
// that many bytes. A 1-byte message from vpcd is a control message; a
// longer one is a command APDU, answered with the response APDU. Only
// "get ATR" among the control messages is answered.
const (
	vpcdPowerOff = 0x00
	vpcdPowerOn  = 0x01
	vpcdReset    = 0x02
	vpcdGetATR   = 0x04
)

// iccard is what a vpcd slot serves: a virtual YubiKey or a blank card.
type iccard interface {
	ATR() []byte
	Transmit(apdu []byte) []byte
	PowerOff()
}

// blankCard fills the second slot of a reader entry when the number of
// cards is odd. vpcd 3.3 (Debian 12) cannot show an empty slot in its
// connecting mode: when a connection drops it falls into its listening
// code with no listening socket and aborts pcscd (FD_SET(-1)). So every
// slot holds a card for the life of pcscd, and the spare one is a card
// without a PIV application, which PIV clients skip.
type blankCard struct{}

// ATR is a minimal T=1 answer to reset.
func (blankCard) ATR() []byte { return []byte{0x3B, 0x80, 0x80, 0x01, 0x01} }

func (blankCard) Transmit(apdu []byte) []byte {
	if len(apdu) >= 2 && apdu[1] == 0xA4 {
		return []byte{0x6A, 0x82} // no such application
	}
	return []byte{0x6D, 0x00}
}

func (blankCard) PowerOff() {}

// slotServer serves one vpcd slot on a 127.0.0.1 listener. The listener
// and vpcd's connection must live as long as pcscd (see blankCard).
type slotServer struct {
	ln      net.Listener
	card    iccard
	powered atomic.Bool // vpcd fetched the ATR at least once

	mu    sync.Mutex
	conns map[net.Conn]bool
	done  chan struct{}
}

func newSlotServer(ln net.Listener, card iccard) *slotServer {
	s := &slotServer{ln: ln, card: card, conns: map[net.Conn]bool{}, done: make(chan struct{})}
	go s.accept()
	return s
}

func (s *slotServer) accept() {
	defer close(s.done)
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[conn] = true
		s.mu.Unlock()
		go func() {
			s.serve(conn)
			s.mu.Lock()
			delete(s.conns, conn)
			s.mu.Unlock()
			conn.Close()
		}()
	}
}

// serve answers vpcd on one connection until it closes.
func (s *slotServer) serve(conn net.Conn) {
	s.card.PowerOff() // a new connection is a freshly inserted card
	for {
		quickACK(conn)
		msg, err := readMessage(conn)
		if err != nil {
			return
		}
		if len(msg) == 1 {
			switch msg[0] {
			case vpcdPowerOff, vpcdPowerOn, vpcdReset:
				s.card.PowerOff()
			case vpcdGetATR:
				if err := writeMessage(conn, s.card.ATR()); err != nil {
					return
				}
				s.powered.Store(true)
			}
			continue
		}
		if len(msg) == 0 {
			continue
		}
		resp := s.card.Transmit(msg)
		clear(msg) // may hold a PIN
		err = writeMessage(conn, resp)
		clear(resp)
		if err != nil {
			return
		}
	}
}

// quickACK asks Linux to acknowledge received segments at once. vpcd's
// socket uses Nagle's algorithm and sends control messages (power on,
// power off) that get no answer: without an immediate ACK, the command
// that follows one waits for the delayed ACK (about 40 ms), which made
// every APDU take that long.
func quickACK(conn net.Conn) {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}

func readMessage(r io.Reader) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	return msg, nil
}

func writeMessage(w io.Writer, msg []byte) error {
	if len(msg) > 0xFFFF {
		return errors.New("vpcd message too long")
	}
	buf := make([]byte, 2+len(msg))
	binary.BigEndian.PutUint16(buf, uint16(len(msg)))
	copy(buf[2:], msg)
	_, err := w.Write(buf)
	return err
}

// close stops the slot; only after pcscd has exited (see blankCard).
func (s *slotServer) close() {
	s.ln.Close()
	<-s.done
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
}

// listenConsecutive binds n consecutive TCP ports on 127.0.0.1 (vpcd
// uses port, port+1, … for the slots of one reader).
func listenConsecutive(n int) ([]net.Listener, int, error) {
	var lastErr error
	for attempt := 0; attempt < 50; attempt++ {
		first, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, 0, fmt.Errorf("rig: listening on 127.0.0.1: %w", err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		for i := 1; i < n && err == nil; i++ {
			var ln net.Listener
			if port+i > 0xFFFF {
				err = errors.New("port range exhausted")
				break
			}
			ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+i))
			if err == nil {
				lns = append(lns, ln)
			}
		}
		if err == nil {
			return lns, port, nil
		}
		lastErr = err
		for _, ln := range lns {
			ln.Close()
		}
	}
	return nil, 0, fmt.Errorf("rig: no %d consecutive free ports on 127.0.0.1: %w", n, lastErr)
}
