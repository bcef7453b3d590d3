package connectwise_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/connectwise"
	"github.com/countersign/countersign/connectwise/cwtest"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/web/webtest"
)

// The ConnectWise pod end to end: a whole Countersign server
// (core/web/webtest), the real connectwise client and the contract-checked
// fake ConnectWise (cwtest), counting every ConnectWise call. The host's
// own pod tests (core/web) run on the memory PSA; these hold what is
// ConnectWise's: its pod URL and script, its member authentication, its
// security roles, its default contact and its call budget.

var (
	cwCompany = psa.Company{Ref: "1001", Name: "Fabrikam"}
	cwPat     = psa.Contact{Ref: "2001", CompanyRef: cwCompany.Ref, FirstName: "Pat", LastName: "Pod",
		Phones: []psa.Phone{{Number: "(555) 010-0177", Label: "Mobile", Default: true}}}
	cwMax = psa.Contact{Ref: "2002", CompanyRef: cwCompany.Ref, FirstName: "Max", LastName: "Manager",
		Phones: []psa.Phone{{Number: "(555) 010-0178", Label: "Mobile", Default: true}}}
	cwTicket   = psa.Ticket{Ref: "3001", Summary: "Password reset", CompanyRef: cwCompany.Ref, ContactRef: cwPat.Ref}
	cwTech     = psa.Member{Ref: "42", Identifier: "jtech", Name: "Jamie Tech", Email: "jamie@msp.example"}
	cwTechAuth = connectwise.MemberAuth{MemberID: "jtech", Hash: "h4sh+of/jtech-pod==", Context: "ctx-pod-7f3a"}
)

// cwFixture is a Countersign server whose tenant a has a ConnectWise
// integration on a fake ConnectWise holding one company, two contacts, a
// ticket and a technician (member jtech) whose pod hands over cwTechAuth.
type cwFixture struct {
	*webtest.Env
	cw          *cwtest.Server
	calls       *cwtest.CallLog
	integration core.Integration
	podPath     string // /pod/{tenant}/{integration}
}

func newCWFixture(t *testing.T, dialect string) *cwFixture {
	t.Helper()
	cw := cwtest.NewServer(t)
	cw.Seed([]psa.Company{cwCompany}, []psa.Contact{cwPat, cwMax}, []psa.Ticket{cwTicket})
	cw.AddPodMember(cwTech, cwTechAuth, false)
	f := &cwFixture{cw: cw, calls: &cwtest.CallLog{}}
	// The codebase is stored with the integration when it is set up, so a
	// cold client does not discover it.
	cfg := cw.Config()
	cfg.Codebase = cwtest.DefaultCodebase
	f.Env, f.integration = webtest.OpenPSA(t, dialect, connectwise.Descriptor(), cw.Deps(psa.Deps{Calls: f.calls}), "ConnectWise", cfg)
	f.podPath = "/pod/" + f.A.Tenant.Slug + "/" + f.integration.ID
	return f
}

// proof is what pod-connectwise.js forwards: ConnectWise's
// getMemberAuthentication data (connectwise.md §8.5).
func cwProof(a connectwise.MemberAuth, companyID string) json.RawMessage {
	raw, _ := json.Marshal(map[string]string{"site": "https://na.myconnectwise.net/", "companyid": companyID,
		"memberid": a.MemberID, "memberHash": a.Hash, "memberContext": a.Context, "memberEmail": "jamie@msp.example"})
	return raw
}

func (f *cwFixture) member(t *testing.T, proof json.RawMessage) webtest.Response {
	t.Helper()
	return f.API(t, f.Client(t), http.MethodPost, "/api/v1/pod/member",
		map[string]any{"tenant": f.A.Tenant.Slug, "integration": f.integration.ID, "proof": proof})
}

// podCookie returns the pod session cookie a response set.
func podCookie(t *testing.T, r webtest.Response) *http.Cookie {
	t.Helper()
	return r.Cookie(t, "cs_pod")
}

