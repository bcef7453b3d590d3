package cwtest

import (
	"fmt"
	"sync"
)

// CallLog is a psa.CallCounter that remembers every call the client
// counted, as "op status", for tests that hold a client to a call budget.
type CallLog struct {
	mu  sync.Mutex
	ops []string
}

// CountCall implements psa.CallCounter.
func (c *CallLog) CountCall(op string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops = append(c.ops, fmt.Sprintf("%s %d", op, status))
}

// Take returns the calls counted since the last Take and forgets them.
func (c *CallLog) Take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.ops
	c.ops = nil
	return out
}
