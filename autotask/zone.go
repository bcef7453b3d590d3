package autotask

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// DiscoveryURL is where an API user's zone is looked up. The call is
// unauthenticated: no credential goes to it (reference, "Zone discovery").
const DiscoveryURL = "https://webservices.autotask.net/atservicesrest/v1.0/zoneInformation"

// zoneTTL is how long a discovered zone is trusted. A database moves
// zones rarely, and a 401 from the cached zone discovers it again at once.
const zoneTTL = 24 * time.Hour

// zoneInfo is an API user's zone.
type zoneInfo struct {
	base   *url.URL // the zone's API base: https://webservices5.autotask.net/ATServicesRest/
	web    string   // the tenant's UI URL: https://ww5.autotask.net/
	ci     int64    // the database's id
	at     time.Time
	pinned bool // from Config.ZoneURL: no TTL, only a 401 re-discovers
}

func (z zoneInfo) fresh(now time.Time) bool {
	return z.base != nil && (z.pinned || now.Sub(z.at) < zoneTTL)
}

// Zone describes the zone an API user's database is in, as Autotask's
// zoneInformation call tells it.
type Zone struct {
	APIURL string // the API base, e.g. https://webservices5.autotask.net/ATServicesRest/
	WebURL string // the UI, e.g. https://ww5.autotask.net/
	CI     int64  // the database's id; 0 when the zone came from the settings
}

// Zone returns the client's zone, discovering it when it is not known.
func (c *Client) Zone(ctx context.Context) (Zone, error) {
	z, err := c.zone(ctx)
	if err != nil {
		return Zone{}, err
	}
	return Zone{APIURL: z.base.String(), WebURL: z.web, CI: z.ci}, nil
}

// zone returns the cached zone or discovers it, one discovery at a time.
func (c *Client) zone(ctx context.Context) (zoneInfo, error) {
	for {
		c.st.mu.Lock()
		z := c.st.zone
		if z.fresh(c.now()) {
			c.st.mu.Unlock()
			return z, nil
		}
		if wait := c.st.discovering; wait != nil {
			c.st.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return zoneInfo{}, ctx.Err()
			}
		}
		done := make(chan struct{})
		c.st.discovering = done
		c.st.mu.Unlock()

		nz, err := c.discover(ctx)
		c.st.mu.Lock()
		if err == nil {
			c.st.zone = nz
		}
		c.st.discovering = nil
		close(done)
		c.st.mu.Unlock()
		return nz, err
	}
}

// rediscover looks the zone up again after a 401 from old, and reports
// whether it moved. A zone discovered less than a minute ago is not looked
// up again: the 401 is about the credentials.
func (c *Client) rediscover(ctx context.Context, old zoneInfo) (bool, error) {
	if !old.pinned && c.now().Sub(old.at) < time.Minute {
		return false, nil
	}
	c.st.mu.Lock()
	if c.st.zone.base != nil && c.st.zone.base.String() == old.base.String() {
		c.st.zone = zoneInfo{}
	}
	c.st.mu.Unlock()
	nz, err := c.zone(ctx)
	if err != nil {
		return false, err
	}
	return nz.base.String() != old.base.String(), nil
}

// discover asks Autotask which zone the API user is in.
func (c *Client) discover(ctx context.Context) (zoneInfo, error) {
	const what = "find the zone"
	u := DiscoveryURL + "?user=" + url.QueryEscape(c.cfg.UserName)
	resp, err := c.doer.Do(ctx, "GET /V1.0/ZoneInformation", func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err == nil {
			req.Header.Set("Accept", "application/json")
		}
		return req, err
	})
	if err != nil {
		var he *psa.HTTPError
		if errors.As(err, &he) && (he.Status == http.StatusBadRequest || he.Status == http.StatusUnauthorized ||
			he.Status == http.StatusNotFound || he.Status == http.StatusInternalServerError && len(parseErrors([]byte(he.Body))) > 0) {
			// An unknown user is a 404, or a 500 with errors[] (reference).
			return zoneInfo{}, newError(what, core.KindUnauthorized, err,
				"Autotask knows no API user %q: check the username (it looks like an email address) and that the user is active", c.cfg.UserName)
		}
		return zoneInfo{}, c.fail(call{what: what, op: "GET /V1.0/ZoneInformation"}, "webservices.autotask.net", err)
	}
	var w struct {
		ZoneName string `json:"zoneName"`
		URL      string `json:"url"`
		WebURL   string `json:"webUrl"`
		CI       int64  `json:"ci"`
	}
	if err := psa.DecodeJSON(resp, &w); err != nil {
		if ctx.Err() != nil {
			return zoneInfo{}, ctx.Err()
		}
		return zoneInfo{}, newError(what, core.KindUnavailable, err, "Autotask's zone lookup sent an answer that is not JSON: try again later")
	}
	if w.URL == "" {
		return zoneInfo{}, newError(what, core.KindUnauthorized, nil,
			"Autotask knows no API user %q: check the username (it looks like an email address)", c.cfg.UserName)
	}
	base, err := zoneBase(w.URL)
	if err != nil {
		// Credentials go to this host: anything but an Autotask https
		// host is refused, whatever the lookup said.
		return zoneInfo{}, newError(what, core.KindUnavailable, err, "Autotask's zone lookup named %q, which is not an Autotask API address: refusing to send credentials there", w.URL)
	}
	web := ""
	if w.WebURL != "" {
		if _, err := webOrigin(w.WebURL); err == nil {
			web = w.WebURL
		}
	}
	c.log.InfoContext(ctx, "autotask zone found", "zone", w.ZoneName, "api", base.String(), "ci", w.CI)
	return zoneInfo{base: base, web: web, ci: w.CI, at: c.now()}, nil
}

// LearnedSettings implements [psa.SettingsLearner]: the zone's API and web
// URLs, so that a cold client of the stored integration needs no
// discovery.
func (c *Client) LearnedSettings() map[string]string {
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	if c.st.zone.base == nil {
		return nil
	}
	m := map[string]string{"zone_url": c.st.zone.base.String()}
	if c.st.zone.web != "" {
		m["web_url"] = c.st.zone.web
	}
	return m
}