func (f *cwFixture) setPolicy(t *testing.T, change func(*core.Policy)) {
	t.Helper()
	p := core.DefaultPolicy()
	change(&p)
	require.NoError(t, f.Engine.PutPolicy(t.Context(), f.A.Tenant.ID, "test", "", p))
}

type cwPodContext struct {
	Screen string `json:"screen"`
	Ticket *struct {
		Ref, Number, Summary string
	} `json:"ticket"`
	Contact *struct {
		ID        string `json:"id"`
		FirstName string `json:"first_name"`
	} `json:"contact"`
	Alternates []struct{ ID, Name string } `json:"alternates"`
	Scope      string                      `json:"scope"`
}

// podContext loads the pod's context as the pod of cwTech does.
func (f *cwFixture) podContext(t *testing.T, cookie *http.Cookie, query string) cwPodContext {
	t.Helper()
	r := f.PodDo(t, cookie, cwProof(cwTechAuth, cwtest.DefaultCompanyID), http.MethodGet, "/api/v1/pod/"+f.integration.ID+"/context?"+query, nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var pc cwPodContext
	require.NoError(t, json.Unmarshal(r.Body, &pc))
	return pc
}

// verifyBySMS sends an SMS code from the pod to contactID and enters it,
// delivering what the outbox holds after each step.
func (f *cwFixture) verifyBySMS(t *testing.T, cookie *http.Cookie, pc cwPodContext, contactID, note string) string {
	t.Helper()
	r := f.PodDo(t, cookie, nil, http.MethodPost, "/api/v1/pod/"+f.integration.ID+"/verifications",
		map[string]string{"scope": pc.Scope, "contact_id": contactID, "method": "sms_code", "note": note})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	id := r.JSON(t)["id"].(string)
	f.Deliver(t)
	msg := f.SMS.Last(t)
	r = f.PodDo(t, cookie, nil, http.MethodPost, "/api/v1/verifications/"+id+"/check", map[string]string{"code": webtest.CodeIn(t, msg)})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	require.Equal(t, "verified", r.JSON(t)["status"])
	f.Deliver(t)
	return id
}

func (f *cwFixture) technicians(t *testing.T) int {
	t.Helper()
	ts, err := f.Engine.Technicians(t.Context(), f.A.Tenant.ID)
	require.NoError(t, err)
	return len(ts)
}

// TestConnectWisePodCallBudget counts ConnectWise API calls for one pod
// load on a ticket (member proof, then context), an SMS-code verification
// and the note the outbox writes: at most 4 on a cold cache, at most 2
// warm.
func TestConnectWisePodCallBudget(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newCWFixture(t, dialect)
		f.setPolicy(t, func(p *core.Policy) { p.AutoCreatePodTechnicians = true })
		logStart := len(f.cw.Log())

		// Cold: a fresh client, a member never seen, a contact never mirrored.
		page := f.Do(t, f.Client(t), http.MethodGet, f.podPath+"?id=3001&screen=ticket", "", nil, nil)
		require.Equal(t, http.StatusOK, page.Status, "%s", page.Body)
		assert.Contains(t, page.Header.Get("Content-Security-Policy"), "frame-ancestors https://na.myconnectwise.net;")
		assert.Contains(t, string(page.Body), `data-psa-origins="https://na.myconnectwise.net"`)
		m := regexp.MustCompile(`<script src="(/static/psa/connectwise/pod\.js\?v=[0-9a-f]+)" defer>`).FindSubmatch(page.Body)
		require.NotNil(t, m, "the pod loads the plugin's own pod script: %s", page.Body)
		js := f.Do(t, f.Client(t), http.MethodGet, string(m[1]), "", nil, nil)
		require.Equal(t, http.StatusOK, js.Status)
		assert.Contains(t, string(js.Body), "getMemberAuthentication", "served from the plugin's embedded assets")
		assert.Contains(t, js.Header.Get("Cache-Control"), "immutable")

		r := f.member(t, cwProof(cwTechAuth, cwtest.DefaultCompanyID))
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		tech := r.JSON(t)
		assert.Equal(t, "pod-only", tech["role"], "created as pod-only: the tenant allows it")
		assert.Equal(t, "Jamie Tech", tech["name"], "ConnectWise's name for the member")
		cookie := podCookie(t, r)

		pc := f.podContext(t, cookie, "id=3001&screen=ticket")
		assert.Equal(t, "ticket", pc.Screen)
		require.NotNil(t, pc.Ticket)
		assert.Equal(t, "Password reset", pc.Ticket.Summary)
		require.NotNil(t, pc.Contact)
		assert.Equal(t, "Pat", pc.Contact.FirstName, "the ticket's contact")
		f.verifyBySMS(t, cookie, pc, pc.Contact.ID, "")

		cold := f.calls.Take()
		assert.Equal(t, []string{
			"GET /system/myMembers/info 200",
			"GET /service/tickets/{id} 200",
			"GET /company/contacts/{id} 200",
			"POST /service/tickets/{parentId}/notes 201",
		}, cold)
		assert.LessOrEqual(t, len(cold), 4, "cold budget")
		assert.Len(t, f.cw.Log()[logStart:], len(cold), "the fake saw exactly the counted calls (no discovery)")
		t.Logf("ConnectWise calls, cold pod load + SMS verification + note: %d %v", len(cold), cold)

		notes := f.cw.NoteRecords(cwTicket.Ref)
		require.Len(t, notes, 1, "the result is written to the ticket")
		assert.Contains(t, notes[0].Text, "Pat Pod was VERIFIED by SMS code")
		assert.True(t, notes[0].InternalAnalysis, "an internal note")
		assert.False(t, notes[0].DetailDescription, "not in the customer's discussion")
		assert.False(t, notes[0].Resolution)
		require.NotNil(t, notes[0].ProcessNotifications)
		assert.False(t, *notes[0].ProcessNotifications, "no e-mail to the contact")

		// Warm: the same technician loads the pod on the same ticket again.
		logStart = len(f.cw.Log())
		pc = f.podContext(t, cookie, "id=3001&screen=ticket")
		f.verifyBySMS(t, cookie, pc, pc.Contact.ID, "")
		warm := f.calls.Take()
		assert.Equal(t, []string{
			"GET /service/tickets/{id} 200",
			"POST /service/tickets/{parentId}/notes 201",
		}, warm)
		assert.LessOrEqual(t, len(warm), 2, "warm budget")
		assert.Len(t, f.cw.Log()[logStart:], len(warm))
		t.Logf("ConnectWise calls, warm pod load + SMS verification + note: %d %v", len(warm), warm)
		assert.Len(t, f.cw.NoteRecords(cwTicket.Ref), 2)

		// A pod that lost its cookie proves the member again within five
		// minutes without asking ConnectWise.
		r = f.member(t, cwProof(cwTechAuth, cwtest.DefaultCompanyID))
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		assert.Equal(t, tech["id"], r.JSON(t)["id"], "the same technician")
		assert.Empty(t, f.calls.Take(), "the member proof is cached")
	})
}

