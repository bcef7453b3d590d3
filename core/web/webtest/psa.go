package webtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// The steps a plugin's host tests take around what they check: an
// integration on the plugin's fake, a contact mirrored from it, a device
// whose tray logs tickets, the confirmation e-mail of a first ticket and
// the opt-in form's answer. Each fails the test when a step does not
// succeed; what the fake received is for the test to check.

var (
	confirmLinkRE = regexp.MustCompile(`/e/([A-Za-z0-9_-]+)`)
	optInPathRE   = regexp.MustCompile(`/o/[^/\s]+/[A-Za-z0-9_-]{43}`)
	optInNonceRE  = regexp.MustCompile(`name="nonce" value="([^"]+)"`)
)

// OpenPSA opens a server (as [Open]) whose one PSA is desc, every client
// of it built with deps (the fake's HTTP client, a call counter), and
// saves an integration of tenant A of that PSA called name, with config
// (the fake's settings) as its JSON config.
func OpenPSA(t *testing.T, dialect string, desc psa.Descriptor, deps psa.Deps, name string, config any) (*Env, core.Integration) {
	t.Helper()
	e := Open(t, dialect, Options{Descriptors: []psa.Descriptor{desc},
		Deps: func(core.Integration) psa.Deps { return deps }})
	raw, err := json.Marshal(config)
	require.NoError(t, err)
	in, err := e.Engine.PutIntegration(t.Context(), e.A.Tenant.ID, "test", core.Integration{Kind: desc.ID, Name: name, Config: raw})
	require.NoError(t, err)
	return e, in
}

// MirrorPSAContact mirrors c, a contact of co in integration in, into
// tenant A as a technician's search does: with c's first e-mail address
// and first phone (under its label), each the default, when c has them.
func (e *Env) MirrorPSAContact(t testing.TB, in core.Integration, co psa.Company, c psa.Contact) core.Contact {
	t.Helper()
	nc := core.NewContact{PSARef: c.Ref, FirstName: c.FirstName, LastName: c.LastName}
	if len(c.Emails) > 0 {
		nc.Emails = []core.NewDestination{{Value: c.Emails[0].Address, Default: true}}
	}
	if len(c.Phones) > 0 {
		nc.Phones = []core.NewDestination{{Value: c.Phones[0].Number, Label: c.Phones[0].Label, Default: true}}
	}
	got, err := e.Engine.MirrorContact(t.Context(), e.A.Tenant.ID, core.PSAContact{Kind: in.Kind, IntegrationName: in.Name,
		CompanyRef: co.Ref, CompanyName: co.Name, Contact: nc})
	require.NoError(t, err)
	return got
}

// ActivateDevice activates a Windows agent of tenant A on computer
// machine of client clientID, reporting one signed-in user, sid, as
// account.
func (e *Env) ActivateDevice(t testing.TB, clientID, machine, sid, account string) core.Device {
	t.Helper()
	ctx := t.Context()
	key, err := e.Engine.ActivationKey(ctx, e.A.Tenant.ID, "test", clientID)
	require.NoError(t, err)
	dev, _, err := e.Engine.Activate(ctx, key, core.DeviceReport{Name: machine, OS: "Windows 11 Pro",
		Users: []core.DeviceUser{{SID: sid, Account: account, LoggedOn: true}}})
	require.NoError(t, err)
	return dev
}

// SubmitTrayTicket opens the tray's ticket form for user sid of dev, as
// the tray does, and submits tt on it.
func (e *Env) SubmitTrayTicket(t testing.TB, dev core.Device, sid string, tt core.TrayTicket) core.TrayTicketResult {
	t.Helper()
	ctx := t.Context()
	link, _, err := e.Engine.OpenTrayForm(ctx, dev, sid, core.TrayFormTicket)
	require.NoError(t, err)
	_, token, ok := strings.Cut(link, "/t/")
	require.True(t, ok, link)
	res, err := e.Engine.SubmitTrayForm(ctx, token, tt)
	require.NoError(t, err)
	return res
}

// EnrolmentMail delivers the outbox and returns the last e-mail sent,
// which asks to confirm an address, and the token of its link.
func (e *Env) EnrolmentMail(t testing.TB) (core.Outbound, string) {
	t.Helper()
	e.Deliver(t)
	msg := e.Mail.Last(t)
	g := confirmLinkRE.FindStringSubmatch(msg.Text)
	require.NotNil(t, g, msg.Text)
	return msg, g[1]
}

