// An integration's live check: a fresh client from the saved settings asks
// the PSA whether the credentials and permissions work, and a failure is
// said in the admin's words.

package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// psaFailure turns a PSA call's failure into an answer for the admin: the
// plugin's own message (which says what to fix), under a status that is
// not 401 — the admin is signed in; it is the PSA that refused.
// A PSA being down or throttling keeps its kind (503, 429), anything
// else is the admin's to fix (400).
func (s *Server) psaFailure(r *http.Request, psaName, prefix string, err error) error {
	msg := core.ErrorMessage(err)
	kind := core.ErrorKind(err)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return core.Errorf(core.KindUnavailable, "%s: %s did not answer within %s; try again later", prefix, psaName, psaCheckTimeout)
	case msg == "":
		s.log.ErrorContext(r.Context(), "psa call failed", "request_id", requestID(r), "psa", psaName, "err", err)
		return core.Errorf(core.KindUnavailable, "%s: %s answered in a way Countersign does not understand (request %s)", prefix, psaName, requestID(r))
	case kind == core.KindUnavailable || kind == core.KindRateLimited:
		return core.Errorf(kind, "%s: %s", prefix, msg)
	}
	return core.Errorf(core.KindInvalid, "%s: %s", prefix, msg)
}

// handleAdminCheckIntegration handles "POST
// /api/v1/admin/integrations/{id}/check": the live check again, on the
// stored settings, with a fresh client.
func (s *Server) handleAdminCheckIntegration(w http.ResponseWriter, r *http.Request) {
	_, in, err := s.adminIntegration(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	d, client, err := s.freshClient(in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer func() { _ = psa.Close(client) }()
	ch, ok := client.(psa.Checker)
	if !ok {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "%s integrations have no connection check", d.Name))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), psaCheckTimeout)
	defer cancel()
	if err := ch.Check(ctx); err != nil {
		s.writeError(w, r, s.psaFailure(r, d.Name, "The connection check failed", err))
		return
	}
	writeJSON(w, http.StatusOK, actionOut{OK: true, Message: "Connected to " + d.Name + "."})
}

// freshClient builds a client for a stored integration outside the cache.
func (s *Server) freshClient(in core.Integration) (psa.Descriptor, psa.Client, error) {
	reg, err := s.psaRegistry()
	if err != nil {
		return psa.Descriptor{}, nil, err
	}
	d, err := reg.Get(in.Kind)
	if err != nil {
		return d, nil, core.Errorf(core.KindInvalid, "this server has no plugin for %s integrations", in.Kind)
	}
	c, err := s.cfg.PSA.New(in)
	if err != nil {
		return d, nil, settingsRefused(err)
	}
	return d, c, nil
}