// TestConnectWisePodContactScreen covers the Contact screen, the sign-in
// that links a member when pod-only technicians are not allowed, and the
// ticket screen's switch to another contact of the company.
func TestConnectWisePodContactScreen(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newCWFixture(t, dialect)
		proof := cwProof(cwTechAuth, cwtest.DefaultCompanyID)
		before := f.technicians(t)

		r := f.member(t, proof)
		require.Equal(t, http.StatusForbidden, r.Status, "%s", r.Body)
		assert.Equal(t, true, r.JSON(t)["link_required"], "not allowed to create one: the technician signs in")
		assert.Equal(t, before, f.technicians(t))

		// The pop-out sign-in links the ConnectWise member to Jane.
		nonce := strings.Repeat("c", 22)
		r = f.API(t, f.Client(t), http.MethodPost, "/api/v1/login", map[string]string{
			"tenant": f.A.Tenant.Slug, "email": f.A.Tech.Email, "password": webtest.Password, "pod_nonce": nonce})
		require.Equal(t, http.StatusOK, r.Status)
		r = f.API(t, f.Client(t), http.MethodPost, "/api/v1/pod/session", map[string]any{"token": r.JSON(t)["handoff"], "nonce": nonce,
			"integration": f.integration.ID, "member_proof": proof})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		r = f.member(t, proof)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		assert.Equal(t, f.A.Tech.ID, r.JSON(t)["id"], "the linked technician, next time without signing in")
		cookie := podCookie(t, r)
		f.calls.Take()

		pc := f.podContext(t, cookie, "id=2002&screen=contact")
		assert.Equal(t, "contact", pc.Screen)
		assert.Nil(t, pc.Ticket)
		require.NotNil(t, pc.Contact)
		assert.Equal(t, "Max", pc.Contact.FirstName, "that contact")
		assert.Empty(t, pc.Alternates)
		assert.Equal(t, []string{"GET /company/contacts/{id} 200"}, f.calls.Take())
		pc = f.podContext(t, cookie, "id=2002&screen=Contacts")
		assert.Equal(t, []string{"GET /company/contacts/{id} 200"}, f.calls.Take(),
			"mirrored now, and still read as the member: the member's ConnectWise role decides whether they may see it")

		f.verifyBySMS(t, cookie, pc, pc.Contact.ID, "")
		assert.Empty(t, f.calls.Take(), "no ticket, no note")

		// On the ticket, Max is another contact of Pat's company: sending
		// to him needs a note when the policy says so.
		f.setPolicy(t, func(p *core.Policy) { p.NoteOnNonDefault, p.NoteRequired = true, true })
		tk := f.podContext(t, cookie, "id=3001&screen=ticket")
		require.Len(t, tk.Alternates, 2)
		r = f.PodDo(t, cookie, nil, http.MethodPost, "/api/v1/pod/"+f.integration.ID+"/verifications",
			map[string]string{"scope": tk.Scope, "contact_id": pc.Contact.ID, "method": "sms_code"})
		assert.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Body)
		f.verifyBySMS(t, cookie, tk, pc.Contact.ID, "Pat is away; Max approves")
		notes := f.cw.Notes(cwTicket.Ref)
		require.Len(t, notes, 1)
		assert.Contains(t, notes[0].Text, "Max Manager was VERIFIED by SMS code")
		assert.False(t, notes[0].Public)

		r = f.Do(t, f.Client(t), http.MethodGet, f.podPath+"?id=[cw_id]&screen=[cw_screen]", "", nil, nil)
		assert.Equal(t, http.StatusBadRequest, r.Status)
		assert.Contains(t, string(r.Body), "did not fill in")
		r = f.Do(t, f.Client(t), http.MethodGet, f.podPath+"?id=12abc&screen=ticket", "", nil, nil)
		assert.Equal(t, http.StatusBadRequest, r.Status)
	})
}

