package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/countersign/countersign/core"
	"github.com/gorilla/mux"
)

// maxBodyBytes caps every request body; nothing we accept is larger.
const maxBodyBytes = 64 << 10

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		http.Error(w, `{"error":"internal error","kind":"internal"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// decodeJSON reads a JSON body strictly into v: the content type must be
// JSON, unknown fields and trailing data are refused, and the size is capped.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeJSONMax(w, r, v, maxBodyBytes)
}

// decodeJSONMax is decodeJSON with its own size cap, for the few bodies
// (a directory upload) that are larger by nature.
func decodeJSONMax(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return core.Errorf(core.KindInvalid, "send the request body as application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return err
		case errors.Is(err, io.EOF):
			return core.Errorf(core.KindInvalid, "request body is empty; send a JSON object")
		case errors.As(err, &se):
			return core.Errorf(core.KindInvalid, "malformed JSON at byte %d", se.Offset)
		case errors.As(err, &te):
			return core.Errorf(core.KindInvalid, "field %q must be a %s", te.Field, te.Type)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return core.Errorf(core.KindInvalid, "malformed JSON: body ends early")
		case core.ErrorKind(err) != core.KindInternal:
			return err
		}
		return core.Errorf(core.KindInvalid, "bad request body: %s", err.Error())
	}
	if dec.More() {
		return core.Errorf(core.KindInvalid, "request body must hold exactly one JSON object")
	}
	return nil
}

// pathVar returns a route parameter; the router stays a one-file dependency.
func pathVar(r *http.Request, name string) string { return mux.Vars(r)[name] }

// renderHTML executes a page template into a buffer first, so that a
// template error is still a clean 500.
func (s *Server) renderHTML(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func sprint(v any) string { return fmt.Sprint(v) }
