package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"

	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

func (s *Server) registerOpsRoutes(r *mux.Router) {
	r.HandleFunc("/healthz", s.handleHealthz).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", s.handleReadyz).Methods(http.MethodGet, http.MethodHead)
	// /metrics shows per-tenant and per-integration counts, so it is never
	// open on the public listener: cmd serves it on its own (loopback by
	// default) listener, and here only behind a bearer token.
	if s.cfg.Metrics != nil && s.cfg.MetricsToken != "" {
		r.Handle("/metrics", s.withMetricsToken(s.cfg.Metrics.Handler())).Methods(http.MethodGet)
	}
}

// withMetricsToken lets through only requests with "Authorization: Bearer
// <Config.MetricsToken>", compared in constant time.
func (s *Server) withMetricsToken(next http.Handler) http.Handler {
	want := sha256.Sum256([]byte("Bearer " + s.cfg.MetricsToken))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			s.writeError(w, r, core.Errorf(core.KindUnauthorized, "metrics need the bearer token set in COUNTERSIGN_METRICS_TOKEN"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// handleHealthz handles "GET /healthz": the process is up.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz handles "GET /readyz": the database answers.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	if err := s.engine.Ready(r.Context()); err != nil {
		s.log.WarnContext(r.Context(), "not ready", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
