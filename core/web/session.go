package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"net/http"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
	"github.com/gorilla/sessions"
)

const (
	sessionName     = "cs_session"
	sessionLifetime = 12 * time.Hour
)

// deriveSub derives a purpose-specific key from key.
func deriveSub(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// techFrom returns the signed-in technician of a request under withTechnician.
func techFrom(r *http.Request) core.Technician {
	t, _ := r.Context().Value(ctxTechnician).(core.Technician)
	return t
}

func (s *Server) registerSessionRoutes(r *mux.Router) {
	r.HandleFunc("/login", s.handleLogin).Methods(http.MethodPost)
	r.HandleFunc("/login/totp", s.handleEnrollTOTP).Methods(http.MethodPost)
	r.HandleFunc("/logout", s.handleLogout).Methods(http.MethodPost)
}

// enrollWindow bounds how long a password check stays good for finishing
// TOTP enrolment.
const enrollWindow = 10 * time.Minute

type loginRequest struct {
	Tenant   string `json:"tenant"`
	Email    string `json:"email"`
	Password string `json:"password"`
	TOTP     string `json:"totp"`
	// PodNonce is set by the pod's sign-in pop-out: the sign-in then ends in
	// a one-time handoff token for that pod instead of a console session.
	PodNonce string `json:"pod_nonce"`
}

// handleLogin handles "POST /api/v1/login": password and, when enrolled, TOTP.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.cfg.Auth == nil {
		s.writeError(w, r, core.Errorf(core.KindUnavailable, "sign-in is not configured"))
		return
	}
	if req.PodNonce != "" && !validNonce(req.PodNonce) {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "the pod's sign-in nonce is malformed; close this window and sign in from the pod again"))
		return
	}
	if req.Tenant == "" || req.Email == "" || req.Password == "" || len(req.Password) > 1024 || len(req.Email) > 320 {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "tenant, email and password are required"))
		return
	}
	res, err := s.throttledLogin(r, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tech := res.Technician
	if tech.Role == core.RolePodOnly && req.PodNonce == "" {
		s.writeError(w, r, core.Errorf(core.KindForbidden, "pod-only technicians cannot sign in to the console"))
		return
	}
	sess, _ := s.sessions.New(r, sessionName)
	if res.EnrollSecret != "" {
		// The cookie is encrypted (securecookie block key), so the pending
		// secret does not travel in the clear.
		sess.Values["pending_tenant"], sess.Values["pending_tech"] = tech.TenantID, tech.ID
		sess.Values["pending_secret"], sess.Values["pending_at"] = res.EnrollSecret, s.engine.Now().Unix()
		sess.Values["pending_pod"] = req.PodNonce
		if err := sess.Save(r, w); err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"totp_enrollment_required": true, "secret": res.EnrollSecret, "otpauth_url": res.EnrollURL})
		return
	}
	if req.PodNonce != "" {
		s.grantPodHandoff(w, r, tech, req.PodNonce)
		return
	}
	s.grantSession(w, r, tech)
}

// throttledLogin runs the sign-in behind the per-address and per-tenant
// throttles, which decide before any database read or hash. Only wrong
// credentials and locked accounts count as failures there.
func (s *Server) throttledLogin(r *http.Request, req loginRequest) (LoginResult, error) {
	ctx := r.Context()
	tenant := strings.ToLower(strings.TrimSpace(req.Tenant))
	doneAddr, err := s.addrThrottle.Begin(ctx, throttleKey(s.clientAddr(r)))
	if err != nil {
		return LoginResult{}, err
	}
	doneTenant, err := s.tenantThrottle.Begin(ctx, tenant)
	if err != nil {
		doneAddr(true)
		return LoginResult{}, err
	}
	res, err := s.cfg.Auth.Login(ctx, strings.TrimSpace(req.Tenant), strings.TrimSpace(req.Email), req.Password, req.TOTP, req.PodNonce != "")
	kind := core.ErrorKind(err)
	failed := err != nil && (kind == core.KindUnauthorized || kind == core.KindForbidden)
	doneAddr(!failed)
	doneTenant(!failed)
	return res, err
}

// grantSession starts a signed-in session for tech.
func (s *Server) grantSession(w http.ResponseWriter, r *http.Request, tech core.Technician) {
	values, err := s.sessionValues(tech)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sess, _ := s.sessions.New(r, sessionName)
	sess.Values = values
	if err := sess.Save(r, w); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, technicianJSON(tech))
}

// sessionValues returns what a console or pod session cookie of tech holds:
// who, since when, and the technician's session epoch, so that raising the
// epoch (core's sign-out of a technician) ends the session. A disabled
// technician gets none.
func (s *Server) sessionValues(tech core.Technician) (map[any]any, error) {
	if tech.Disabled() {
		return nil, errDisabled
	}
	return map[any]any{"tenant": tech.TenantID, "tech": tech.ID, "at": s.engine.Now().Unix(), "epoch": tech.SessionEpoch}, nil
}

// errDisabled is what a disabled technician's session and sign-in get.
var errDisabled = core.Errorf(core.KindUnauthorized, "your account is disabled; ask your admin to re-enable it")

