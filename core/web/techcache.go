package web

import (
	"sync"
	"time"

	"github.com/countersign/countersign/core"
)

// Technician cache defaults; see Config.TechnicianCacheTTL.
const (
	defaultTechCacheTTL  = 30 * time.Second
	defaultTechCacheSize = 10000
)

// techKey names one technician.
type techKey struct{ tenant, id string }

type techEntry struct {
	tech    core.Technician
	expires time.Time
}

// techCache keeps signed-in technicians as last read, so that a request
// with a session costs no database read for its technician (issue 11.4).
//
// It is exact, not eventually consistent: the hub's OnTechnicianChange
// hook drops a technician the moment the engine publishes a change of it
// (synchronously, before the changing request answers) or another node's
// change arrives (the database's own notification, live.TechnicianChannel),
// and drops everything when the hub loses or regains its link to the other
// nodes. While the hub is out of sync nothing is cached at all. The TTL and
// the size bound are only safety nets (a listener whose connection died
// silently is noticed within the bridge's health check).
//
// A read that raced with an invalidation must not put back what it read
// before the change: fill keeps what it read only if no invalidation came
// between begin and fill (gen), and the hub was in sync at begin.
type techCache struct {
	ttl    time.Duration
	max    int
	inSync func() bool

	mu  sync.Mutex
	gen uint64
	m   map[techKey]techEntry
}

func newTechCache(ttl time.Duration, max int, inSync func() bool) *techCache {
	return &techCache{ttl: ttl, max: max, inSync: inSync, m: make(map[techKey]techEntry)}
}

// get returns the cached technician, if any and not expired.
func (c *techCache) get(tenantID, id string, now time.Time) (core.Technician, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[techKey{tenantID, id}]
	if !ok {
		return core.Technician{}, false
	}
	if !now.Before(e.expires) {
		delete(c.m, techKey{tenantID, id})
		return core.Technician{}, false
	}
	return e.tech, true
}

// begin returns the token a later fill needs, before the database read;
// ok false means the result must not be cached (the hub is out of sync).
func (c *techCache) begin() (gen uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen, c.inSync()
}

// fill caches t, read after begin returned gen, unless something was
// invalidated since.
func (c *techCache) fill(t core.Technician, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.m) >= c.max {
		c.evict(now)
	}
	c.m[techKey{t.TenantID, t.ID}] = techEntry{tech: t, expires: now.Add(c.ttl)}
}

// evict makes room: the expired entries go and, if none was, an arbitrary
// tenth (map order), which is cheaper than keeping an LRU list on every hit
// and good enough for a bound that only a very large fleet reaches.
func (c *techCache) evict(now time.Time) {
	n := len(c.m)
	for k, e := range c.m {
		if !now.Before(e.expires) {
			delete(c.m, k)
		}
	}
	if len(c.m) < n {
		return
	}
	drop := max(1, n/10)
	for k := range c.m {
		if drop == 0 {
			break
		}
		delete(c.m, k)
		drop--
	}
}

// invalidate drops technician id of tenantID, or every technician when
// both are "". It is the hub's OnTechnicianChange hook.
func (c *techCache) invalidate(tenantID, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if tenantID == "" && id == "" {
		clear(c.m)
		return
	}
	delete(c.m, techKey{tenantID, id})
}

// len returns the number of cached technicians.
func (c *techCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
