package core

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// AuditEvent is one row of a tenant's append-only, hash-chained audit log.
// Seq counts from 1 per tenant; Hash covers PrevHash and every other field,
// so an edited, deleted or reordered row breaks the chain (see VerifyAuditChain).
type AuditEvent struct {
	TenantID string
	Seq      int64
	At       time.Time
	Actor    string            // "tech:<id>", "enduser", "system", "twilio", …
	Action   string            // "verification.started", "technician.login_failed", …
	Subject  string            // the id acted on
	Detail   map[string]string // small, never a secret
	PrevHash []byte
	Hash     []byte
}

// AuditHash computes the chain hash of e from e.PrevHash and e's fields.
// Fields are length-prefixed so no two different events hash alike.
func AuditHash(e AuditEvent) []byte {
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field(e.PrevHash)
	field([]byte(e.TenantID))
	field([]byte(fmt.Sprint(e.Seq)))
	field([]byte(e.At.UTC().Format(time.RFC3339Nano)))
	field([]byte(e.Actor))
	field([]byte(e.Action))
	field([]byte(e.Subject))
	detail, _ := json.Marshal(e.Detail) // map keys marshal sorted: stable
	field(detail)
	return h.Sum(nil)
}

// AuditBreak describes the first place a chain fails to verify.
type AuditBreak struct {
	Seq    int64
	Reason string
}

func (b *AuditBreak) Error() string {
	return fmt.Sprintf("audit chain broken at seq %d: %s", b.Seq, b.Reason)
}

// VerifyAuditChain checks events (in stored order) against each other and
// against the head the tenant recorded (headSeq, headHash: the last append).
// It returns nil when the chain is whole, else an *AuditBreak.
func VerifyAuditChain(events []AuditEvent, headSeq int64, headHash []byte) error {
	var prev []byte
	for i, e := range events {
		want := int64(i + 1)
		switch {
		case e.Seq != want:
			return &AuditBreak{Seq: want, Reason: fmt.Sprintf("expected seq %d, found %d (row deleted or reordered)", want, e.Seq)}
		case !bytes.Equal(e.PrevHash, prev):
			return &AuditBreak{Seq: e.Seq, Reason: "previous-hash link does not match (row deleted, inserted or reordered)"}
		case !bytes.Equal(AuditHash(e), e.Hash):
			return &AuditBreak{Seq: e.Seq, Reason: "row contents do not match its hash (row edited)"}
		}
		prev = e.Hash
	}
	last := int64(len(events))
	if last != headSeq || !bytes.Equal(prev, headHash) {
		return &AuditBreak{Seq: last + 1, Reason: fmt.Sprintf("log ends at seq %d but the tenant's head says %d (rows removed from the end)", last, headSeq)}
	}
	return nil
}

// AuditQuery filters a tenant's audit log. Zero fields match everything.
//
// Events come in seq order (the order VerifyAuditChain checks), or newest
// first with NewestFirst; a page of the newest-first listing ends with the
// event whose Seq is the cursor for the next page (BeforeSeq).
type AuditQuery struct {
	Action  string
	Subject string
	Actor   string    // exact, e.g. "tech:tec_…"
	Since   time.Time // inclusive
	Until   time.Time // exclusive; zero means no end
	// BeforeSeq, when above 0, keeps only events older than that seq: pass
	// the last Seq of one newest-first page to get the next.
	BeforeSeq   int64
	NewestFirst bool
	Limit       int // 0 means no limit
}
