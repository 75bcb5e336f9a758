package soft

import (
	"crypto/sha1"
	"encoding/hex"
	"hash"

	"github.com/custodian-hsm/custodian/internal/testvectors"
)

func sha1New() hash.Hash   { return sha1.New() }
func hexs(b []byte) string { return hex.EncodeToString(b) }

func testvectorsDir() (string, bool) { return testvectors.Find() }