// TestConnectWisePodRefusesMembers checks that nothing the pod sends is
// taken on trust: a hash ConnectWise refuses, a member of another company,
// and strings that could reach a header get no technician and no session.
func TestConnectWisePodRefusesMembers(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newCWFixture(t, dialect)
		f.setPolicy(t, func(p *core.Policy) { p.AutoCreatePodTechnicians = true })
		// A technician of another ConnectWise company, whose sign-in is
		// genuine there.
		other := connectwise.MemberAuth{MemberID: "otech", Hash: "h4sh-of-otech-elsewhere", Context: "ctx-o"}
		stateBefore, techsBefore := f.State(t), f.technicians(t)

		forged := cwTechAuth
		forged.Hash = "forged-hash-0123456789"
		unknown := connectwise.MemberAuth{MemberID: "nobody", Hash: "h4sh-of-nobody", Context: "ctx-n"}
		for name, tc := range map[string]struct {
			proof  json.RawMessage
			status int
			msg    string
		}{
			"forged hash":         {proof: cwProof(forged, cwtest.DefaultCompanyID), status: http.StatusUnauthorized},
			"forged hash again":   {proof: cwProof(forged, cwtest.DefaultCompanyID), status: http.StatusUnauthorized},
			"unknown member":      {proof: cwProof(unknown, cwtest.DefaultCompanyID), status: http.StatusUnauthorized},
			"other company":       {proof: cwProof(other, "othermsp"), status: http.StatusUnauthorized, msg: "is for company"},
			"other company's id":  {proof: cwProof(other, cwtest.DefaultCompanyID), status: http.StatusUnauthorized},
			"cookie injection":    {proof: cwProof(connectwise.MemberAuth{MemberID: "jtech", Hash: "x;memberId=jtech;memberHash=" + cwTechAuth.Hash, Context: "c"}, cwtest.DefaultCompanyID), status: http.StatusBadRequest},
			"colleague's hash":    {proof: cwProof(connectwise.MemberAuth{MemberID: "ddoe", Hash: cwTechAuth.Hash, Context: cwTechAuth.Context}, cwtest.DefaultCompanyID), status: http.StatusUnauthorized},
			"not connectwise's":   {proof: json.RawMessage(`{"member":"42","secret":"valid"}`), status: http.StatusBadRequest},
			"member id as number": {proof: json.RawMessage(`{"memberid":42,"memberHash":"abcdefghij","memberContext":"c"}`), status: http.StatusBadRequest},
		} {
			r := f.member(t, tc.proof)
			assert.Equal(t, tc.status, r.Status, "%s: %s", name, r.Body)
			assert.Contains(t, string(r.Body), tc.msg, name)
			assert.Empty(t, r.Header.Values("Set-Cookie"), "%s: no session", name)
		}
		assert.Equal(t, techsBefore, f.technicians(t), "no technician created")
		assert.Equal(t, stateBefore, f.State(t), "nothing changed")
		f.AssertLogsClean(t, cwTechAuth.Hash, cwTechAuth.Context, forged.Hash, other.Hash)

		// The genuine member still gets in, and tenant b cannot use tenant
		// a's integration with it.
		r := f.member(t, cwProof(cwTechAuth, cwtest.DefaultCompanyID))
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		r = f.API(t, f.Client(t), http.MethodPost, "/api/v1/pod/member",
			map[string]any{"tenant": f.B.Tenant.Slug, "integration": f.integration.ID, "proof": cwProof(cwTechAuth, cwtest.DefaultCompanyID)})
		assert.Equal(t, http.StatusNotFound, r.Status)
	})
}

