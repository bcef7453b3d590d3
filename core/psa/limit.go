package psa

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/countersign/countersign/core"
)

// Limiter keeps a plugin's requests under its PSA's published rate limit
// (Kaseya BMS: so many calls an hour per endpoint; SuperOps: so many a
// minute), so that Countersign never spends the budget the MSP's other
// integrations share. A [Doer] with a Limiter waits for it before every
// attempt. A wait longer than MaxWait is not waited for: the request fails
// at once with core.ErrRateLimited, saying when to try again, so that a
// person is not kept on a spinner and the outbox retries later. It is safe
// for concurrent use.
type Limiter struct {
	limit   rate.Limit
	burst   int
	perOp   bool
	MaxWait time.Duration // default 5 s

	mu  sync.Mutex
	all *rate.Limiter
	ops map[string]*rate.Limiter
}

// NewLimiter allows n requests per period with bursts of burst, counted
// for each op ("GET /v2/crm/contacts/summary") on its own when perOp, or
// for all of the client's requests together.
func NewLimiter(n int, period time.Duration, burst int, perOp bool) *Limiter {
	l := &Limiter{limit: rate.Limit(float64(n) / period.Seconds()), burst: burst, perOp: perOp, MaxWait: 5 * time.Second, ops: map[string]*rate.Limiter{}}
	l.all = rate.NewLimiter(l.limit, burst)
	return l
}

func (l *Limiter) limiter(op string) *rate.Limiter {
	if !l.perOp {
		return l.all
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	rl, ok := l.ops[op]
	if !ok {
		rl = rate.NewLimiter(l.limit, l.burst)
		l.ops[op] = rl
	}
	return rl
}

// Wait takes one request's place for op at now, waiting for it when the
// wait is short.
func (l *Limiter) Wait(ctx context.Context, op string, now time.Time) error {
	r := l.limiter(op).ReserveN(now, 1)
	if !r.OK() {
		return fmt.Errorf("%s: %w", op, core.ErrRateLimited)
	}
	d := r.DelayFrom(now)
	if d == 0 {
		return nil
	}
	if d > l.MaxWait {
		r.CancelAt(now)
		return core.Errorf(core.KindRateLimited, "%s: Countersign keeps this PSA under its rate limit; the next call may go in %d s", op, int(math.Ceil(d.Seconds())))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.CancelAt(now)
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
}
