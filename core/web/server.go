package web

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/auth"
	"github.com/countersign/countersign/core/live"
	"github.com/countersign/countersign/core/psa"
	"github.com/gorilla/mux"
	"github.com/gorilla/sessions"
)

// Authenticator checks a technician's sign-in. core/auth provides the
// primitives; cmd wires them with the store.
type Authenticator interface {
	// Login checks a sign-in; failures are core errors of kind unauthorized
	// (one generic message for every cause) or forbidden (locked, or a
	// pod-only account outside a pod). forPod says the sign-in is for a pod.
	Login(ctx context.Context, tenantSlug, email, password, totp string, forPod bool) (LoginResult, error)
	// EnrollTOTP stores secret as the technician's TOTP secret once code
	// proves the technician's app holds it.
	EnrollTOTP(ctx context.Context, tenantID, techID, secret, code string) (core.Technician, error)
}

// LoginResult is a successful password check.
type LoginResult struct {
	Technician core.Technician
	// EnrollSecret and EnrollURL are set when the technician must enrol
	// TOTP before getting a session: the password was right, but no
	// session is granted until a code from the new secret is shown.
	EnrollSecret string
	EnrollURL    string
}

// StatusWebhook validates and parses a provider's delivery-status callback.
type StatusWebhook interface {
	// Validate reports whether r (with its raw body) is signed by the provider.
	Validate(r *http.Request, body []byte) bool
}

// Config is what a Server needs. Engine, Pages, SessionKey and PublicURL are required.
type Config struct {
	Engine     *core.Engine
	Auth       Authenticator
	Pages      *template.Template // parsed page templates (assets)
	Static     http.Handler       // serves /static/; nil means none
	SessionKey []byte             // ≥ 32 bytes; derive it from the master key
	PublicURL  string
	// TwilioStatus validates Twilio status callbacks; nil disables the route
	// (it answers 404 rather than accept unsigned posts).
	TwilioStatus StatusWebhook
	// TwilioAccountSID is the account callbacks must name (security.md §7);
	// "" skips the check.
	TwilioAccountSID string
	// TwilioWebhookValidator builds a validator for a tenant's own Twilio
	// account from its auth tokens (inbound SMS to a tenant number on the
	// tenant's account); nil means only the server's account (TwilioStatus)
	// is accepted.
	TwilioWebhookValidator func(authTokens ...string) StatusWebhook
	// Metrics collects the Prometheus metrics; nil means none. They are
	// served on this handler's /metrics only when MetricsToken is set, and
	// then only to "Authorization: Bearer <MetricsToken>"; otherwise serve
	// Metrics.Handler() on a listener of its own (cmd: -metrics-listen).
	Metrics      *Metrics
	MetricsToken string
	// PSA holds the PSA plugins and one client per integration (pods,
	// integration setup); nil means no PSA plugins.
	PSA *psa.Clients
	// Live fans engine events out to websocket watchers (GET /api/v1/live);
	// nil makes that route answer 503.
	Live *live.Hub
	// TechnicianCacheTTL bounds how long a signed-in technician is kept
	// in memory instead of read for each request; zero means 30 s, and
	// negative turns the cache off. The cache is exact, whatever the TTL:
	// Live's OnTechnicianChange drops a changed technician at once, on
	// every node (techcache.go). Without Live there is no cache.
	TechnicianCacheTTL time.Duration
	Logger             *slog.Logger
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed when finding a client's address (clientaddr.go); empty means
	// the peer address is the client's.
	TrustedProxies []netip.Prefix
	// AddressThrottle and TenantThrottle limit failed sign-ins per client
	// address and per tenant; nil means auth.NewAddressThrottle and
	// auth.NewTenantThrottle.
	AddressThrottle, TenantThrottle *auth.Throttle
	// SelfServeThrottle limits wrong codes per client address on the
	// self-serve page; nil means 5 free, then delays, then 429 after 20
	// in 15 minutes.
	SelfServeThrottle *auth.Throttle
}

