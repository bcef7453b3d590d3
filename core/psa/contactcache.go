package psa

import (
	"slices"
	"sync"
	"time"
)

// ContactCache keeps contacts a plugin read a moment ago, for PSAs whose
// call budget is tight (Kaseya BMS allows 1,500 calls an hour per
// endpoint): a technician who opens a ticket, sends a code and checks it
// reads the same contact several times within a minute. The zero value is
// not usable; make one with [NewContactCache]. It is safe for concurrent
// use.
type ContactCache struct {
	ttl time.Duration
	max int

	mu sync.Mutex
	m  map[string]cachedContact
}

type cachedContact struct {
	c  Contact
	at time.Time
}

// NewContactCache returns a cache whose entries live for ttl, holding at
// most max contacts (past that it starts again empty: a burst of distinct
// reads is no reason to keep old ones).
func NewContactCache(ttl time.Duration, max int) *ContactCache {
	return &ContactCache{ttl: ttl, max: max, m: map[string]cachedContact{}}
}

// Get returns the contact with ref if it was put less than the TTL ago
// (by now), as a copy the caller may change.
func (cc *ContactCache) Get(ref string, now time.Time) (Contact, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	e, ok := cc.m[ref]
	if !ok || now.Sub(e.at) >= cc.ttl || now.Before(e.at) {
		return Contact{}, false
	}
	return cloneContact(e.c), true
}

// Put stores c under ref as read at now.
func (cc *ContactCache) Put(ref string, c Contact, now time.Time) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if len(cc.m) >= cc.max {
		cc.m = map[string]cachedContact{}
	}
	cc.m[ref] = cachedContact{c: cloneContact(c), at: now}
}

// Forget drops ref, after the plugin changed the contact.
func (cc *ContactCache) Forget(ref string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	delete(cc.m, ref)
}

func cloneContact(c Contact) Contact {
	c.Emails = slices.Clone(c.Emails)
	c.Phones = slices.Clone(c.Phones)
	return c
}