// TestConnectWisePodNoteWaitsForConnectWise checks that a verification
// result due while ConnectWise is down is written once it is back.
func TestConnectWisePodNoteWaitsForConnectWise(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newCWFixture(t, dialect)
		f.setPolicy(t, func(p *core.Policy) { p.AutoCreatePodTechnicians = true })
		r := f.member(t, cwProof(cwTechAuth, cwtest.DefaultCompanyID))
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		cookie := podCookie(t, r)
		pc := f.podContext(t, cookie, "id=3001&screen=ticket")

		r = f.PodDo(t, cookie, nil, http.MethodPost, "/api/v1/pod/"+f.integration.ID+"/verifications",
			map[string]string{"scope": pc.Scope, "contact_id": pc.Contact.ID, "method": "sms_code"})
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		id := r.JSON(t)["id"].(string)
		f.Deliver(t)
		msg := f.SMS.Last(t)

		f.cw.SetDown(true)
		f.calls.Take()
		r = f.PodDo(t, cookie, nil, http.MethodPost, "/api/v1/verifications/"+id+"/check", map[string]string{"code": webtest.CodeIn(t, msg)})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		assert.Equal(t, "verified", r.JSON(t)["status"], "the verification does not wait for ConnectWise")
		f.Deliver(t)
		f.Clock.Add(10 * time.Minute)
		f.Deliver(t)
		assert.Empty(t, f.cw.NoteRecords(cwTicket.Ref), "ConnectWise is down")
		down := f.calls.Take()
		require.NotEmpty(t, down)
		for _, op := range down {
			assert.Equal(t, "POST /service/tickets/{parentId}/notes 503", op, "a note POST is tried once per outbox attempt")
		}
		r = f.PodDo(t, cookie, cwProof(cwTechAuth, cwtest.DefaultCompanyID), http.MethodGet, "/api/v1/pod/"+f.integration.ID+"/context?id=3001&screen=ticket", nil)
		assert.Equal(t, http.StatusServiceUnavailable, r.Status, "the pod says ConnectWise is down: %s", r.Body)

		f.cw.SetDown(false)
		f.Clock.Add(15 * time.Minute) // past the outbox backoff
		f.Deliver(t)
		notes := f.cw.NoteRecords(cwTicket.Ref)
		require.Len(t, notes, 1, "the note landed once ConnectWise was back")
		assert.Contains(t, notes[0].Text, "Pat Pod was VERIFIED by SMS code")
		assert.True(t, notes[0].InternalAnalysis)
		f.Clock.Add(time.Hour)
		f.Deliver(t)
		assert.Len(t, f.cw.NoteRecords(cwTicket.Ref), 1, "written once")
	})
}