// Server is the HTTP handler of Countersign.
type Server struct {
	cfg      Config
	engine   *core.Engine
	pages    *template.Template
	sessions *sessions.CookieStore
	// podSessions holds the pod's partitioned third-party cookie; pod the
	// pod's handoff and context signing (pod.go).
	podSessions *sessions.CookieStore
	pod         *podState
	psaAssets   map[string]*psaAssets // plugin-shipped files by descriptor id (psa_assets.go)
	psaNames    map[string]string     // PSA display names by descriptor id, for provenance; nil without PSAs
	origin      string                // scheme://host of PublicURL, for same-origin checks
	secure      bool
	log         *slog.Logger
	router      *mux.Router
	// agentLimits counts wrong activation keys per address (agent_api.go).
	agentLimits failLimiter
	// addrThrottle and tenantThrottle are Config's, or the defaults.
	addrThrottle, tenantThrottle *auth.Throttle
	// selfServeThrottle limits wrong codes per address on /r/ pages.
	selfServeThrottle *auth.Throttle
	// techs caches signed-in technicians (techcache.go); nil means none.
	techs *techCache
}

// New builds the server and its routes.
func New(cfg Config) (*Server, error) {
	if cfg.Engine == nil || cfg.Pages == nil || len(cfg.SessionKey) < 32 || cfg.PublicURL == "" {
		return nil, core.Errorf(core.KindInvalid, "web: engine, pages, a 32-byte session key and the public URL are required")
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, core.Errorf(core.KindInvalid, "web: public URL %q must be absolute, e.g. https://verify.example.com", cfg.PublicURL)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// gorilla/securecookie: first key authenticates (HMAC), second encrypts (AES-256).
	hashKey, blockKey := cfg.SessionKey, deriveSub(cfg.SessionKey, "cookie-encryption")
	store := sessions.NewCookieStore(hashKey, blockKey)
	s := &Server{
		cfg: cfg, engine: cfg.Engine, pages: cfg.Pages, sessions: store,
		origin: u.Scheme + "://" + u.Host, secure: u.Scheme == "https", log: cfg.Logger,
		podSessions: newPodSessions(cfg.SessionKey), pod: newPodState(cfg.SessionKey),
	}
	s.addrThrottle, s.tenantThrottle = cfg.AddressThrottle, cfg.TenantThrottle
	if s.addrThrottle == nil {
		s.addrThrottle = auth.NewAddressThrottle()
	}
	if s.tenantThrottle == nil {
		s.tenantThrottle = auth.NewTenantThrottle()
	}
	if cfg.Live != nil && cfg.TechnicianCacheTTL >= 0 {
		ttl := cfg.TechnicianCacheTTL
		if ttl == 0 {
			ttl = defaultTechCacheTTL
		}
		s.techs = newTechCache(ttl, defaultTechCacheSize, cfg.Live.InSync)
		cfg.Live.OnTechnicianChange(s.techs.invalidate)
	}
	s.selfServeThrottle = cfg.SelfServeThrottle
	if s.selfServeThrottle == nil {
		s.selfServeThrottle = newSelfServeThrottle()
	}
	store.Options = &sessions.Options{
		Path: "/", MaxAge: int(sessionLifetime / time.Second), HttpOnly: true,
		Secure: s.secure, SameSite: http.SameSiteLaxMode,
	}
	var reg *psa.Registry
	if cfg.PSA != nil {
		reg = cfg.PSA.Registry()
	}
	if reg != nil {
		s.psaNames = map[string]string{}
		for _, d := range reg.List() {
			s.psaNames[d.ID] = d.Name
		}
	}
	if s.psaAssets, err = loadPSAAssets(reg); err != nil {
		return nil, fmt.Errorf("web: PSA plugin assets: %w", err)
	}
	s.routes()
	return s, nil
}

// ServeHTTP serves a request through the middleware chain.
//
// HSTS is set here rather than in a middleware so that every answer carries
// it, the router's own 404 and 405 included: only with an https public URL
// (the TLS-terminating proxy serves us), for a year (RFC 6797), without
// includeSubDomains or preload, since other hosts under the MSP's domain are
// not ours to commit.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.secure {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
	}
	s.router.ServeHTTP(w, r)
}

