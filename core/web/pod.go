package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/gorilla/mux"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
)

// The pod: the verification card as a page a PSA hosts in an iframe on its
// contact and ticket screens.
//
// An iframe on the PSA's site is a third-party context, so the pod has its
// own session cookie, cs_pod: Secure; SameSite=None; Partitioned (CHIPS).
// The browser keys it to the PSA's site, so no other site that frames us
// can ride on it. Signing in cannot happen inside the frame (SSO and push
// prompts refuse to be framed, and a first-party session cookie set in a
// pop-out is invisible to the partitioned frame), so the pod opens our
// sign-in page as a pop-out; the pop-out ends in a one-time handoff token
// that it posts back to the pod, which trades it for its own cookie.
//
// Who may frame the pod comes from the integration: the PSA plugin's
// psa.Embedder lists the origins, and they become the page's CSP
// frame-ancestors. The plugin also reads the PSA's context (contact or
// ticket) from the pod URL.

const (
	podSessionName = "cs_pod"
	// handoffLifetime bounds the pop-out's handoff token: it only has to
	// travel from the pop-out to the pod over postMessage.
	handoffLifetime = 2 * time.Minute
	// podContextLifetime bounds a signed pod context (see podScope).
	podContextLifetime = 12 * time.Hour
)

// nonceRE is what the pod's random nonce looks like: base64url, 16–64 chars.
var nonceRE = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)

func validNonce(s string) bool { return nonceRE.MatchString(s) }

// podState is the pod's server-side machinery, built by New.
type podState struct {
	handoff *securecookie.SecureCookie // one-time sign-in tokens from the pop-out
	context *securecookie.SecureCookie // signed pod contexts
	used    sync.Map                   // handoff token id → expiry, so each token works once
}

func newPodState(key []byte) *podState {
	h := securecookie.New(deriveSub(key, "pod-handoff-mac"), deriveSub(key, "pod-handoff-enc"))
	h.MaxAge(int(handoffLifetime / time.Second))
	c := securecookie.New(deriveSub(key, "pod-context-mac"), nil)
	c.MaxAge(int(podContextLifetime / time.Second))
	return &podState{handoff: h, context: c}
}

func newPodSessions(key []byte) *sessions.CookieStore {
	st := sessions.NewCookieStore(deriveSub(key, "pod-session-mac"), deriveSub(key, "pod-session-enc"))
	st.Options = &sessions.Options{
		Path: "/", MaxAge: int(sessionLifetime / time.Second), HttpOnly: true,
		// SameSite=None needs Secure; browsers accept Secure cookies from
		// http://localhost, and PSAs only frame https pages anyway.
		Secure: true, SameSite: http.SameSiteNoneMode, Partitioned: true,
	}
	return st
}

func (s *Server) registerPodPageRoutes(r *mux.Router) {
	r.HandleFunc("/pod/signin", s.handlePodSignIn).Methods(http.MethodGet)
	r.HandleFunc("/pod/{tenant}/{integration}", s.handlePodPage).Methods(http.MethodGet)
}

// registerPodSessionRoutes adds the pod's unauthenticated API routes.
func (s *Server) registerPodSessionRoutes(r *mux.Router) {
	r.HandleFunc("/pod/session", s.handlePodSession).Methods(http.MethodPost)
	r.HandleFunc("/pod/signout", s.handlePodSignOut).Methods(http.MethodPost)
	r.HandleFunc("/pod/member", s.handlePodMember).Methods(http.MethodPost)
}

// registerPodRoutes adds the pod's API routes for a signed-in technician.
func (s *Server) registerPodRoutes(r *mux.Router) {
	r.HandleFunc("/pod/{integration}/context", s.handlePodContext).Methods(http.MethodGet)
	r.HandleFunc("/pod/{integration}/verifications", s.handlePodStart).Methods(http.MethodPost)
	r.HandleFunc("/pod/{integration}/company-contacts", s.handlePodCompanyContacts).Methods(http.MethodPost)
	r.HandleFunc("/pod/{integration}/contacts", s.handlePodCreateContact).Methods(http.MethodPost)
	r.HandleFunc("/pod/{integration}/techverify/{id}/claim", s.handlePodTechVerifyClaim).Methods(http.MethodPost)
}

type podPage struct {
	Tenant      string
	Integration string
	Name        string   // the tenant's display name
	PSAScripts  []string // URLs of the plugin's pod scripts (psa.Assets.PodScripts)
	PSAOrigins  string   // the PSA's origins, space-separated: the only ones the pod talks postMessage with
	PSAConfig   string   // JSON for the plugin's pod script (psa.PodScriptConfigurer); "" for none
	TimeZone    string   // the tenant's, for the card's times; "" is UTC
}

