package autotask

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Autotask's limits (reference, "Usage limits").
const (
	// MaxInFlight is how many requests Autotask serves at once per
	// tracking identifier and object endpoint (integrations created after
	// release 2023.1); more are refused.
	MaxInFlight = 3
	// thresholdPollEvery is how often non-essential work reads
	// ThresholdInformation.
	thresholdPollEvery = 5 * time.Minute
	// slowAbove and stopAbove are the shares of the hourly threshold above
	// which non-essential work slows down and stops.
	slowAbove = 0.50
	stopAbove = 0.75
	// slowDelay is the pause before each non-essential call above slowAbove.
	slowDelay = 2 * time.Second
)

// Budgets holds one [Budget] per Autotask database. A [Descriptor] keeps
// one, so that every client it makes shares them. It is safe for
// concurrent use.
type Budgets struct {
	mu sync.Mutex
	m  map[string]*Budget
}

// NewBudgets returns an empty set of budgets.
func NewBudgets() *Budgets { return &Budgets{m: map[string]*Budget{}} }

// For returns the budget of the database key names (the API username,
// lower case: one API user belongs to one database).
func (b *Budgets) For(key string) *Budget {
	key = strings.ToLower(key)
	b.mu.Lock()
	defer b.mu.Unlock()
	if bu, ok := b.m[key]; ok {
		return bu
	}
	bu := &Budget{slots: map[string]chan struct{}{}}
	b.m[key] = bu
	return bu
}

// Budget is what Countersign knows about one Autotask database's API
// usage: the calls its clients made, the last ThresholdInformation reading,
// and the requests in flight per endpoint.
type Budget struct {
	total atomic.Int64 // requests sent to the database's API, ever

	mu        sync.Mutex
	reading   Threshold
	readAt    time.Time
	totalAt   int64         // total when reading was taken
	polling   chan struct{} // closed when the poll under way ends; nil when none
	slots     map[string]chan struct{}
	highWater map[string]int
	inFlight  map[string]int
}

// Threshold is a ThresholdInformation reading.
type Threshold struct {
	Limit  int           // externalRequestThreshold: 10,000 by default
	Used   int           // currentTimeframeRequestCount, all integrations of the database
	Window time.Duration // requestThresholdTimeframe: an hour
}

// Calls returns how many requests the database's clients have sent.
func (b *Budget) Calls() int64 { return b.total.Load() }

// Usage returns the estimated share of the threshold used now: the last
// reading plus the calls made since, and whether there is a reading at all.
func (b *Budget) Usage() (used, limit int, known bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.readAt.IsZero() || b.reading.Limit <= 0 {
		return 0, 0, false
	}
	return b.reading.Used + int(b.total.Load()-b.totalAt), b.reading.Limit, true
}

func (b *Budget) ratio() (float64, bool) {
	used, limit, ok := b.Usage()
	if !ok {
		return 0, false
	}
	return float64(used) / float64(limit), true
}

// record stores a reading taken at.
func (b *Budget) record(t Threshold, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reading, b.readAt, b.totalAt = t, at, b.total.Load()
}

// acquire takes one of the endpoint's MaxInFlight slots, waiting for one
// until ctx is done.
func (b *Budget) acquire(ctx context.Context, endpoint string) error {
	b.mu.Lock()
	ch, ok := b.slots[endpoint]
	if !ok {
		ch = make(chan struct{}, MaxInFlight)
		b.slots[endpoint] = ch
	}
	b.mu.Unlock()
	select {
	case ch <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.mu.Lock()
	if b.inFlight == nil {
		b.inFlight, b.highWater = map[string]int{}, map[string]int{}
	}
	b.inFlight[endpoint]++
	b.highWater[endpoint] = max(b.highWater[endpoint], b.inFlight[endpoint])
	b.mu.Unlock()
	return nil
}

func (b *Budget) release(endpoint string) {
	b.mu.Lock()
	ch := b.slots[endpoint]
	b.inFlight[endpoint]--
	b.mu.Unlock()
	<-ch
}

// HighWater returns the most requests the clients had in flight at once
// to endpoint ("contacts", "tickets", …).
func (b *Budget) HighWater(endpoint string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.highWater[strings.ToLower(endpoint)]
}

// endpointOf returns the object endpoint of an API path, lower case:
// "tickets" for /ATServicesRest/V1.0/Tickets/7/Notes; "" for paths outside
// V1.0 (zone and version discovery, which are not thread limited).
func endpointOf(path string) string {
	lp := strings.ToLower(path)
	i := strings.Index(lp, "/v1.0/")
	if i < 0 {
		return ""
	}
	ep, _, _ := strings.Cut(lp[i+len("/v1.0/"):], "/")
	if ep == "zoneinformation" {
		return ""
	}
	return ep
}

// limitTransport counts every request to the database's API and keeps at
// most MaxInFlight in flight per endpoint, from sending the request until
// its body is closed.
type limitTransport struct {
	base   http.RoundTripper
	budget *Budget
}

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ep := endpointOf(req.URL.Path)
	if ep == "" {
		return t.base.RoundTrip(req)
	}
	if err := t.budget.acquire(req.Context(), ep); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	t.budget.total.Add(1)
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		t.budget.release(ep)
		return nil, err
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: func() { t.budget.release(ep) }}
	return resp, nil
}

// releasingBody gives the endpoint's slot back when the body is closed.
type releasingBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}