func (s *Server) routes() {
	r := mux.NewRouter()
	r.Use(s.withRequestID, s.withRecover, s.withSecurityHeaders, s.withAccessLog)
	s.registerOpsRoutes(r)
	s.registerLinkRoutes(r)
	s.registerWelcomeRoutes(r)
	s.registerEnrolmentRoutes(r)
	s.registerSelfServeRoutes(r)
	s.registerVerifyTechnicianRoutes(r)
	s.registerTrayFormRoutes(r)
	s.registerWebhookRoutes(r)
	s.registerConsoleRoutes(r)
	s.registerPodPageRoutes(r)
	s.registerAgentRoutes(r)
	s.registerPSAAssetRoutes(r)
	if s.cfg.Static != nil {
		r.PathPrefix("/static/").Handler(http.StripPrefix("/static/", s.cfg.Static))
	}
	api := r.PathPrefix("/api/v1").Subrouter()
	api.Use(s.withSameOrigin)
	s.registerSessionRoutes(api)
	s.registerPodSessionRoutes(api)
	authed := api.NewRoute().Subrouter()
	authed.Use(s.withTechnician)
	s.registerContactRoutes(authed)
	s.registerVerificationRoutes(authed)
	s.registerTechDirectoryRoutes(authed)
	s.registerAdminRoutes(authed)
	s.registerPodRoutes(authed)
	s.registerTicketRoutes(authed)
	s.registerLiveRoutes(authed)
	s.registerAgentConsoleRoutes(authed)
	s.registerTechVerifyRoutes(authed)
	s.registerOptInRoutes(authed)
	s.registerPushRoutes(authed)
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "method " + r.Method + " not allowed here", Kind: "invalid"})
	})
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if allow := s.allowedMethods(req); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			r.MethodNotAllowedHandler.ServeHTTP(w, req)
			return
		}
		s.writeError(w, req, core.Errorf(core.KindNotFound, "no such endpoint: %s %s", req.Method, redactPath(req.URL.Path)))
	})
	s.router = r
}

// allowedMethods lists the methods some route serves for r's path.
// gorilla/mux forgets a method mismatch inside a subrouter when a later
// route of that subrouter shares its prefix, and then reports "not found";
// the not-found handler uses this to answer 405 instead.
func (s *Server) allowedMethods(r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.WithContext(r.Context())
		probe.Method = m
		var match mux.RouteMatch
		if s.router.Match(probe, &match) && match.MatchErr == nil {
			allow = append(allow, m)
		}
	}
	return allow
}

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxTechnician
)

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(ctxRequestID).(string)
	return id
}

// withRequestID gives every request an id for logs and error messages.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxRequestID, id)))
	})
}

// withRecover turns a panic into a logged 500 instead of a dropped connection.
func (s *Server) withRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "handler panic", "request_id", requestID(r), "path", redactPath(r.URL.Path), "panic", sprint(v))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// withSecurityHeaders sets headers every response carries.
func (s *Server) withSecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status a handler wrote, for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Hijack lets websocket upgrades (live.go) through the recorder.
func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("web: this connection cannot be taken over")
	}
	r.status = http.StatusSwitchingProtocols
	return h.Hijack()
}

// withAccessLog logs each request with its link token redacted
// (security.md §2: tokens in paths must not reach our logs).
func (s *Server) withAccessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		s.log.DebugContext(r.Context(), "request", "request_id", requestID(r), "method", r.Method,
			"path", redactPath(r.URL.Path), "status", rec.status, "duration", time.Since(start))
	})
}

// redactPath hides the token segment of the end-user pages' paths: links
// (/l/{tenant}/{token}), welcome e-mails (/w/{tenant}/{token}), tray-ticket
// confirmations (/e/{token}), tray ticket forms (/t/{token}), SMS opt-in
// forms (/o/{tenant}/{token}) and self-serve requests
// (/r/{tenant}/requests/{id}); all are bearer secrets (security.md §2).
func redactPath(p string) string {
	if strings.HasPrefix(p, "/e/") || strings.HasPrefix(p, "/t/") {
		return p[:3] + "[redacted]"
	}
	if strings.HasPrefix(p, "/l/") || strings.HasPrefix(p, "/w/") || strings.HasPrefix(p, "/o/") {
		parts := strings.SplitN(p, "/", 4)
		if len(parts) == 4 {
			return p[:3] + parts[2] + "/[redacted]"
		}
	}
	if strings.HasPrefix(p, "/r/") {
		parts := strings.SplitN(p, "/", 5)
		if len(parts) == 5 && parts[3] == "requests" {
			return "/r/" + parts[2] + "/requests/[redacted]"
		}
	}
	return p
}

// withSameOrigin refuses state-changing API calls from another origin. A
// browser always sends Origin on cross-origin POSTs; clients that are not
// browsers (curl, the CLI) send none and are not exposed to CSRF.
func (s *Server) withSameOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if o := r.Header.Get("Origin"); o != "" && o != s.origin {
				s.writeError(w, r, core.Errorf(core.KindForbidden, "cross-origin request refused (origin %s)", o))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
