package autotask

import (
	"context"
	"net/http"
	"time"

	"github.com/countersign/countersign/core"
)

// Threshold reads ThresholdInformation (one call) and records it in the
// client's [Budget]: how many requests the database has made in the
// current hour, by every integration, against its threshold.
func (c *Client) Threshold(ctx context.Context) (Threshold, error) {
	var w struct {
		ExternalRequestThreshold     int `json:"externalRequestThreshold"`
		RequestThresholdTimeframe    int `json:"requestThresholdTimeframe"`
		CurrentTimeframeRequestCount int `json:"currentTimeframeRequestCount"`
	}
	if err := c.do(ctx, call{what: "read the API usage", op: "GET /V1.0/ThresholdInformation", method: http.MethodGet,
		path: "V1.0/ThresholdInformation", area: "reading the API usage"}, &w); err != nil {
		return Threshold{}, err
	}
	t := Threshold{Limit: w.ExternalRequestThreshold, Used: w.CurrentTimeframeRequestCount,
		Window: time.Duration(w.RequestThresholdTimeframe) * time.Minute}
	c.budget.record(t, c.now())
	return t, nil
}

// nonEssential runs before work nobody waits for (company and resource
// lists, picklist refreshes). It reads ThresholdInformation when the last
// reading is more than five minutes old (one poll at a time per database),
// then waits while the estimated usage is above half the threshold, and
// refuses with core.ErrRateLimited above three quarters: the budget is
// shared with every integration the MSP runs, and a verification must
// never find it spent on a sync.
func (c *Client) nonEssential(ctx context.Context, what string) error {
	if err := c.pollThreshold(ctx); err != nil {
		return wrapWhat(what, err)
	}
	r, ok := c.budget.ratio()
	if !ok {
		return nil
	}
	used, limit, _ := c.budget.Usage()
	switch {
	case r >= stopAbove:
		return newError(what, core.KindRateLimited, nil,
			"Autotask's API usage is at %d of %d requests this hour (all integrations together): Countersign pauses background work above 75%% so that verifications keep working", used, limit)
	case r >= slowAbove:
		c.log.InfoContext(ctx, "autotask API usage above half the threshold; slowing background work", "used", used, "limit", limit)
		return c.sleep(ctx, slowDelay)
	}
	return nil
}

// pollThreshold reads ThresholdInformation unless a reading younger than
// thresholdPollEvery exists or another client of the database is reading
// it.
func (c *Client) pollThreshold(ctx context.Context) error {
	b := c.budget
	for {
		b.mu.Lock()
		if !b.readAt.IsZero() && c.now().Sub(b.readAt) < thresholdPollEvery {
			b.mu.Unlock()
			return nil
		}
		if wait := b.polling; wait != nil {
			b.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		done := make(chan struct{})
		b.polling = done
		b.mu.Unlock()
		_, err := c.Threshold(ctx)
		b.mu.Lock()
		b.polling = nil
		close(done)
		b.mu.Unlock()
		return err
	}
}
