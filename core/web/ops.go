package web

import (
	"net/http"

	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

func (s *Server) registerOpsRoutes(r *mux.Router) {
	r.HandleFunc("/healthz", s.handleHealthz).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", s.handleReadyz).Methods(http.MethodGet, http.MethodHead)
	if s.cfg.Metrics != nil {
		r.Handle("/metrics", s.cfg.Metrics.Handler()).Methods(http.MethodGet)
	}
}

// handleHealthz handles "GET /healthz": the process is up.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz handles "GET /readyz": the database answers.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	err := s.store.View(r.Context(), func(tx core.Tx) error {
		_, err := tx.ListTenants(r.Context())
		return err
	})
	if err != nil {
		s.log.WarnContext(r.Context(), "not ready", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
