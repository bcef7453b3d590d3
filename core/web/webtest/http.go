package webtest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/live"
)

// Response is a read HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as a JSON object.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body is not a JSON object: %s", r.Body)
	return m
}

// Cookie returns the cookie called name that the response set, failing
// the test when there is none.
func (r Response) Cookie(t testing.TB, name string) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", name, r.Header)
	return nil
}

// Client returns an HTTP client with its own cookie jar that does not
// follow redirects.
func (e *Env) Client(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Do sends one request to path on the server. body may be nil, a string
// or []byte (sent as is) or anything else (sent as JSON).
func (e *Env) Do(t testing.TB, c *http.Client, method, path, contentType string, body any, hdr map[string]string) Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.URL+path, rd)
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return Response{Status: res.StatusCode, Header: res.Header, Body: raw}
}

// API sends a JSON API request.
func (e *Env) API(t testing.TB, c *http.Client, method, path string, body any) Response {
	t.Helper()
	ct := ""
	if body != nil {
		ct = "application/json"
	}
	return e.Do(t, c, method, path, ct, body, nil)
}

// Login returns a client signed in to the console as d's technician.
func (e *Env) Login(t testing.TB, d Tenant) *http.Client {
	t.Helper()
	c := e.Client(t)
	r := e.API(t, c, http.MethodPost, "/api/v1/login", map[string]string{"tenant": d.Tenant.Slug, "email": d.Tech.Email, "password": Password})
	require.Equal(t, http.StatusOK, r.Status, "login: %s", r.Body)
	return c
}

// SetRole gives d's technician role.
func (e *Env) SetRole(t testing.TB, d *Tenant, role core.Role) {
	t.Helper()
	ctx := t.Context()
	require.NoError(t, e.Store.Update(ctx, func(tx core.Tx) error {
		tech, err := tx.Technician(ctx, d.Tenant.ID, d.Tech.ID)
		if err != nil {
			return err
		}
		tech.Role = role
		return tx.UpdateTechnician(ctx, &tech)
	}))
	d.Tech.Role = role
	// Written straight to the store, the change is announced as the engine
	// announces its own, so that the cache of signed-in technicians drops
	// the old role before the next request.
	e.Hub.Publish(ctx, core.Event{Type: core.EventTechnicianChanged, TenantID: d.Tenant.ID, TechnicianID: d.Tech.ID})
}

// AdminClient makes tenant A's technician an admin and signs them in.
func (e *Env) AdminClient(t testing.TB) *http.Client {
	t.Helper()
	e.SetRole(t, &e.A, core.RoleAdmin)
	return e.Login(t, e.A)
}

// PodDo sends a request as a pod does: with its session cookie (nil for
// none) and, when proof is not nil, the member proof its PSA gave it in
// the X-Pod-Member-Proof header.
func (e *Env) PodDo(t testing.TB, cookie *http.Cookie, proof json.RawMessage, method, path string, body any) Response {
	t.Helper()
	hdr := map[string]string{}
	if cookie != nil {
		hdr["Cookie"] = cookie.Name + "=" + cookie.Value
	}
	if proof != nil {
		hdr["X-Pod-Member-Proof"] = base64.StdEncoding.EncodeToString(proof)
	}
	ct := ""
	if body != nil {
		ct = "application/json"
	}
	return e.Do(t, e.Client(t), method, path, ct, body, hdr)
}

// PodMember posts a member proof to /api/v1/pod/member for integration of
// tenant d, as a pod does on load.
func (e *Env) PodMember(t testing.TB, d Tenant, integration string, proof json.RawMessage) Response {
	t.Helper()
	return e.API(t, e.Client(t), http.MethodPost, "/api/v1/pod/member",
		map[string]any{"tenant": d.Tenant.Slug, "integration": integration, "proof": proof})
}

// Deliver waits for the sends started right after commits and then runs
// the outbox once for anything left to the worker.
func (e *Env) Deliver(t testing.TB) {
	t.Helper()
	e.Engine.Wait()
	_, err := e.Engine.DeliverDue(t.Context())
	require.NoError(t, err)
	e.Engine.Wait()
}

