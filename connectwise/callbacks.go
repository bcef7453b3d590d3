package connectwise

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Callbacks (reference §10): ConnectWise posts a JSON message to a URL we
// register whenever a ticket is added, updated or deleted, signed with a
// key that only ConnectWise hands out, at a key URL the message names.
// Registration is idempotent; verification pins the key URL to this
// tenant's own ConnectWise before fetching anything.

// What we register (reference §10.1): ticket events of the whole company
// (level owner, whose objectId is 1), in the payload version we parse.
const (
	callbackType    = "ticket"
	callbackLevel   = "owner"
	callbackPayload = "3.0.0"
	callbackName    = "Countersign"
)

// Limits of callback verification (reference §10.4).
const (
	keyTTL         = time.Hour        // how long a fetched signing key is trusted
	keyRefetchGap  = time.Minute      // a mismatch re-fetches a cached key at most this often
	keyFetchBudget = 10               // key fetches per minute per integration…
	keyFetchWindow = time.Minute      // …in this window, so forged callbacks cannot make us hammer ConnectWise
	keyFetchLimit  = 64 << 10         // bytes of a key answer read at most
	keyFetchTime   = 10 * time.Second // the whole fetch, retry included
	maxCachedKeys  = 64
)

type wireCallback struct {
	ID             int    `json:"id,omitempty"`
	Description    string `json:"description,omitempty"`
	URL            string `json:"url"`
	ObjectID       int    `json:"objectId"`
	Type           string `json:"type"`
	Level          string `json:"level"`
	PayloadVersion string `json:"payloadVersion,omitempty"`
	InactiveFlag   *bool  `json:"inactiveFlag,omitempty"`
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// RegisterCallbacks implements [psa.CallbackRegistrar]. It lists the
// tenant's callbacks first and reuses ours (same type, level and URL),
// re-enabling it when ConnectWise disabled it after days of failed
// deliveries (reference §10.2); otherwise it registers a new one. A
// duplicate reported by ConnectWise (400 ObjectExists) is looked up and
// reused. target should end in "?recordId=" so that what ConnectWise
// appends cannot clash with our own parameters (reference §10.1).
func (c *Client) RegisterCallbacks(ctx context.Context, target string) ([]psa.CallbackRegistration, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(target) > 1000 || strings.ContainsAny(target, " \"\\") {
		return nil, core.Errorf(core.KindInvalid, "the callback URL %q is not an absolute http(s) URL", target)
	}
	existing, err := c.findCallback(ctx, target)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		reg := psa.CallbackRegistration{Ref: strconv.Itoa(existing.ID), Type: callbackType}
		if existing.InactiveFlag != nil && *existing.InactiveFlag {
			if err := c.enableCallback(ctx, existing.ID); err != nil {
				return nil, err
			}
			reg.Reenabled = true
			c.log.InfoContext(ctx, "connectwise callback re-enabled", "callback", existing.ID)
		}
		return []psa.CallbackRegistration{reg}, nil
	}
	off := false
	var created wireCallback
	resp, err := c.send(ctx, call{
		what: "register callback", op: "POST /system/callbacks", method: http.MethodPost, path: "/system/callbacks",
		body: wireCallback{URL: target, ObjectID: 1, Type: callbackType, Level: callbackLevel, Description: callbackName,
			PayloadVersion: callbackPayload, InactiveFlag: &off},
		area: "adding callbacks (System › Table Setup › Callbacks, add)",
	})
	var cwErr *Error
	if errors.As(err, &cwErr) && cwErr.Code == "ObjectExists" {
		// Registered by someone else between our list and our post.
		if existing, ferr := c.findCallback(ctx, target); ferr == nil && existing != nil {
			return []psa.CallbackRegistration{{Ref: strconv.Itoa(existing.ID), Type: callbackType}}, nil
		}
	}
	if err != nil {
		return nil, err
	}
	if err := psa.DecodeJSON(resp, &created); err != nil {
		return nil, c.decodeFail("register callback", err)
	}
	c.log.InfoContext(ctx, "connectwise callback registered", "callback", created.ID)
	return []psa.CallbackRegistration{{Ref: strconv.Itoa(created.ID), Type: callbackType, Created: true}}, nil
}