// TestConnectWisePodReadsWithTheMembersRights checks that the pod reads
// ConnectWise as the technician looking at it: of two technicians whose
// security roles differ, the one whose role hides a company sees none of
// its tickets or contacts through the pod — not even contacts the other
// one's pod mirrored already — while the other sees them; a pod without
// ConnectWise's sign-in reads nothing, and one technician cannot read with
// another's.
func TestConnectWisePodReadsWithTheMembersRights(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newCWFixture(t, dialect)
		f.setPolicy(t, func(p *core.Policy) { p.AutoCreatePodTechnicians = true })
		secret := psa.Company{Ref: "1002", Name: "Contoso Board"}
		chair := psa.Contact{Ref: "2003", CompanyRef: secret.Ref, FirstName: "Chris", LastName: "Chair",
			Phones: []psa.Phone{{Number: "(555) 010-0179", Label: "Mobile", Default: true}}}
		boardTicket := psa.Ticket{Ref: "3002", Summary: "Board laptop", CompanyRef: secret.Ref, ContactRef: chair.Ref}
		f.cw.Seed([]psa.Company{cwCompany, secret}, []psa.Contact{cwPat, cwMax, chair}, []psa.Ticket{cwTicket, boardTicket})
		desk := psa.Member{Ref: "43", Identifier: "hdesk", Name: "Harper Desk", Email: "harper@msp.example"}
		deskAuth := connectwise.MemberAuth{MemberID: "hdesk", Hash: "h4sh-of-hdesk-pod", Context: "ctx-h"}
		f.cw.AddPodMember(desk, deskAuth, false)
		f.cw.SetMemberRole("hdesk", "Help Desk (Fabrikam only)", secret.Ref)
		jamieProof, harperProof := cwProof(cwTechAuth, cwtest.DefaultCompanyID), cwProof(deskAuth, cwtest.DefaultCompanyID)

		signIn := func(proof json.RawMessage) *http.Cookie {
			r := f.member(t, proof)
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
			return podCookie(t, r)
		}
		jamie, harper := signIn(jamieProof), signIn(harperProof)
		get := func(cookie *http.Cookie, proof json.RawMessage, query string) webtest.Response {
			return f.PodDo(t, cookie, proof, http.MethodGet, "/api/v1/pod/"+f.integration.ID+"/context?"+query, nil)
		}

		// Jamie's role sees the board's ticket and its contact; the pod
		// mirrors them.
		r := get(jamie, jamieProof, "id=3002&screen=ticket")
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		assert.Contains(t, string(r.Body), "Chris")
		r = get(jamie, jamieProof, "id=2003&screen=contact")
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)

		// Harper's does not: neither the ticket nor the contact, though it
		// is mirrored locally by now.
		for _, q := range []string{"id=3002&screen=ticket", "id=2003&screen=contact"} {
			r = get(harper, harperProof, q)
			assert.Equal(t, http.StatusForbidden, r.Status, "%s: %s", q, r.Body)
			assert.NotContains(t, string(r.Body), "Chris", q)
		}
		// On a ticket Harper may see, the company's contacts are Fabrikam's.
		r = get(harper, harperProof, "id=3001&screen=ticket")
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		var pc cwPodContext
		require.NoError(t, json.Unmarshal(r.Body, &pc))
		for _, a := range pc.Alternates {
			assert.NotEqual(t, "Chris Chair", a.Name)
		}
		r = f.PodDo(t, harper, harperProof, http.MethodPost, "/api/v1/pod/"+f.integration.ID+"/company-contacts", map[string]string{"scope": pc.Scope})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		assert.NotContains(t, string(r.Body), "Chris")
		assert.Contains(t, string(r.Body), "Max Manager")
		for _, req := range f.cw.Log() {
			if req.Route == "GET /service/tickets/{id}" || req.Route == "GET /company/contacts/{id}" || req.Route == "GET /company/contacts" {
				assert.NotEqual(t, "api-key", req.Auth, "pod reads run as the member, not the API member: %+v", req)
			}
		}

		// No ConnectWise sign-in: nothing is read, and the pod is told to
		// get one. Another technician's sign-in: refused.
		r = get(harper, nil, "id=3001&screen=ticket")
		assert.Equal(t, http.StatusForbidden, r.Status, "%s", r.Body)
		assert.Equal(t, true, r.JSON(t)["member_required"])
		r = get(harper, jamieProof, "id=3002&screen=ticket")
		assert.Equal(t, http.StatusForbidden, r.Status, "%s", r.Body)
		assert.Contains(t, string(r.Body), "another technician's")
		assert.NotContains(t, string(r.Body), "Chris")
		f.AssertLogsClean(t, cwTechAuth.Hash, deskAuth.Hash)
	})
}

