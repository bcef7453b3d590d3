package psa

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/countersign/countersign/core"
)

// DecodeConfig decodes an integration's JSON config into v (a pointer to the
// plugin's config struct), strictly: unknown fields, trailing data and
// values of the wrong type are errors of kind core.ErrInvalid, because a
// misspelt setting silently ignored is a connection that fails later and
// far away. An empty or null raw decodes as {}, leaving v's defaults.
func DecodeConfig(raw json.RawMessage, v any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		raw = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return core.Errorf(core.KindInvalid, "invalid settings: %s", configErrorText(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return core.Errorf(core.KindInvalid, "invalid settings: unexpected data after the settings object")
	}
	return nil
}

// configErrorText describes a decoding error without echoing values, which
// may be secrets.
func configErrorText(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return "setting " + typeErr.Field + " should be a " + typeErr.Type.String()
	case errors.As(err, &syntaxErr):
		return "not a JSON object"
	}
	// DisallowUnknownFields reports `json: unknown field "x"`: the name only.
	return err.Error()
}