// findCallback returns our ticket callback for target, or nil.
func (c *Client) findCallback(ctx context.Context, target string) (*wireCallback, error) {
	all, err := listAll[wireCallback](ctx, c, call{
		what: "list callbacks", op: "GET /system/callbacks", method: http.MethodGet, path: "/system/callbacks",
		area: "reading callbacks (System › Table Setup › Callbacks, inquire)",
	}, maxPageSize, 10*maxPageSize)
	if err != nil {
		return nil, err
	}
	// A registration made before Countersign's generic inbound route
	// (/webhooks/psa/…) still works through the legacy route: reuse it
	// rather than have ConnectWise post every ticket twice.
	legacy := strings.Replace(target, "/webhooks/psa/", legacyInboundPrefix, 1)
	for i := range all {
		cb := &all[i]
		if (cb.URL == target || cb.URL == legacy) && strings.EqualFold(cb.Type, callbackType) && strings.EqualFold(cb.Level, callbackLevel) {
			return cb, nil
		}
	}
	return nil, nil
}

// legacyInboundPrefix is where callbacks were posted before the generic
// inbound route; the descriptor keeps it working (psa.Inbound.LegacyPaths).
const legacyInboundPrefix = "/webhooks/connectwise/"

func (c *Client) enableCallback(ctx context.Context, id int) error {
	sid := strconv.Itoa(id)
	resp, err := c.send(ctx, call{
		what: "re-enable callback " + sid, op: "PATCH /system/callbacks/{id}", method: http.MethodPatch,
		path: "/system/callbacks/" + sid, body: []patchOp{{Op: "replace", Path: "inactiveFlag", Value: false}},
		subject: "callback " + sid, area: "editing callbacks (System › Table Setup › Callbacks, edit)",
	})
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.Body.Close()
}

// wirePayload is a callback message (reference §10.3), PascalCase but for
// Metadata.key_url. Entity, a JSON string of a summary of the record, is
// not read: the record is re-read through the API before anyone acts.
type wirePayload struct {
	MessageID string          `json:"MessageId"`
	FromURL   string          `json:"FromUrl"`
	CompanyID string          `json:"CompanyId"`
	Action    string          `json:"Action"`
	Type      string          `json:"Type"`
	ID        json.RawMessage `json:"ID"`
	Metadata  *struct {
		KeyURL string `json:"key_url"`
	} `json:"Metadata"`
}

// VerifyCallback implements [psa.CallbackVerifier] with the procedure of
// reference §10.4: the x-content-signature header must be
// base64(HMAC-SHA256(SHA-256(signing key), raw body)), where the signing
// key is fetched from the body's Metadata.key_url — but only after that URL
// has been pinned to this tenant: https, this tenant's ConnectWise host
// (its site, or the site's api- or sandbox- sibling in ConnectWise's
// cloud), the callback key path, and companyName equal to the company id
// (a cloud host serves every MSP, and another MSP's ConnectWise would sign
// its own callbacks to our URL perfectly well). Keys are cached per URL for
// an hour; a mismatch re-fetches a cached key at most once a minute, and
// new key URLs are fetched at most ten a minute.
func (c *Client) VerifyCallback(ctx context.Context, h http.Header, body []byte) (psa.Callback, error) {
	if len(body) > psa.MaxInboundBody {
		return psa.Callback{}, core.Errorf(core.KindInvalid, "the callback body is over %d bytes", psa.MaxInboundBody)
	}
	sig := strings.TrimSpace(h.Get("X-Content-Signature"))
	if sig == "" {
		return psa.Callback{}, core.Errorf(core.KindUnauthorized, "the callback has no x-content-signature header")
	}
	mac, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(mac) != sha256.Size {
		return psa.Callback{}, core.Errorf(core.KindUnauthorized, "the callback's x-content-signature is not a base64 HMAC-SHA256")
	}
	var p wirePayload
	if err := json.Unmarshal(body, &p); err != nil {
		return psa.Callback{}, core.Errorf(core.KindInvalid, "the callback body is not a JSON object")
	}
	if p.Metadata == nil || p.Metadata.KeyURL == "" {
		return psa.Callback{}, core.Errorf(core.KindUnauthorized, "the callback names no signing key (Metadata.key_url)")
	}
	keyURL, err := c.pinKeyURL(p.Metadata.KeyURL)
	if err != nil {
		return psa.Callback{}, err
	}
	key, cached, err := c.signingKey(ctx, keyURL, false)
	if err != nil {
		return psa.Callback{}, err
	}
	if !hmac.Equal(mac, sign(key, body)) {
		if !cached || !c.st.callbacks.mayRefetch(keyURL, c.now()) {
			return psa.Callback{}, core.Errorf(core.KindUnauthorized, "the callback's signature does not match")
		}
		// ConnectWise may have rotated the key behind this URL.
		if key, _, err = c.signingKey(ctx, keyURL, true); err != nil {
			return psa.Callback{}, err
		}
		if !hmac.Equal(mac, sign(key, body)) {
			return psa.Callback{}, core.Errorf(core.KindUnauthorized, "the callback's signature does not match")
		}
	}
	// Signed by a key of this tenant's; the rest must agree with it.
	if p.CompanyID != "" && !strings.EqualFold(strings.TrimSpace(p.CompanyID), c.cfg.CompanyID) {
		return psa.Callback{}, core.Errorf(core.KindUnauthorized, "the callback is for company %q, not %q", core.ClipBytes(p.CompanyID, 60, core.Ellipsis), c.cfg.CompanyID)
	}
	if p.FromURL != "" && !c.keyHostAllowed(hostOf(p.FromURL)) {
		return psa.Callback{}, core.Errorf(core.KindUnauthorized, "the callback comes from %q, not this integration's ConnectWise", core.ClipBytes(p.FromURL, 100, core.Ellipsis))
	}
	id, ok := callbackRecordID(p.ID)
	if !ok {
		return psa.Callback{}, core.Errorf(core.KindInvalid, "the callback names no record id")
	}
	return psa.Callback{ID: core.ClipBytes(p.MessageID, 100, core.Ellipsis), Type: strings.ToLower(core.ClipBytes(p.Type, 50, core.Ellipsis)),
		Action: strings.ToLower(core.ClipBytes(p.Action, 50, core.Ellipsis)), Ref: strconv.Itoa(id)}, nil
}