// TestConnectWisePodCreatesContact checks the caller the company does not
// have on file: the pod creates them in ConnectWise under the ticket's
// company, as the member, mirrors them, and — on a ticket without a
// contact, when the policy says so — makes them the ticket's contact, so
// that they are its default caller.
func TestConnectWisePodCreatesContact(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newCWFixture(t, dialect)
		f.setPolicy(t, func(p *core.Policy) {
			p.AutoCreatePodTechnicians = true
			p.NoteOnNonDefault, p.NoteRequired = true, true
		})
		bare := psa.Ticket{Ref: "3003", Summary: "Someone called", CompanyRef: cwCompany.Ref}
		f.cw.Seed([]psa.Company{cwCompany}, []psa.Contact{cwPat, cwMax}, []psa.Ticket{cwTicket, bare})
		r := f.member(t, cwProof(cwTechAuth, cwtest.DefaultCompanyID))
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		cookie := podCookie(t, r)
		proof := cwProof(cwTechAuth, cwtest.DefaultCompanyID)
		create := func(scope string, body map[string]string) webtest.Response {
			body["scope"] = scope
			return f.PodDo(t, cookie, proof, http.MethodPost, "/api/v1/pod/"+f.integration.ID+"/contacts", body)
		}

		pc := f.podContext(t, cookie, "id=3003&screen=ticket")
		require.Nil(t, pc.Contact, "the ticket has no contact")
		r = create(pc.Scope, map[string]string{"first_name": "Nia"})
		assert.Equal(t, http.StatusBadRequest, r.Status, "a contact needs a way to verify them: %s", r.Body)
		r = create(pc.Scope, map[string]string{"first_name": "Nia", "last_name": "New", "phone": "(555) 010-0190"})
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		assert.Equal(t, false, r.JSON(t)["ticket_contact"], "the policy does not write contacts back")
		assert.Empty(t, f.cw.TicketContact("3003"))

		f.setPolicy(t, func(p *core.Policy) {
			p.AutoCreatePodTechnicians, p.PodContactToTicket = true, true
			p.NoteOnNonDefault, p.NoteRequired = true, true
		})
		r = create(pc.Scope, map[string]string{"first_name": "Ola", "last_name": "Other", "email": "ola@fabrikam.example"})
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		out := r.JSON(t)
		assert.Equal(t, true, out["ticket_contact"])
		created := out["contact"].(map[string]any)
		assert.Equal(t, "Ola Other", created["name"])
		ref := f.cw.TicketContact("3003")
		require.NotEmpty(t, ref, "the new contact is the ticket's contact in ConnectWise")
		got, err := f.cw.NewClient(t, psa.Deps{}).GetContact(t.Context(), ref)
		require.NoError(t, err)
		assert.Equal(t, "Ola", got.FirstName)
		assert.Equal(t, cwCompany.Ref, got.CompanyRef, "under the ticket's company")
		// The new scope makes Ola the default caller: no note asked for.
		r = f.PodDo(t, cookie, proof, http.MethodPost, "/api/v1/pod/"+f.integration.ID+"/verifications",
			map[string]string{"scope": out["scope"].(string), "contact_id": created["id"].(string), "method": "email_code"})
		assert.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)

		// A ticket that has a contact keeps it.
		pc = f.podContext(t, cookie, "id=3001&screen=ticket")
		r = create(pc.Scope, map[string]string{"first_name": "Pia", "phone": "(555) 010-0191"})
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		assert.Equal(t, false, r.JSON(t)["ticket_contact"])
		assert.Equal(t, cwPat.Ref, f.cw.TicketContact("3001"))
		for _, req := range f.cw.Log() {
			if req.Route == "POST /company/contacts" || req.Route == "PATCH /service/tickets/{id}" {
				assert.NotEqual(t, "api-key", req.Auth, "written as the member: %+v", req)
			}
		}
	})
}

