// Package prefetch starts hashing Custodian's own binary (identity.Prefetch)
// as the process starts, while the other packages initialise, so that the
// first transcript entry does not wait for the hash: on a 2-core machine
// the hash runs beside Fyne's and the command's own start-up work.
//
// Only package main may import it (for its side effect). A library or a
// test that imported it would make every test binary hash itself for
// nothing; it must never compute anything but what identity.Current would.
package prefetch

import "github.com/custodian-hsm/custodian/ceremony/identity"

func init() {
	identity.Prefetch()
}