// SetPolicy changes tenant A's default policy.
func (e *Env) SetPolicy(t testing.TB, change func(*core.Policy)) {
	t.Helper()
	p, err := e.Engine.Policy(t.Context(), e.A.Tenant.ID, "")
	require.NoError(t, err)
	change(&p)
	require.NoError(t, e.Engine.PutPolicy(t.Context(), e.A.Tenant.ID, "test", "", p))
}

// Audit returns tenant A's audit events with action.
func (e *Env) Audit(t testing.TB, action string) []core.AuditEvent {
	t.Helper()
	evs, err := e.Engine.AuditEvents(t.Context(), e.A.Tenant.ID, core.AuditQuery{Action: action})
	require.NoError(t, err)
	return evs
}

var (
	codeRE   = regexp.MustCompile(`\b(\d{3}) ?(\d{3})\b`)
	digitsRE = regexp.MustCompile(`^\d+$`)
)

// CodeIn returns the six-digit code in m.
func CodeIn(t testing.TB, m core.Outbound) string {
	t.Helper()
	g := codeRE.FindStringSubmatch(m.Text)
	require.NotNil(t, g, "no code in the message")
	return g[1] + g[2]
}

// State is what the store holds for both tenants, to prove that a request
// changed nothing: compare two with ==-style equality (assert.Equal).
type State struct {
	Contacts      map[string]int
	Verifications map[string][]core.Verification
	Outbox        map[string]int
	AuditSeq      map[string]int64
	Technicians   map[string][]core.Technician
	Integrations  map[string][]core.Integration
}

// State reads the server's [State].
func (e *Env) State(t testing.TB) State {
	t.Helper()
	ctx := t.Context()
	s := State{Contacts: map[string]int{}, Verifications: map[string][]core.Verification{}, Outbox: map[string]int{},
		AuditSeq: map[string]int64{}, Technicians: map[string][]core.Technician{}, Integrations: map[string][]core.Integration{}}
	require.NoError(t, e.Store.View(ctx, func(tx core.Tx) error {
		for _, d := range []Tenant{e.A, e.B} {
			id := d.Tenant.ID
			cs, err := tx.SearchContacts(ctx, id, core.ContactQuery{Limit: 200})
			if err != nil {
				return err
			}
			s.Contacts[id] = len(cs)
			for _, c := range cs {
				vs, err := tx.ListVerifications(ctx, id, c.ID, 1000)
				if err != nil {
					return err
				}
				s.Verifications[c.ID] = vs
			}
			ob, err := tx.ListOutbox(ctx, id, 1000)
			if err != nil {
				return err
			}
			s.Outbox[id] = len(ob)
			if s.AuditSeq[id], _, err = tx.AuditHead(ctx, id); err != nil {
				return err
			}
			if s.Technicians[id], err = tx.ListTechnicians(ctx, id); err != nil {
				return err
			}
		}
		return nil
	}))
	for _, d := range []Tenant{e.A, e.B} {
		ins, err := e.Engine.Integrations(ctx, d.Tenant.ID)
		require.NoError(t, err)
		s.Integrations[d.Tenant.ID] = ins
	}
	return s
}

// AssertLogsClean fails if any of secrets appears in the server's logs.
func (e *Env) AssertLogsClean(t testing.TB, secrets ...string) {
	t.Helper()
	logs := e.Logs.String()
	require.NotEmpty(t, logs, "expected the server to have logged something")
	for _, s := range secrets {
		require.NotEmpty(t, s)
		if digitsRE.MatchString(s) {
			// A numeric code counts when it stands alone (also as
			// "123 456"), not inside a longer run of digits or an ID.
			alone := s
			if len(s) > 3 {
				alone += `|` + s[:3] + ` ` + s[3:]
			}
			re := regexp.MustCompile(`(^|[^0-9A-Za-z_])(` + alone + `)([^0-9A-Za-z_]|$)`)
			require.False(t, re.MatchString(logs), "code %s reached the logs:\n%s", s, logs)
			continue
		}
		require.NotContains(t, logs, s, "a secret reached the logs")
	}
}

// WatchTicket subscribes to tenant A's live events about the ticket with
// ref, as a console showing it does; the subscription ends with the test.
func (e *Env) WatchTicket(t testing.TB, ref string) *live.Subscription {
	t.Helper()
	sub, err := e.Hub.Subscribe(e.A.Tenant.ID, live.Watch{TicketRef: ref})
	require.NoError(t, err)
	t.Cleanup(sub.Close)
	return sub
}
