package web

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

// The agent API (/agent/v1/...): what the Windows agent's service calls.
// Activation is the one public route (it carries the client's activation
// key and is rate-limited per source address); every other route is
// authenticated by the device's own credential in "Authorization: Bearer",
// and acts only on that device's tenant and client. An unknown, wrong or
// revoked credential gets 401 and the same message every time.

const ctxDevice ctxKey = 100

// deviceFrom returns the authenticated device of a request under withDevice.
func deviceFrom(r *http.Request) core.Device {
	d, _ := r.Context().Value(ctxDevice).(core.Device)
	return d
}

func (s *Server) registerAgentRoutes(r *mux.Router) {
	a := r.PathPrefix("/agent/v1").Subrouter()
	a.HandleFunc("/activate", s.handleAgentActivate).Methods(http.MethodPost)
	authed := a.NewRoute().Subrouter()
	authed.Use(s.withDevice)
	authed.HandleFunc("/heartbeat", s.handleAgentHeartbeat).Methods(http.MethodPost)
	authed.HandleFunc("/tasks", s.handleAgentTasks).Methods(http.MethodGet)
	authed.HandleFunc("/tasks/{id}/result", s.handleAgentTaskResult).Methods(http.MethodPost)
	authed.HandleFunc("/users/{sid}", s.handleAgentUser).Methods(http.MethodGet)
	authed.HandleFunc("/prompts/{id}/answer", s.handleAgentPromptAnswer).Methods(http.MethodPost)
	authed.HandleFunc("/users/{sid}/technicians", s.handleAgentTechnicians).Methods(http.MethodGet)
	authed.HandleFunc("/users/{sid}/tech-checks", s.handleAgentTechCheck).Methods(http.MethodPost)
	authed.HandleFunc("/users/{sid}/ticket-form", s.handleAgentTrayForm(core.TrayFormTicket)).Methods(http.MethodPost)
	authed.HandleFunc("/users/{sid}/login-form", s.handleAgentTrayForm(core.TrayFormRegister)).Methods(http.MethodPost)
	s.registerDirectoryAgentRoutes(authed)
}

// withDevice authenticates the device credential of an agent request.
func (s *Server) withDevice(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="countersign-agent"`)
			s.writeError(w, r, core.Errorf(core.KindUnauthorized, "device not recognised; reinstall the agent with the client's activation key"))
			return
		}
		d, err := s.engine.AuthenticateDevice(r.Context(), strings.TrimSpace(cred))
		if err != nil {
			if core.ErrorKind(err) == core.KindUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="countersign-agent", error="invalid_token"`)
			}
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxDevice, d)))
	})
}

