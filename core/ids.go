package core

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID returns a random identifier with a short type prefix, e.g. "ver_…".
// IDs are made here, not by the database, so both dialects behave alike and
// an id reveals nothing about how many rows exist.
func NewID(prefix string) string {
	var b [10]byte // 80 bits: unique, not secret
	if _, err := rand.Read(b[:]); err != nil {
		panic("core: crypto/rand failed: " + err.Error())
	}
	return prefix + "_" + strings.ToLower(idEncoding.EncodeToString(b[:]))
}