// sign returns HMAC-SHA256 of body keyed with SHA-256 of the signing key:
// the digest, not the key itself, is the HMAC key (reference §10.4).
func sign(signingKey string, body []byte) []byte {
	k := sha256.Sum256([]byte(signingKey))
	m := hmac.New(sha256.New, k[:])
	m.Write(body)
	return m.Sum(nil)
}

// SignCallback returns the x-content-signature ConnectWise sends with body
// when its signing key is signingKey. Tests and the fake use it.
func SignCallback(signingKey string, body []byte) string {
	return base64.StdEncoding.EncodeToString(sign(signingKey, body))
}

// callbackRecordID reads ID, a number, or defensively a numeric string.
func callbackRecordID(raw json.RawMessage) (int, bool) {
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		n = json.Number(s)
	}
	id, err := strconv.ParseInt(string(n), 10, 32)
	return int(id), err == nil && id > 0
}

// keyPath is where ConnectWise serves signing keys, after the codebase.
const keyPath = "/system/callbackkey/index.rails"

// pinKeyURL checks a callback's key URL against rules 1–4 of reference
// §10.4 and returns it canonical (lower-case host), for the fetch and the
// cache. Nothing is fetched for a URL that fails.
func (c *Client) pinKeyURL(raw string) (string, error) {
	refuse := func(why string) (string, error) {
		return "", core.Errorf(core.KindUnauthorized, "the callback's key URL is refused: %s", why)
	}
	if len(raw) > 2048 {
		return refuse("it is too long")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return refuse("it is not a URL")
	case u.Scheme != "https":
		return refuse("it is not https")
	case u.User != nil:
		return refuse("it carries credentials")
	case u.Fragment != "" || u.Opaque != "":
		return refuse("it is not a plain URL")
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if !c.keyHostAllowed(host) {
		return refuse(fmt.Sprintf("host %q is not this integration's ConnectWise (%s)", core.ClipBytes(host, 100, core.Ellipsis), c.cfg.Site))
	}
	if port != "" && port != "443" && strings.ToLower(u.Host) != c.cfg.Site {
		return refuse("port " + port + " is not https's")
	}
	if !strings.HasSuffix(collapseSlashes(u.Path), keyPath) {
		return refuse("its path is not ConnectWise's callback key path")
	}
	if company := u.Query().Get("companyName"); !strings.EqualFold(company, c.cfg.CompanyID) {
		return refuse(fmt.Sprintf("it is for company %q, not %q", core.ClipBytes(company, 60, core.Ellipsis), c.cfg.CompanyID))
	}
	u.Host = strings.ToLower(u.Host)
	return u.String(), nil
}

// keyHostAllowed reports whether host (lower case, no port) may serve this
// tenant's signing keys: the site and the API host; for ConnectWise's cloud
// also the site's api- and sandbox- siblings (which host signs is
// unconfirmed, reference §10.3). On premises only the configured hosts.
func (c *Client) keyHostAllowed(host string) bool {
	if host == "" {
		return false
	}
	site, api := hostPart(c.cfg.Site), hostPart(c.apiHost)
	if host == site || host == api {
		return true
	}
	if !c.isCloud() {
		return false
	}
	base := strings.TrimPrefix(site, "api-")
	return host == base || host == "api-"+base || host == "sandbox-"+base
}

// isCloud reports whether the site is on ConnectWise's cloud.
func (c *Client) isCloud() bool {
	h := hostPart(c.cfg.Site)
	for _, d := range cloudDomains {
		if strings.HasSuffix(h, d) {
			return true
		}
	}
	return false
}

// hostPart returns host without its port.
func hostPart(h string) string {
	if hh, _, err := net.SplitHostPort(h); err == nil {
		return hh
	}
	return h
}

// hostOf returns the lower-case host of a FromUrl, which ConnectWise sends
// as a bare host ("sandbox-na.myconnectwise.net") or perhaps a URL.
func hostOf(s string) string {
	s = strings.TrimSpace(strings.ToLower(s))
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		return u.Hostname()
	}
	s, _, _ = strings.Cut(s, "/")
	return hostPart(s)
}

