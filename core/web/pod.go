package web

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
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

// maxCompanyContacts bounds one company's contacts read into a pod.
const maxCompanyContacts = 500

// maxProofLen bounds a member proof; PSAs' are well under 8 KiB.
const maxProofLen = 16 << 10

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
