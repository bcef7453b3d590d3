// Package testkit holds the small test doubles that core's tests, core/web's
// tests, the server kit (core/web/webtest) and the PSA plugins' tests all
// need: a settable clock, a sender that captures what it is given and a log
// sink safe for a server's goroutines. It is a leaf: it imports core (for
// the Sender it implements) and nothing else of this module, so any test
// may use it; no program links it (core's TestBinaryLinksNoTestkit).
package testkit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
)

// Clock is a settable clock, safe for concurrent use: it stands still until
// the test moves it.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock that stands at t until moved.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Capture is a core.Sender that records what it is given and answers with
// a unique provider reference, like Twilio's MessageSid. It can be told to
// fail: the next sends (FailNext), or every send while refused (Refuse).
// The zero value is ready to use.
type Capture struct {
	mu     sync.Mutex
	prefix string
	msgs   []core.Outbound
	refs   []string
	fail   []error // returned (and removed) one per Send before succeeding
	refuse error   // returned by every Send while set (a misconfiguration)
	calls  int     // every Send, refused, failed or not
}

// NewCapture returns a capture whose references start with prefix ("SM"
// for Twilio's messages).
func NewCapture(prefix string) *Capture { return &Capture{prefix: prefix} }

// Send implements core.Sender: a refusal first, then a queued failure,
// else the message is recorded.
func (c *Capture) Send(_ context.Context, m core.Outbound) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.refuse != nil {
		return "", c.refuse
	}
	if len(c.fail) > 0 {
		err := c.fail[0]
		c.fail = c.fail[1:]
		return "", err
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	ref := c.prefix + hex.EncodeToString(b[:])
	c.msgs = append(c.msgs, m)
	c.refs = append(c.refs, ref)
	return ref, nil
}

// FailNext makes the next len(errs) sends fail, one error each, in order,
// after the failures already queued.
func (c *Capture) FailNext(errs ...error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail = append(c.fail, errs...)
}

// PendingFailures returns how many queued failures no send has used yet.
func (c *Capture) PendingFailures() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.fail)
}

// Refuse makes every send fail with err until Refuse(nil).
func (c *Capture) Refuse(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refuse = err
}

// Calls returns how many sends were tried, refused and failed ones included.
func (c *Capture) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// Messages returns what was sent, oldest first.
func (c *Capture) Messages() []core.Outbound {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]core.Outbound(nil), c.msgs...)
}

// Reset forgets the messages sent so far (not the failures queued).
func (c *Capture) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs, c.refs = nil, nil
}

// Last returns the last message sent, failing the test when there is none.
func (c *Capture) Last(t testing.TB) core.Outbound {
	t.Helper()
	m, _ := c.LastRef(t)
	return m
}

// LastRef returns the last message sent and the reference Send answered
// it with, failing the test when there is none.
func (c *Capture) LastRef(t testing.TB) (core.Outbound, string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	require.NotEmpty(t, c.msgs, "no message was sent")
	return c.msgs[len(c.msgs)-1], c.refs[len(c.refs)-1]
}

// Len returns how many messages were sent.
func (c *Capture) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

// LogBuffer is a log sink safe for a server's goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