// callbackState caches signing keys by key URL. Its zero value is ready.
type callbackState struct {
	mu       sync.Mutex
	keys     map[string]cachedKey
	fetches  []time.Time // recent fetches, for keyFetchBudget
	inflight map[string]chan struct{}
}

type cachedKey struct {
	key string
	at  time.Time
}

// mayRefetch reports whether a cached key of keyURL is old enough to be
// fetched again after a mismatch.
func (s *callbackState) mayRefetch(keyURL string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[keyURL]
	return ok && now.Sub(k.at) >= keyRefetchGap
}

// signingKey returns the key behind keyURL (already pinned) from the cache,
// or fetches it; cached says it came from the cache. force skips the cache.
// Concurrent callers of one URL share one fetch.
func (c *Client) signingKey(ctx context.Context, keyURL string, force bool) (key string, cached bool, err error) {
	s := &c.st.callbacks
	for {
		now := c.now()
		s.mu.Lock()
		if k, ok := s.keys[keyURL]; ok && !force && now.Sub(k.at) < keyTTL {
			s.mu.Unlock()
			return k.key, true, nil
		}
		if ch, ok := s.inflight[keyURL]; ok {
			s.mu.Unlock()
			select {
			case <-ch:
				force = false
				continue
			case <-ctx.Done():
				return "", false, fmt.Errorf("connectwise: fetch callback signing key: %w", ctx.Err())
			}
		}
		recent := s.fetches[:0]
		for _, t := range s.fetches {
			if now.Sub(t) < keyFetchWindow {
				recent = append(recent, t)
			}
		}
		s.fetches = recent
		if len(s.fetches) >= keyFetchBudget {
			s.mu.Unlock()
			return "", false, core.Errorf(core.KindRateLimited, "too many callback signing keys fetched in the last minute: refusing to fetch another")
		}
		s.fetches = append(s.fetches, now)
		ch := make(chan struct{})
		if s.inflight == nil {
			s.inflight = map[string]chan struct{}{}
		}
		s.inflight[keyURL] = ch
		s.mu.Unlock()

		key, err := c.fetchKey(ctx, keyURL)

		s.mu.Lock()
		delete(s.inflight, keyURL)
		if err == nil {
			if s.keys == nil {
				s.keys = map[string]cachedKey{}
			}
			if len(s.keys) >= maxCachedKeys {
				s.evictOldest()
			}
			s.keys[keyURL] = cachedKey{key: key, at: c.now()}
		}
		s.mu.Unlock()
		close(ch)
		return key, false, err
	}
}

func (s *callbackState) evictOldest() {
	var oldest string
	var at time.Time
	for u, k := range s.keys {
		if oldest == "" || k.at.Before(at) {
			oldest, at = u, k.at
		}
	}
	delete(s.keys, oldest)
}