// handlePodPage handles "GET /pod/{tenant}/{integration}?…": the pod shell.
// It shows nothing about any contact: the script asks the API once the
// technician is known.
func (s *Server) handlePodPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tenant, err := s.engine.TenantBySlug(ctx, pathVar(r, "tenant"))
	var (
		emb psa.Embedder
		in  core.Integration
	)
	if err == nil {
		emb, in, err = s.podEmbedder(ctx, tenant.ID, pathVar(r, "integration"))
	}
	var origins []string
	if err == nil {
		origins, err = frameAncestors(emb.FrameOrigins())
	}
	if err == nil {
		_, err = emb.PodContext(r.URL.Query())
	}
	if err != nil {
		kind := core.ErrorKind(err)
		if kind == core.KindNotFound {
			err = core.Errorf(core.KindNotFound, "this pod URL names no integration; copy the pod URL again from Countersign's integration settings")
		}
		s.log.InfoContext(ctx, "pod page refused", "request_id", requestID(r), "err", err)
		status, msg, _ := s.classify(r, err)
		http.Error(w, msg, status)
		return
	}
	var psaConfig string
	if err == nil {
		psaConfig, err = podScriptConfig(ctx, emb)
	}
	if err != nil {
		s.log.InfoContext(ctx, "pod page refused", "request_id", requestID(r), "err", err)
		status, msg, _ := s.classify(r, err)
		http.Error(w, msg, status)
		return
	}
	h := w.Header()
	h.Del("X-Frame-Options") // frame-ancestors below says who may frame us
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors "+
		strings.Join(origins, " ")+"; form-action 'self'; base-uri 'none'")
	h.Set("Cache-Control", "no-store")
	s.renderHTML(w, r, http.StatusOK, "pod.html", podPage{Tenant: tenant.Slug, Integration: in.ID, Name: tenant.DisplayName(), TimeZone: tenant.Branding.TimeZone,
		PSAScripts: s.podScripts(in.Kind), PSAOrigins: strings.Join(origins, " "), PSAConfig: psaConfig})
}

// podScriptConfig returns the settings a plugin's pod script needs, as
// JSON, or "" when the plugin has none.
func podScriptConfig(ctx context.Context, emb psa.Embedder) (string, error) {
	c, ok := emb.(psa.PodScriptConfigurer)
	if !ok {
		return "", nil
	}
	m, err := c.PodScriptConfig(ctx)
	if err != nil || len(m) == 0 {
		return "", err
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// originRE is a bare origin: scheme, host, optional port; nothing that
// could end a CSP directive.
var originRE = regexp.MustCompile(`^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$`)

// frameAncestors checks a plugin's frame origins before they reach a CSP
// header.
func frameAncestors(origins []string) ([]string, error) {
	out := make([]string, 0, len(origins))
	for _, o := range origins {
		if !originRE.MatchString(o) {
			return nil, core.Errorf(core.KindInvalid, "the integration's PSA origin %q is not a plain origin such as https://psa.example.com", o)
		}
		out = append(out, o)
	}
	if len(out) == 0 {
		return nil, core.Errorf(core.KindInvalid, "the integration names no PSA origin that may show the pod")
	}
	return out, nil
}

// psaClient returns the PSA client of an integration.
func (s *Server) psaClient(in core.Integration) (psa.Client, error) {
	if s.cfg.PSA == nil {
		return nil, core.Errorf(core.KindUnavailable, "no PSA plugins are configured on this server")
	}
	return s.cfg.PSA.Get(in)
}

// podEmbedder loads an integration of the tenant and its client, which must
// host pods.
func (s *Server) podEmbedder(ctx context.Context, tenantID, integrationID string) (psa.Embedder, core.Integration, error) {
	if len(integrationID) > 64 {
		return nil, core.Integration{}, core.Errorf(core.KindNotFound, "no such integration")
	}
	in, err := s.engine.Integration(ctx, tenantID, integrationID)
	if err != nil {
		return nil, in, err
	}
	c, err := s.psaClient(in)
	if err != nil {
		return nil, in, err
	}
	emb, ok := c.(psa.Embedder)
	if !ok {
		return nil, in, core.Errorf(core.KindInvalid, "%s integrations cannot host a pod", in.Kind)
	}
	return emb, in, nil
}

// handlePodSignIn handles "GET /pod/signin?tenant=&nonce=": the sign-in page
// in the pop-out the pod opens.
func (s *Server) handlePodSignIn(w http.ResponseWriter, r *http.Request) {
	nonce := r.URL.Query().Get("nonce")
	if !validNonce(nonce) {
		http.Error(w, "This sign-in window must be opened from the Countersign pod; close it and use the pod's Sign in button.", http.StatusBadRequest)
		return
	}
	tenant := r.URL.Query().Get("tenant")
	if len(tenant) > 64 {
		tenant = ""
	}
	s.renderHTML(w, r, http.StatusOK, "login.html", consolePage{Dev: s.engine.DevDelivery(), Tenant: tenant, PodNonce: nonce})
}

// handoffToken is what the pop-out carries back to the pod.
type handoffToken struct {
	ID       string // single use
	TenantID string
	TechID   string
	Nonce    string // the pod's nonce: a token works only for the pod that asked
}

// grantPodHandoff answers a pop-out's successful sign-in with a handoff
// token instead of a console session.
func (s *Server) grantPodHandoff(w http.ResponseWriter, r *http.Request, tech core.Technician, nonce string) {
	tok, err := s.pod.handoff.Encode("handoff", handoffToken{ID: core.NewID("hof"), TenantID: tech.TenantID, TechID: tech.ID, Nonce: nonce})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"handoff": tok, "technician": technicianJSON(tech)})
}

