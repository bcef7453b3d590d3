package web

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/countersign/countersign/core"
)

// statusByKind is the one table from core error kinds to HTTP statuses.
var statusByKind = map[core.Kind]int{
	core.KindNotFound:     http.StatusNotFound,
	core.KindInvalid:      http.StatusBadRequest,
	core.KindUnauthorized: http.StatusUnauthorized,
	core.KindForbidden:    http.StatusForbidden,
	core.KindConflict:     http.StatusConflict,
	core.KindRateLimited:  http.StatusTooManyRequests,
	core.KindUnavailable:  http.StatusServiceUnavailable,
	core.KindGone:         http.StatusGone,
	// A channel or integration set up wrongly: the service cannot do it
	// until an admin fixes the settings.
	core.KindMisconfigured: http.StatusServiceUnavailable,
	// A method below the client's minimum assurance: another can do it.
	core.KindAssuranceTooLow: http.StatusForbidden,
}

// errorBody is the JSON shape of every API error.
type errorBody struct {
	Error string `json:"error"`
	Kind  string `json:"kind"`
}

// writeError answers an API request with err as JSON. Internal errors are
// logged with the request id and shown as a generic message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg, kind := s.classify(r, err)
	setRetryAfter(w, err)
	writeJSON(w, status, errorBody{Error: msg, Kind: string(kind)})
}

// classify turns err into a status, a user-safe message and a kind, logging
// what users do not see.
func (s *Server) classify(r *http.Request, err error) (int, string, core.Kind) {
	err = bodyTooLarge(err)
	kind := core.ErrorKind(err)
	status, ok := statusByKind[kind]
	if !ok || kind == core.KindInternal {
		s.log.ErrorContext(r.Context(), "internal error", "request_id", requestID(r), "path", redactPath(r.URL.Path), "err", err)
		return http.StatusInternalServerError, "internal error; it has been logged (request " + requestID(r) + ")", core.KindInternal
	}
	msg := core.ErrorMessage(err)
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelWarn
	}
	s.log.Log(r.Context(), level, "request refused", "request_id", requestID(r), "path", redactPath(r.URL.Path), "status", status, "reason", msg)
	return status, msg, kind
}

// setRetryAfter sends the wait attached with core.WithRetryAfter as a
// Retry-After header, in whole seconds rounded up (RFC 9110 §10.2.3).
func setRetryAfter(w http.ResponseWriter, err error) {
	if d, ok := core.RetryAfter(err); ok {
		w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
	}
}

// bodyTooLarge turns a body over its size cap (http.MaxBytesReader's
// error) into the refusal the client reads; other errors are returned as
// they are.
func bodyTooLarge(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return core.Errorf(core.KindInvalid, "request body is too large (limit %d bytes)", mbe.Limit)
	}
	return err
}
