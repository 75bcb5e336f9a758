// Package p11lock holds the one lock every user of a PKCS#11 library in
// this process takes around its calls into it.
//
// A PKCS#11 library keeps its state per process, not per handle: when one
// handle finalises the library (C_Finalize), every other handle on it is
// finalised too, and a call that another goroutine is making through one
// of them crashes inside the library. Custodian's token backend
// (crypto/token/pkcs11) and the drill's SoftHSM helper
// (crypto/token/pkcs11/softhsm) each hold handles on the same SoftHSM
// library — the GUI's token picker lists tokens every two seconds while a
// drill sets up or tears down its tokens — so both take this lock. It
// guards nothing else and must never be held while waiting for a person.
package p11lock

import "sync"

// Mu is the process-wide PKCS#11 lock.
var Mu sync.Mutex