type podSessionRequest struct {
	Token string `json:"token"`
	Nonce string `json:"nonce"`
	// Integration and MemberProof, when the pod has a PSA member proof that
	// no technician was linked to: the signed-in technician becomes it.
	Integration string          `json:"integration"`
	MemberProof json.RawMessage `json:"member_proof"`
}

// handlePodSession handles "POST /api/v1/pod/session": the pod trades the
// pop-out's handoff token for its own partitioned session cookie.
func (s *Server) handlePodSession(w http.ResponseWriter, r *http.Request) {
	var req podSessionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	refused := core.Errorf(core.KindUnauthorized, "this sign-in has expired or was already used; sign in again")
	var tok handoffToken
	if len(req.Token) > 4096 || !validNonce(req.Nonce) || s.pod.handoff.Decode("handoff", req.Token, &tok) != nil || tok.Nonce != req.Nonce {
		s.writeError(w, r, refused)
		return
	}
	now := time.Now()
	if _, dup := s.pod.used.LoadOrStore(tok.ID, now.Add(handoffLifetime)); dup {
		s.writeError(w, r, refused)
		return
	}
	s.pod.used.Range(func(k, v any) bool { // forget tokens that expired anyway
		if now.After(v.(time.Time)) {
			s.pod.used.Delete(k)
		}
		return true
	})
	tech, err := s.engine.Technician(r.Context(), tok.TenantID, tok.TechID)
	if err != nil {
		s.writeError(w, r, refused)
		return
	}
	if len(req.MemberProof) > 0 && len(req.MemberProof) <= maxProofLen {
		// Linking is a convenience: a proof the PSA refuses leaves the
		// sign-in standing, and the technician links next time.
		if err := s.linkMember(r.Context(), tech, req.Integration, req.MemberProof); err != nil {
			s.log.InfoContext(r.Context(), "pod member not linked", "request_id", requestID(r), "err", err)
		}
	}
	s.grantPodSession(w, r, tech)
}

// grantPodSession sets the pod's session cookie for tech.
func (s *Server) grantPodSession(w http.ResponseWriter, r *http.Request, tech core.Technician) {
	values, err := s.sessionValues(tech)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sess, _ := s.podSessions.New(r, podSessionName)
	sess.Values = values
	if err := sess.Save(r, w); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, technicianJSON(tech))
}

// handlePodSignOut handles "POST /api/v1/pod/signout".
func (s *Server) handlePodSignOut(w http.ResponseWriter, r *http.Request) {
	sess, _ := s.podSessions.Get(r, podSessionName)
	sess.Options.MaxAge = -1
	_ = sess.Save(r, w)
	writeJSON(w, http.StatusOK, map[string]string{"status": "signed out"})
}

// podScope is a pod's resolved context, signed and handed to the page so
// that starting a verification needs no second PSA round trip: the server
// still decides itself whether the chosen contact is the ticket's.
type podScope struct {
	TenantID      string
	IntegrationID string
	Screen        psa.Screen
	TicketRef     string
	ContactID     string // the local contact the screen shows; "" when the ticket has none
	ClientID      string // the local client, for switching to another contact
	CompanyRef    string // the ticket's company in the PSA, for loading its other contacts
}