// fetchKey gets {"signing_key": "…"} from a pinned key URL with the
// clientId and no credentials; when ConnectWise wants credentials (401) it
// asks again with the API keys, which is allowed only because the URL is
// pinned to the tenant's own host (reference §10.4). No redirects, no
// proxy, a 10 s budget and a 64 KiB answer.
func (c *Client) fetchKey(ctx context.Context, keyURL string) (string, error) {
	const what = "fetch callback signing key"
	ctx, cancel := context.WithTimeout(ctx, keyFetchTime)
	defer cancel()
	d := c.keyDoer()
	var resp *http.Response
	var err error
	for _, withKeys := range []bool{false, true} {
		resp, err = d.Do(ctx, "GET /system/callbackkey", func(ctx context.Context) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, keyURL, nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Accept", "application/json")
			req.Header.Set("clientId", c.cfg.ClientID)
			if withKeys {
				c.authorize(req, formAPIKey)
			}
			return req, nil
		})
		var he *psa.HTTPError
		if !errors.As(err, &he) || he.Status != http.StatusUnauthorized {
			break
		}
	}
	host := hostPart(strings.ToLower(mustHost(keyURL)))
	if err != nil {
		var he *psa.HTTPError
		switch {
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			return "", newError(what, core.KindUnavailable, err, "ConnectWise at %s did not hand out the callback signing key in time", host)
		case errors.As(err, &he) && he.Status >= 300 && he.Status < 400:
			return "", newError(what, core.KindUnauthorized, err, "the callback's key URL redirects elsewhere: refused")
		case errors.As(err, &he) && he.Status < 500 && he.Status != http.StatusTooManyRequests:
			return "", newError(what, core.KindUnauthorized, err, "ConnectWise at %s has no such callback signing key (HTTP %d)", host, he.Status)
		case he != nil:
			return "", newError(what, core.KindUnavailable, err, "ConnectWise at %s did not hand out the callback signing key (HTTP %d): try again later", host, he.Status)
		}
		return "", c.networkFail(what, host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, keyFetchLimit+1))
	if err != nil {
		return "", c.networkFail(what, host, fmt.Errorf("%w: %w", core.ErrUnavailable, err))
	}
	var k struct {
		SigningKey string `json:"signing_key"`
	}
	if len(b) > keyFetchLimit || json.Unmarshal(bytes.TrimSpace(b), &k) != nil || k.SigningKey == "" {
		return "", newError(what, core.KindUnavailable, nil, "ConnectWise at %s sent a callback signing key answer that is not {\"signing_key\": …}", host)
	}
	return k.SigningKey, nil
}

func mustHost(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Host
}

// keyDoer is the client's doer for key fetches: one retry at most, and an
// HTTP client that does not follow redirects. The server's own default
// client is replaced by one without a proxy that, for cloud tenants,
// refuses to dial loopback, private and link-local addresses (reference
// §10.4 rule 5); a client the host injected (a test's fake, a deliberate
// proxy) keeps its transport.
func (c *Client) keyDoer() *psa.Doer {
	d := *c.doer
	hc := d.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	cp := *hc
	if hc == http.DefaultClient || cp.Transport == nil {
		cp.Transport = c.st.callbacks.transport(c.isCloud())
	}
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cp.Timeout = keyFetchTime
	d.Client = &cp
	d.Policy.MaxAttempts = 2
	d.Policy.MaxDelay = 2 * time.Second
	return &d
}

var (
	keyTransportOnce sync.Once
	keyTransports    [2]*http.Transport // [0] on premises, [1] cloud
)

// transport returns the shared key-fetch transport for cloud or on-premises
// tenants.
func (*callbackState) transport(cloud bool) *http.Transport {
	keyTransportOnce.Do(func() {
		for i := range keyTransports {
			dialer := &net.Dialer{Timeout: 5 * time.Second}
			if i == 1 {
				dialer.Control = refusePrivate
			}
			keyTransports[i] = &http.Transport{
				Proxy: nil, DialContext: dialer.DialContext, TLSHandshakeTimeout: 5 * time.Second,
				TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}, ResponseHeaderTimeout: 5 * time.Second,
				MaxIdleConns: 4, IdleConnTimeout: time.Minute, ForceAttemptHTTP2: true,
			}
		}
	})
	if cloud {
		return keyTransports[1]
	}
	return keyTransports[0]
}

// refusePrivate is a net.Dialer Control that refuses loopback, private,
// link-local and unspecified addresses: a ConnectWise cloud host resolving
// to one is not ConnectWise.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() {
		return fmt.Errorf("refusing to fetch a ConnectWise cloud signing key from %s", host)
	}
	return nil
}

// Interface guards.
var (
	_ psa.CallbackRegistrar = (*Client)(nil)
	_ psa.CallbackVerifier  = (*Client)(nil)
)