// deviceUserJSON is a Windows user as the agent reports it.
type deviceUserJSON struct {
	SID         string `json:"sid"`
	Account     string `json:"account"`
	UPN         string `json:"upn,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	Local       bool   `json:"local"`
	LoggedOn    bool   `json:"logged_on"`
}

// deviceReportJSON is the machine report of activation and heartbeat.
type deviceReportJSON struct {
	Name         string           `json:"name"`
	OS           string           `json:"os"`
	Domain       string           `json:"domain"`
	AgentVersion string           `json:"agent_version"`
	Users        []deviceUserJSON `json:"users"`
}

func (d deviceReportJSON) report() core.DeviceReport {
	rep := core.DeviceReport{Name: d.Name, OS: d.OS, Domain: d.Domain, AgentVersion: d.AgentVersion}
	for _, u := range d.Users {
		rep.Users = append(rep.Users, core.DeviceUser{SID: u.SID, Account: u.Account, UPN: u.UPN,
			DisplayName: u.DisplayName, Local: u.Local, LoggedOn: u.LoggedOn})
	}
	return rep
}

type activateRequest struct {
	ActivationKey string           `json:"activation_key"`
	Device        deviceReportJSON `json:"device"`
}

type activateResponse struct {
	DeviceID   string `json:"device_id"`
	Credential string `json:"credential"`
}

// handleAgentActivate handles "POST /agent/v1/activate". Wrong keys are
// counted per source address; past the limit every attempt from there is
// refused with 429 (the right key too) until the window has passed.
func (s *Server) handleAgentActivate(w http.ResponseWriter, r *http.Request) {
	ip := remoteIP(r)
	if wait := s.activations().blocked(ip, time.Now()); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		s.log.WarnContext(r.Context(), "agent activation refused: too many wrong keys", "request_id", requestID(r), "remote", ip)
		s.writeError(w, r, core.Errorf(core.KindRateLimited, "too many wrong activation keys from this address; try again in %d minutes", int(wait/time.Minute)+1))
		return
	}
	var req activateRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	d, cred, err := s.engine.Activate(r.Context(), req.ActivationKey, req.Device.report())
	if err != nil {
		if core.ErrorKind(err) == core.KindUnauthorized {
			n := s.activations().fail(ip, time.Now())
			s.log.WarnContext(r.Context(), "agent activation with a wrong key", "request_id", requestID(r), "remote", ip, "failures", n)
		}
		s.writeError(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "agent activated", "request_id", requestID(r), "tenant", d.TenantID, "device", d.ID)
	writeJSON(w, http.StatusCreated, activateResponse{DeviceID: d.ID, Credential: cred})
}

// handleAgentHeartbeat handles "POST /agent/v1/heartbeat".
func (s *Server) handleAgentHeartbeat(w http.ResponseWriter, r *http.Request) {
	var req deviceReportJSON
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.engine.Heartbeat(r.Context(), deviceFrom(r), req.report()); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type agentTaskJSON struct {
	ID      string          `json:"id"`
	Kind    string          `json:"kind"`
	SID     string          `json:"sid,omitempty"`
	Payload json.RawMessage `json:"payload"`
	Expires time.Time       `json:"expires_at"`
}

// handleAgentTasks handles "GET /agent/v1/tasks?wait=SECONDS", the long-poll.
func (s *Server) handleAgentTasks(w http.ResponseWriter, r *http.Request) {
	wait := 25 * time.Second
	if v := r.URL.Query().Get("wait"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > int(core.MaxTaskWait/time.Second) {
			s.writeError(w, r, core.Errorf(core.KindInvalid, "wait must be a number of seconds from 0 to %d", int(core.MaxTaskWait/time.Second)))
			return
		}
		wait = time.Duration(n) * time.Second
	}
	tasks, err := s.engine.WaitTasks(r.Context(), deviceFrom(r), wait)
	if err != nil {
		if r.Context().Err() != nil {
			return // the agent went away
		}
		s.writeError(w, r, err)
		return
	}
	out := make([]agentTaskJSON, 0, len(tasks))
	for _, t := range tasks {
		out = append(out, agentTaskJSON{ID: t.ID, Kind: string(t.Kind), SID: t.SID, Payload: json.RawMessage(t.Payload), Expires: t.ExpiresAt})
	}
	writeJSON(w, http.StatusOK, map[string]any{"tasks": out})
}

type taskResultJSON struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// handleAgentTaskResult handles "POST /agent/v1/tasks/{id}/result": what
// the harvester did with a directory task (reset, unlock).
func (s *Server) handleAgentTaskResult(w http.ResponseWriter, r *http.Request) {
	var req taskResultJSON
	if err := decodeJSONMax(w, r, &req, 4<<10); err != nil {
		s.writeError(w, r, err)
		return
	}
	d := deviceFrom(r)
	if err := s.engine.ReportTaskResult(r.Context(), d, pathVar(r, "id"), req.OK, req.Error); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "agent task result", "request_id", requestID(r), "tenant", d.TenantID, "device", d.ID,
		"task", pathVar(r, "id"), "ok", req.OK)
	w.WriteHeader(http.StatusNoContent)
}

// handleAgentUser handles "GET /agent/v1/users/{sid}": whether the user is
// bound, and to whom (the tray's status line).
func (s *Server) handleAgentUser(w http.ResponseWriter, r *http.Request) {
	sid := pathVar(r, "sid")
	if !core.ValidSID(sid) {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "%q is not a Windows SID", sid))
		return
	}
	b, c, err := s.engine.UserBinding(r.Context(), deviceFrom(r), sid)
	if core.ErrorKind(err) == core.KindNotFound {
		writeJSON(w, http.StatusOK, map[string]any{"bound": false})
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"bound": true, "how": b.How, "contact": map[string]string{
		"name": c.Name(), "first_name": c.FirstName, "last_name": c.LastName}})
}

// remoteIP is the request's source address without the port. The agent
// API is reached directly or through a proxy the operator configures; we
// do not trust X-Forwarded-For here, since any client can set it.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Activation failures allowed per source address and window.
const (
	activationFailures = 10
	activationWindow   = 15 * time.Minute
	activationTracked  = 10000 // addresses remembered at most
)

// failLimiter counts failures per key in fixed windows. It is per node and
// in memory: it slows down guessing of activation keys (256 random bits,
// so guessing is hopeless anyway) and keeps the audit-free path cheap.
type failLimiter struct {
	mu sync.Mutex
	m  map[string]*failWindow
}

type failWindow struct {
	start time.Time
	n     int
}

func (l *failLimiter) blocked(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.m[key]
	if w == nil || now.Sub(w.start) >= activationWindow || w.n < activationFailures {
		return 0
	}
	return w.start.Add(activationWindow).Sub(now)
}

func (l *failLimiter) fail(key string, now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*failWindow{}
	}
	w := l.m[key]
	if w == nil || now.Sub(w.start) >= activationWindow {
		if len(l.m) >= activationTracked {
			for k, old := range l.m { // drop expired windows; at worst, everything
				if now.Sub(old.start) >= activationWindow || len(l.m) >= activationTracked {
					delete(l.m, k)
				}
			}
		}
		w = &failWindow{start: now}
		l.m[key] = w
	}
	w.n++
	return w.n
}

// activations returns this server's activation failure limiter.
func (s *Server) activations() *failLimiter { return &s.agentLimits }

// handleAgentTrayForm handles "POST /agent/v1/users/{sid}/ticket-form" and
// ".../login-form": the one-time page the tray opens in the user's browser
// for "Log a ticket" or "Login / Register".
func (s *Server) handleAgentTrayForm(purpose core.TrayFormPurpose) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sid := pathVar(r, "sid")
		if !core.ValidSID(sid) {
			s.writeError(w, r, core.Errorf(core.KindInvalid, "%q is not a Windows SID", sid))
			return
		}
		link, expires, err := s.engine.OpenTrayForm(r.Context(), deviceFrom(r), sid, purpose)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{"url": link, "expires_at": expires})
	}
}