type podTicketOut struct {
	Ref     string `json:"ref"`
	Number  string `json:"number"`
	Summary string `json:"summary,omitempty"`
	URL     string `json:"url,omitempty"` // the ticket in the PSA's web app, where the plugin knows it (psa.TicketLinker)
}

type podContextOut struct {
	Screen     psa.Screen     `json:"screen"`
	Technician technicianOut  `json:"technician"`
	Ticket     *podTicketOut  `json:"ticket,omitempty"`
	Contact    *contactOut    `json:"contact,omitempty"`
	Alternates []contactBrief `json:"alternates"`
	Scope      string         `json:"scope"` // the signed podScope, sent back on start
	Notice     string         `json:"notice,omitempty"`
}

func briefs(cs []core.Contact) []contactBrief {
	out := make([]contactBrief, 0, len(cs))
	for _, c := range cs {
		out = append(out, contactBrief{ID: c.ID, Name: c.Name()})
	}
	return out
}

type contactBrief struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// TicketContact marks the ticket's own contact in a list of callers.
	TicketContact bool `json:"ticket_contact,omitempty"`
}

// callerOrder orders the callers a ticket pod offers as a technician looks
// for them (issue 12): the ticket's contact first, marked (added when the
// list lacks it), then the company's others by name, whatever order the
// store or the PSA gave. ticket.ID "" means the ticket names no contact.
func callerOrder(list []contactBrief, ticket contactBrief) []contactBrief {
	others := make([]contactBrief, 0, len(list))
	for _, c := range list {
		if ticket.ID == "" || c.ID != ticket.ID {
			c.TicketContact = false
			others = append(others, c)
		}
	}
	sort.SliceStable(others, func(i, j int) bool {
		a, b := strings.ToLower(others[i].Name), strings.ToLower(others[j].Name)
		if a != b {
			return a < b
		}
		return others[i].ID < others[j].ID
	})
	if ticket.ID == "" {
		return others
	}
	ticket.TicketContact = true
	return append([]contactBrief{ticket}, others...)
}