// TestConnectWisePodDefaultContact checks ConnectWise's default-contact
// rule: a ticket without a contact is about its company's default contact,
// who is then the pod's default caller (no alternate-contact note), read
// with the member's rights.
func TestConnectWisePodDefaultContact(t *testing.T) {
	webtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		f := newCWFixture(t, dialect)
		f.setPolicy(t, func(p *core.Policy) {
			p.AutoCreatePodTechnicians = true
			p.NoteOnNonDefault, p.NoteRequired = true, true
		})
		bare := psa.Ticket{Ref: "3003", Summary: "Someone called", CompanyRef: cwCompany.Ref}
		f.cw.Seed([]psa.Company{cwCompany}, []psa.Contact{cwPat, cwMax}, []psa.Ticket{cwTicket, bare})
		r := f.member(t, cwProof(cwTechAuth, cwtest.DefaultCompanyID))
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		cookie := podCookie(t, r)

		pc := f.podContext(t, cookie, "id=3003&screen=ticket")
		assert.Nil(t, pc.Contact, "the company names no default contact")

		f.cw.SetDefaultContact(cwCompany.Ref, cwMax.Ref)
		f.calls.Take()
		pc = f.podContext(t, cookie, "id=3003&screen=ticket")
		require.NotNil(t, pc.Contact, "the company's default contact")
		assert.Equal(t, "Max", pc.Contact.FirstName)
		assert.Contains(t, f.calls.Take(), "GET /company/companies/{id} 200")
		r = f.PodDo(t, cookie, cwProof(cwTechAuth, cwtest.DefaultCompanyID), http.MethodPost, "/api/v1/pod/"+f.integration.ID+"/verifications",
			map[string]string{"scope": pc.Scope, "contact_id": pc.Contact.ID, "method": "sms_code"})
		assert.Equal(t, http.StatusCreated, r.Status, "the default caller needs no note: %s", r.Body)

		pc = f.podContext(t, cookie, "id=3001&screen=ticket")
		assert.Equal(t, "Pat", pc.Contact.FirstName, "a ticket's own contact comes first")
	})
}