type enrollRequest struct {
	Code string `json:"code"`
}

// handleEnrollTOTP handles "POST /api/v1/login/totp": the first code from a
// new authenticator app completes enrolment and the sign-in.
func (s *Server) handleEnrollTOTP(w http.ResponseWriter, r *http.Request) {
	var req enrollRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	sess, err := s.sessions.Get(r, sessionName)
	tenantID, _ := sess.Values["pending_tenant"].(string)
	techID, _ := sess.Values["pending_tech"].(string)
	secret, _ := sess.Values["pending_secret"].(string)
	at, _ := sess.Values["pending_at"].(int64)
	podNonce, _ := sess.Values["pending_pod"].(string)
	if err != nil || techID == "" || secret == "" || s.engine.Now().Sub(time.Unix(at, 0)) > enrollWindow {
		s.writeError(w, r, core.Errorf(core.KindUnauthorized, "sign in with your password again to enrol an authenticator"))
		return
	}
	tech, err := s.cfg.Auth.EnrollTOTP(r.Context(), tenantID, techID, secret, req.Code)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if podNonce != "" {
		// The pending values served their purpose; the pop-out keeps no session.
		sess.Options.MaxAge = -1
		_ = sess.Save(r, w)
		s.grantPodHandoff(w, r, tech, podNonce)
		return
	}
	s.grantSession(w, r, tech)
}

// handleLogout handles "POST /api/v1/logout".
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	sess, _ := s.sessions.Get(r, sessionName)
	sess.Options.MaxAge = -1
	_ = sess.Save(r, w)
	writeJSON(w, http.StatusOK, map[string]string{"status": "signed out"})
}

// withTechnician admits requests with a valid session and puts the
// technician, as stored now, in the context: a disabled, demoted or
// signed-out technician loses access at once (the cache of technicians is
// told of every change before the change's request answers).
func (s *Server) withTechnician(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tech, err := s.sessionTechnician(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxTechnician, tech)))
	})
}

// sessionTechnician returns the technician of the request's console session
// or, inside a pod's iframe (where only the partitioned pod cookie is sent),
// of its pod session. API routes accept either.
func (s *Server) sessionTechnician(r *http.Request) (core.Technician, error) {
	tech, err := s.cookieTechnician(r, s.sessions, sessionName)
	if core.ErrorKind(err) == core.KindUnauthorized {
		if podTech, podErr := s.cookieTechnician(r, s.podSessions, podSessionName); podErr == nil {
			return podTech, nil
		}
	}
	return tech, err
}

// consoleTechnician returns the technician of the console session only:
// console pages are never reached with a pod's cookie.
func (s *Server) consoleTechnician(r *http.Request) (core.Technician, error) {
	return s.cookieTechnician(r, s.sessions, sessionName)
}

func (s *Server) cookieTechnician(r *http.Request, store *sessions.CookieStore, name string) (core.Technician, error) {
	sess, err := store.Get(r, name)
	if err != nil || sess.IsNew {
		return core.Technician{}, core.Errorf(core.KindUnauthorized, "sign in first")
	}
	tenantID, _ := sess.Values["tenant"].(string)
	techID, _ := sess.Values["tech"].(string)
	at, _ := sess.Values["at"].(int64)
	epoch, _ := sess.Values["epoch"].(int64)
	if tenantID == "" || techID == "" || s.engine.Now().Sub(time.Unix(at, 0)) > sessionLifetime {
		return core.Technician{}, core.Errorf(core.KindUnauthorized, "your session has ended; sign in again")
	}
	tech, err := s.technician(r.Context(), tenantID, techID)
	if err != nil {
		if core.ErrorKind(err) == core.KindNotFound {
			return core.Technician{}, core.Errorf(core.KindUnauthorized, "your account no longer exists; sign in again")
		}
		return core.Technician{}, err
	}
	switch {
	case tech.Disabled():
		return core.Technician{}, errDisabled
	case epoch != tech.SessionEpoch:
		return core.Technician{}, core.Errorf(core.KindUnauthorized, "an admin ended your session; sign in again")
	}
	return tech, nil
}

// requireAdmin refuses technicians who are not owner or admin.
func requireAdmin(r *http.Request) error {
	if !techFrom(r).Role.IsAdmin() {
		return core.Errorf(core.KindForbidden, "this needs the admin or owner role")
	}
	return nil
}

// technician returns technician id of a tenant as stored now: from the
// cache of signed-in technicians when it holds it, else read (and cached).
func (s *Server) technician(ctx context.Context, tenantID, id string) (core.Technician, error) {
	if s.techs == nil {
		return s.engine.Technician(ctx, tenantID, id)
	}
	now := s.engine.Now()
	if t, ok := s.techs.get(tenantID, id, now); ok {
		return t, nil
	}
	gen, cacheable := s.techs.begin()
	t, err := s.engine.Technician(ctx, tenantID, id)
	if err == nil && cacheable {
		s.techs.fill(t, gen, now)
	}
	return t, err
}