// handlePodContext handles "GET /api/v1/pod/{integration}/context?…" with
// the pod URL's own query: what the PSA screen shows, resolved to local
// contacts (mirroring them from the PSA on first sight).
func (s *Server) handlePodContext(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tech := techFrom(r)
	emb, in, err := s.podEmbedder(ctx, tech.TenantID, pathVar(r, "integration"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	pc, err := emb.PodContext(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	reader, err := s.podReader(r, emb, in, tech)
	if err != nil {
		s.writePodError(w, r, err)
		return
	}
	scope := podScope{TenantID: tech.TenantID, IntegrationID: in.ID, Screen: pc.Screen}
	out := podContextOut{Screen: pc.Screen, Technician: technicianJSON(tech), Alternates: []contactBrief{}}
	contactRef := pc.ContactRef
	var psaContact *psa.Contact
	if pc.TicketRef != "" {
		t, err := s.podTicket(ctx, reader, in, pc.TicketRef)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		scope.TicketRef, scope.CompanyRef = t.Ref, t.CompanyRef
		out.Ticket = &podTicketOut{Ref: t.Ref, Number: t.Number, Summary: t.Summary}
		contactRef, psaContact = t.ContactRef, t.Contact
		if contactRef == "" && t.CompanyRef != "" {
			// A ticket without a contact is about the company's default
			// contact, when it names one (read with the member's rights).
			if dg, ok := reader.(psa.DefaultContactGetter); ok {
				if contactRef, err = dg.DefaultContact(ctx, t.CompanyRef); err != nil {
					s.writeError(w, r, err)
					return
				}
				if contactRef != "" {
					out.Notice = "This ticket has no contact: its company's default contact is shown. Pick another caller if it is not them."
				}
			}
		}
		if contactRef == "" {
			out.Notice = "This ticket has no contact. Pick the caller from the company's contacts."
		}
	}
	if _, asMember := emb.(psa.MemberReader); asMember && contactRef != "" && psaContact == nil && pc.TicketRef == "" {
		// The contact screen: the member must be allowed to see this
		// contact, mirrored or not.
		cg, ok := reader.(psa.ContactGetter)
		if !ok {
			s.writeError(w, r, core.Errorf(core.KindInvalid, "%s integrations cannot read contacts", in.Kind))
			return
		}
		c, err := cg.GetContact(ctx, contactRef)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		psaContact = &c
	}
	if contactRef != "" {
		c, err := s.mirrorContact(ctx, reader, in, contactRef, psaContact)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		card, err := s.contactCard(ctx, tech.TenantID, c)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		scope.ContactID, scope.ClientID = c.ID, c.ClientID
		out.Contact = &card
		if pc.Screen == psa.ScreenTicket {
			others, err := s.engine.SearchContacts(ctx, tech.TenantID, core.ContactQuery{ClientID: c.ClientID, Limit: 200})
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			out.Alternates = callerOrder(briefs(others), contactBrief{ID: c.ID, Name: c.Name()})
		}
	}
	if out.Scope, err = s.pod.context.Encode("pod-scope", scope); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// podTicket reads a ticket, without its contact when the plugin can.
func (s *Server) podTicket(ctx context.Context, emb psa.Client, in core.Integration, ref string) (psa.Ticket, error) {
	if tg, ok := emb.(psa.TicketOnlyGetter); ok {
		return tg.GetTicketOnly(ctx, ref)
	}
	if tg, ok := emb.(psa.TicketGetter); ok {
		return tg.GetTicket(ctx, ref)
	}
	return psa.Ticket{}, core.Errorf(core.KindInvalid, "%s integrations cannot read tickets", in.Kind)
}

// mirrorContact returns the local mirror of a PSA contact, creating it (and
// its client) from the PSA on first sight and reading it again when it is
// older than core.MirrorMaxAge. known is the contact when the ticket already
// carried it, saving a PSA call. When the PSA cannot be read, a stale
// mirror is used as it is (and the failure logged) rather than failing the
// technician.
func (s *Server) mirrorContact(ctx context.Context, emb psa.Client, in core.Integration, ref string, known *psa.Contact) (core.Contact, error) {
	mirror, err := s.engine.MirroredContact(ctx, in.TenantID, in.Kind, ref)
	found := err == nil
	switch {
	case err != nil && core.ErrorKind(err) != core.KindNotFound:
		return core.Contact{}, err
	case found && !mirror.Stale(s.engine.Now()):
		return mirror, nil
	}
	pc := known
	if pc == nil {
		cg, ok := emb.(psa.ContactGetter)
		if !ok {
			if found {
				return mirror, nil // nothing to refresh it from
			}
			return core.Contact{}, core.Errorf(core.KindInvalid, "%s integrations cannot read contacts", in.Kind)
		}
		c, err := cg.GetContact(ctx, ref)
		if err != nil {
			if found {
				s.log.WarnContext(ctx, "stale contact mirror kept: the PSA could not be read", "integration", in.ID, "contact", mirror.ID, "err", err)
				return mirror, nil
			}
			return core.Contact{}, err
		}
		pc = &c
	}
	return s.engine.MirrorContact(ctx, in.TenantID, psaContact(in, *pc))
}

// psaContact is what core.Engine.MirrorContact takes for PSA contact pc.
func psaContact(in core.Integration, pc psa.Contact) core.PSAContact {
	nc := core.NewContact{FirstName: pc.FirstName, LastName: pc.LastName, Title: pc.Title, PSARef: pc.Ref}
	for _, p := range pc.Phones {
		nc.Phones = append(nc.Phones, core.NewDestination{Value: p.Number, Label: p.Label, Default: p.Default})
	}
	for _, e := range pc.Emails {
		nc.Emails = append(nc.Emails, core.NewDestination{Value: e.Address, Label: e.Label, Default: e.Default})
	}
	return core.PSAContact{Kind: in.Kind, IntegrationName: in.Name, CompanyRef: pc.CompanyRef, Contact: nc}
}

type podScopeRequest struct {
	Scope string `json:"scope"`
}

// decodeScope checks a signed pod scope against the technician and the
// integration of the request.
func (s *Server) decodeScope(r *http.Request, raw string) (podScope, error) {
	var scope podScope
	if len(raw) > 4096 || s.pod.context.Decode("pod-scope", raw, &scope) != nil ||
		scope.TenantID != techFrom(r).TenantID || scope.IntegrationID != pathVar(r, "integration") {
		return scope, core.Errorf(core.KindInvalid, "the pod's context is missing or out of date; reload the pod")
	}
	return scope, nil
}

// maxCompanyContacts bounds one company's contacts read into a pod.
const maxCompanyContacts = 500

// handlePodCompanyContacts handles "POST /api/v1/pod/{integration}/company-contacts":
// when the caller is not the ticket's contact, the technician loads the
// ticket company's other contacts from the PSA (mirrored locally) to pick
// the caller. It costs PSA calls, so it runs only when asked.
func (s *Server) handlePodCompanyContacts(w http.ResponseWriter, r *http.Request) {
	var req podScopeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	scope, err := s.decodeScope(r, req.Scope)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if scope.CompanyRef == "" {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "this ticket has no company whose contacts could be listed"))
		return
	}
	ctx := r.Context()
	emb, in, err := s.podEmbedder(ctx, scope.TenantID, scope.IntegrationID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	reader, err := s.podReader(r, emb, in, techFrom(r))
	if err != nil {
		s.writePodError(w, r, err)
		return
	}
	finder, ok := reader.(psa.ContactFinder)
	if !ok {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "%s integrations cannot list a company's contacts", in.Kind))
		return
	}
	found, err := finder.FindContacts(ctx, scope.CompanyRef, psa.ContactSearch{})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(found) > maxCompanyContacts {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "this company has more than %d contacts; search for the caller in the console instead", maxCompanyContacts))
		return
	}
	out := make([]contactBrief, 0, len(found))
	for i := range found {
		c, err := s.mirrorContact(ctx, reader, in, found[i].Ref, &found[i])
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out = append(out, contactBrief{ID: c.ID, Name: c.Name()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"contacts": callerOrder(out, s.ticketContactBrief(ctx, scope, out))})
}

