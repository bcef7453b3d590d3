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
	r.HandleFunc("/logout", s.handleLogout).Methods(http.MethodPost)
}

type loginRequest struct {
	Tenant   string `json:"tenant"`
	Email    string `json:"email"`
	Password string `json:"password"`
	TOTP     string `json:"totp"`
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
	if req.Tenant == "" || req.Email == "" || req.Password == "" || len(req.Password) > 1024 || len(req.Email) > 320 {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "tenant, email and password are required"))
		return
	}
	tech, err := s.cfg.Auth.Login(r.Context(), strings.TrimSpace(req.Tenant), strings.TrimSpace(req.Email), req.Password, req.TOTP)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if tech.Role == core.RolePodOnly {
		s.writeError(w, r, core.Errorf(core.KindForbidden, "pod-only technicians cannot sign in to the console"))
		return
	}
	sess, _ := s.sessions.New(r, sessionName)
	sess.Values["tenant"] = tech.TenantID
	sess.Values["tech"] = tech.ID
	sess.Values["at"] = s.engine.Now().Unix()
	if err := sess.Save(r, w); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, technicianJSON(tech))
}

// handleLogout handles "POST /api/v1/logout".
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	sess, _ := s.sessions.Get(r, sessionName)
	sess.Options.MaxAge = -1
	_ = sess.Save(r, w)
	writeJSON(w, http.StatusOK, map[string]string{"status": "signed out"})
}

// withTechnician admits requests with a valid session and puts the
// technician, re-read from the store, in the context: a deleted or demoted
// technician loses access at once.
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

func (s *Server) sessionTechnician(r *http.Request) (core.Technician, error) {
	sess, err := s.sessions.Get(r, sessionName)
	if err != nil || sess.IsNew {
		return core.Technician{}, core.Errorf(core.KindUnauthorized, "sign in first")
	}
	tenantID, _ := sess.Values["tenant"].(string)
	techID, _ := sess.Values["tech"].(string)
	at, _ := sess.Values["at"].(int64)
	if tenantID == "" || techID == "" || s.engine.Now().Sub(time.Unix(at, 0)) > sessionLifetime {
		return core.Technician{}, core.Errorf(core.KindUnauthorized, "your session has ended; sign in again")
	}
	var tech core.Technician
	err = s.store.View(r.Context(), func(tx core.Tx) error {
		tech, err = tx.Technician(r.Context(), tenantID, techID)
		return err
	})
	if err != nil {
		if core.ErrorKind(err) == core.KindNotFound {
			return core.Technician{}, core.Errorf(core.KindUnauthorized, "your account no longer exists; sign in again")
		}
		return core.Technician{}, err
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