// ConfirmEnrolment confirms the address as its link with token does.
func (e *Env) ConfirmEnrolment(t testing.TB, token string) {
	t.Helper()
	_, err := e.Engine.ConfirmEnrolment(t.Context(), token)
	require.NoError(t, err)
}

// SendOptIn allows corrections on opt-in forms, has admin send contact
// an opt-in form by e-mail, delivers it and returns the form's path.
func (e *Env) SendOptIn(t testing.TB, admin *http.Client, contactID string) string {
	t.Helper()
	r := e.API(t, admin, http.MethodPut, "/api/v1/optin/settings", map[string]bool{"allow_correction": true})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	r = e.API(t, admin, http.MethodPost, "/api/v1/contacts/"+contactID+"/optin", map[string]string{"channel": "email"})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	e.Deliver(t)
	path := optInPathRE.FindString(e.Mail.Last(t).Text)
	require.NotEmpty(t, path)
	return path
}

// AnswerOptIn opens the opt-in form at path as its end user does, answers
// yes with phone as the corrected number, and delivers the outbox.
func (e *Env) AnswerOptIn(t testing.TB, path, phone string) {
	t.Helper()
	anon := e.Client(t)
	page := e.Do(t, anon, http.MethodGet, path, "", nil, nil)
	require.Equal(t, http.StatusOK, page.Status)
	g := optInNonceRE.FindSubmatch(page.Body)
	require.NotNil(t, g)
	r := e.Do(t, anon, http.MethodPost, path, "application/x-www-form-urlencoded",
		url.Values{"answer": {"yes"}, "nonce": {string(g[1])}, "phone": {phone}}.Encode(), nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	e.Deliver(t)
}

// NewNotifyGroup has admin create an on-call group called name, told of
// technicians' verifications, and returns its id.
func (e *Env) NewNotifyGroup(t testing.TB, admin *http.Client, name string) string {
	t.Helper()
	r := e.API(t, admin, http.MethodPost, "/api/v1/admin/notify/groups", map[string]any{"name": name, "events": []string{"tech_verify"}})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	id, _ := r.JSON(t)["id"].(string)
	require.NotEmpty(t, id, "%s", r.Body)
	return id
}

// NotifyMembers has admin list the PSA members an on-call group can copy
// and returns them with the response.
func (e *Env) NotifyMembers(t testing.TB, admin *http.Client) ([]any, Response) {
	t.Helper()
	r := e.API(t, admin, http.MethodGet, "/api/v1/admin/notify/members", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	members, _ := r.JSON(t)["members"].([]any)
	return members, r
}

// CopyNotifyMember has admin copy member ref of integration in into the
// on-call group with id group.
func (e *Env) CopyNotifyMember(t testing.TB, admin *http.Client, group string, in core.Integration, ref string) Response {
	t.Helper()
	return e.API(t, admin, http.MethodPost, "/api/v1/admin/notify/groups/"+group+"/members",
		map[string]any{"integration_id": in.ID, "member_ref": ref})
}

// PodTicketContext is what a pod is told about the ticket it shows.
type PodTicketContext struct {
	Contact *struct {
		ID        string `json:"id"`
		FirstName string `json:"first_name"`
	} `json:"contact"`
	Notice string `json:"notice"`
	Scope  string `json:"scope"`
}

// PodContext asks, as the pod of integration in signed in with cookie
// does, for the context of the ticket its PSA names in query (such as
// "ticket=3003").
func (e *Env) PodContext(t testing.TB, cookie *http.Cookie, in core.Integration, query string) PodTicketContext {
	t.Helper()
	r := e.PodDo(t, cookie, nil, http.MethodGet, "/api/v1/pod/"+in.ID+"/context?"+query, nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var pc PodTicketContext
	require.NoError(t, json.Unmarshal(r.Body, &pc))
	return pc
}

// PodCreateContact creates a caller from the pod of integration in signed
// in with cookie, in scope, with body's fields.
func (e *Env) PodCreateContact(t testing.TB, cookie *http.Cookie, in core.Integration, scope string, body map[string]string) Response {
	t.Helper()
	body["scope"] = scope
	return e.PodDo(t, cookie, nil, http.MethodPost, "/api/v1/pod/"+in.ID+"/contacts", body)
}