type podNewContactRequest struct {
	Scope     string `json:"scope"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Phone     string `json:"phone"`
	Email     string `json:"email"`
}

type podNewContactOut struct {
	Contact contactBrief `json:"contact"`
	// TicketContact is set when the new contact became the ticket's
	// contact in the PSA (Policy.PodContactToTicket); Scope is then the
	// pod's new signed context, whose default contact it is.
	TicketContact bool   `json:"ticket_contact"`
	Scope         string `json:"scope,omitempty"`
}

// handlePodCreateContact handles "POST /api/v1/pod/{integration}/contacts":
// the caller is nobody the company has on file, so the technician creates
// them in the PSA, under the company of the pod's ticket, with the
// technician's own PSA rights where the plugin reads and writes as the
// member. The contact is mirrored locally at once. On a ticket that has
// no contact, the new contact becomes the ticket's contact in the PSA
// when the policy of the ticket's client says so (PodContactToTicket):
// then it is the ticket's default caller, and sending to it needs no
// alternate-contact note.
func (s *Server) handlePodCreateContact(w http.ResponseWriter, r *http.Request) {
	var req podNewContactRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	scope, err := s.decodeScope(r, req.Scope)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if scope.CompanyRef == "" {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "this pod shows no company to add the contact to: open a ticket of the caller's company"))
		return
	}
	first, last := strings.TrimSpace(req.FirstName), strings.TrimSpace(req.LastName)
	phone, email := strings.TrimSpace(req.Phone), strings.TrimSpace(req.Email)
	switch {
	case first == "" || len(first) > 100 || len(last) > 100:
		s.writeError(w, r, core.Errorf(core.KindInvalid, "a new contact needs a first name (at most 100 characters)"))
		return
	case phone == "" && email == "":
		s.writeError(w, r, core.Errorf(core.KindInvalid, "a new contact needs a phone number or an email address to verify them with"))
		return
	case len(phone) > 40 || len(email) > 254 || strings.ContainsAny(first+last+phone+email, "<>"):
		s.writeError(w, r, core.Errorf(core.KindInvalid, "the phone number or email address is not valid"))
		return
	}
	ctx := r.Context()
	tech := techFrom(r)
	emb, in, err := s.podEmbedder(ctx, scope.TenantID, scope.IntegrationID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	reader, err := s.podReader(r, emb, in, tech)
	if err != nil {
		s.writePodError(w, r, err)
		return
	}
	creator, ok := reader.(psa.ContactCreator)
	if !ok {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "%s integrations cannot create contacts", in.Kind))
		return
	}
	nc := psa.Contact{CompanyRef: scope.CompanyRef, FirstName: first, LastName: last}
	if phone != "" {
		nc.Phones = []psa.Phone{{Number: phone, Default: true}}
	}
	if email != "" {
		nc.Emails = []psa.Email{{Address: email, Default: true}}
	}
	created, err := creator.CreateContact(ctx, nc)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.engine.MirrorCreatedContact(ctx, tech.TenantID, "tech:"+tech.ID, psaContact(in, created),
		map[string]string{"integration": in.ID, "psa_ref": created.Ref, "ticket": scope.TicketRef})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := podNewContactOut{Contact: contactBrief{ID: c.ID, Name: c.Name()}}
	if scope.TicketRef != "" && scope.ContactID == "" {
		policy, err := s.engine.Policy(ctx, scope.TenantID, c.ClientID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if policy.PodContactToTicket {
			setter, ok := reader.(psa.TicketContactSetter)
			if !ok {
				s.writeError(w, r, core.Errorf(core.KindInvalid, "%s integrations cannot set a ticket's contact; the contact was created", in.Kind))
				return
			}
			if err := setter.SetTicketContact(ctx, scope.TicketRef, created.Ref); err != nil {
				s.writeError(w, r, err)
				return
			}
			scope.ContactID, scope.ClientID = c.ID, c.ClientID
			if out.Scope, err = s.pod.context.Encode("pod-scope", scope); err != nil {
				s.writeError(w, r, err)
				return
			}
			out.TicketContact = true
			if err := s.engine.Audit(ctx, tech.TenantID, "tech:"+tech.ID, core.AuditPodTicketContactSet, "ticket:"+in.ID+":"+scope.TicketRef,
				map[string]string{"contact": c.ID, "psa_ref": created.Ref}); err != nil {
				s.writeError(w, r, fmt.Errorf("the ticket's contact was set in the PSA, but recording it failed: %w", err))
				return
			}
		}
	}
	writeJSON(w, http.StatusCreated, out)
}

// integrationForNote names the integration whose ticket gets the result as
// a note: only a pod on a ticket has a ticket to write to.
func integrationForNote(sc podScope) string {
	if sc.TicketRef == "" {
		return ""
	}
	return sc.IntegrationID
}

type podStartRequest struct {
	Scope         string `json:"scope"`
	ContactID     string `json:"contact_id"`
	DestinationID string `json:"destination_id"`
	Method        string `json:"method"`
	Note          string `json:"note"`
	TicketRef     string `json:"ticket_ref"` // ignored: the scope names the ticket
	Purpose       string `json:"purpose"`    // "" identity check, "reset" password or MFA reset
}

// handlePodStart handles "POST /api/v1/pod/{integration}/verifications": a
// send from the pod, tied to the PSA ticket of its signed scope. A contact
// other than the ticket's is an alternate contact, so the policy's note
// rule applies.
func (s *Server) handlePodStart(w http.ResponseWriter, r *http.Request) {
	var req podStartRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := techFrom(r)
	scope, err := s.decodeScope(r, req.Scope)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.engine.Start(r.Context(), core.StartRequest{
		TenantID: tech.TenantID, TechnicianID: tech.ID, ContactID: req.ContactID, DestinationID: req.DestinationID,
		Method: core.Method(req.Method), TicketRef: scope.TicketRef, Note: req.Note,
		AlternateContact: scope.Screen == psa.ScreenTicket && req.ContactID != scope.ContactID,
		IntegrationID:    integrationForNote(scope),
		Purpose:          core.Purpose(req.Purpose),
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := verificationJSON(st.Verification, s.engine.Now())
	out.TechCode = st.TechCode
	writeJSON(w, http.StatusCreated, out)
}

type podMemberRequest struct {
	Tenant      string          `json:"tenant"`
	Integration string          `json:"integration"`
	Proof       json.RawMessage `json:"proof"`
}

// maxProofLen bounds a member proof; PSAs' are well under 8 KiB.
const maxProofLen = 16 << 10

// handlePodMember handles "POST /api/v1/pod/member": the pod presents what
// its PSA told it about the member looking at it (psa.MemberProver). The plugin confirms it with the PSA; a linked technician
// then gets a pod session, and so does a new pod-only technician when the
// tenant allows it. Otherwise the pod falls back to the sign-in pop-out,
// which links the member for next time.
func (s *Server) handlePodMember(w http.ResponseWriter, r *http.Request) {
	var req podMemberRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	if len(req.Tenant) > 64 || len(req.Proof) == 0 || len(req.Proof) > maxProofLen {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "tenant, integration and the PSA's member proof are required"))
		return
	}
	tenant, err := s.engine.TenantBySlug(ctx, req.Tenant)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	in, member, err := s.proveMember(ctx, tenant.ID, req.Integration, req.Proof)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tech, err := s.engine.SignInMember(ctx, tenant.ID, in.ID, coreMember(member))
	if err != nil {
		if err == core.ErrLinkRequired {
			writeJSON(w, http.StatusForbidden, map[string]any{"error": err.Error(), "kind": "forbidden", "link_required": true})
			return
		}
		s.writeError(w, r, err)
		return
	}
	s.grantPodSession(w, r, tech)
}

// coreMember is what the engine takes for a member a plugin proved.
func coreMember(m psa.Member) core.PSAMember {
	return core.PSAMember{Ref: m.Ref, Identifier: m.Identifier, Name: m.Name, Email: m.Email}
}

// proveMember has the integration's plugin confirm a member proof with
// its PSA.
func (s *Server) proveMember(ctx context.Context, tenantID, integrationID string, proof json.RawMessage) (core.Integration, psa.Member, error) {
	emb, in, err := s.podEmbedder(ctx, tenantID, integrationID)
	if err != nil {
		return in, psa.Member{}, err
	}
	prover, ok := emb.(psa.MemberProver)
	if !ok {
		return in, psa.Member{}, core.Errorf(core.KindInvalid, "%s pods cannot prove who is signed in; use Countersign's sign-in", in.Kind)
	}
	m, err := prover.ProveMember(ctx, proof)
	if err != nil {
		return in, m, err
	}
	if m.Ref == "" {
		return in, m, core.Errorf(core.KindUnauthorized, "the PSA did not say which member is signed in")
	}
	return in, m, nil
}

// linkMember links the member a pod proved to tech, after tech signed in
// through the pop-out.
func (s *Server) linkMember(ctx context.Context, tech core.Technician, integrationID string, proof json.RawMessage) error {
	in, member, err := s.proveMember(ctx, tech.TenantID, integrationID, proof)
	if err != nil {
		return err
	}
	return s.engine.LinkMember(ctx, tech.TenantID, in.ID, member.Ref, tech.ID)
}

// memberProofHeader carries, base64-encoded, the PSA's word for the member
// looking at the pod (psa.MemberProver's proof), on the pod's
// reads, for plugins that read as the member (psa.MemberReader).
const memberProofHeader = "X-Pod-Member-Proof"

// errMemberRequired is a pod read without the member proof its plugin needs.
var errMemberRequired = core.Errorf(core.KindForbidden,
	"the pod reads your PSA with your own PSA sign-in, and it has none yet: reload the pod inside your PSA")

// writePodError is writeError, with member_required set for a pod read
// that needs the PSA's member proof: the pod then asks its PSA for one.
func (s *Server) writePodError(w http.ResponseWriter, r *http.Request, err error) {
	if err == errMemberRequired {
		writeJSON(w, http.StatusForbidden, map[string]any{"error": err.Error(), "kind": "forbidden", "member_required": true})
		return
	}
	s.writeError(w, r, err)
}

// podReader returns the client a pod reads the PSA with for tech. A plugin
// that can read as the member looking at the pod (psa.MemberReader) must:
// the request's member proof is confirmed with the PSA, the member must be
// tech's (a member no technician is linked to yet becomes tech's, as after
// the pop-out sign-in), and the reads run with the member's own PSA rights.
// Other plugins read with the integration's client.
func (s *Server) podReader(r *http.Request, emb psa.Embedder, in core.Integration, tech core.Technician) (psa.Client, error) {
	mr, ok := emb.(psa.MemberReader)
	if !ok {
		return emb, nil
	}
	raw := r.Header.Get(memberProofHeader)
	if raw == "" {
		return nil, errMemberRequired
	}
	proof, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(proof) == 0 || len(proof) > maxProofLen {
		return nil, core.Errorf(core.KindInvalid, "the pod's PSA sign-in is not readable: reload the pod")
	}
	ctx := r.Context()
	reader, member, err := mr.AsMember(ctx, proof)
	if err != nil {
		return nil, err
	}
	if member.Ref == "" {
		return nil, core.Errorf(core.KindUnauthorized, "the PSA did not say which member is signed in")
	}
	linked, err := s.engine.ClaimMember(ctx, tech.TenantID, in.ID, member.Ref, tech.ID)
	switch {
	case err != nil:
		return nil, err
	case linked.ID != tech.ID:
		s.log.WarnContext(ctx, "pod read with another technician's PSA sign-in", "request_id", requestID(r),
			"technician", tech.ID, "member", member.Ref, "linked_technician", linked.ID)
		return nil, core.Errorf(core.KindForbidden, "this PSA sign-in is another technician's: sign out of the pod and sign in as yourself")
	}
	return reader, nil
}

// ticketContactBrief is the pod's ticket contact as a caller: found in
// list, else read from the store; none when the ticket names no contact
// (or it can no longer be read: the list is still worth showing).
func (s *Server) ticketContactBrief(ctx context.Context, scope podScope, list []contactBrief) contactBrief {
	if scope.ContactID == "" {
		return contactBrief{}
	}
	for _, c := range list {
		if c.ID == scope.ContactID {
			return c
		}
	}
	c, err := s.engine.Contact(ctx, scope.TenantID, scope.ContactID)
	if err != nil {
		s.log.WarnContext(ctx, "pod: ticket contact not read for the caller list", "contact", scope.ContactID, "err", err)
		return contactBrief{}
	}
	return contactBrief{ID: c.ID, Name: c.Name()}
}
