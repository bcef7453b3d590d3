package psa

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode"

	"github.com/countersign/countersign/core"
)

// Misconfiguration turns a PSA's refusal of the integration's own API
// keys — core.KindUnauthorized (a 401: wrong, expired or revoked keys) or
// core.KindForbidden (a 403: keys without the rights a call needs) — into a
// *core.MisconfiguredError, so that the outbox parks the work until an
// administrator fixes the integration instead of retrying or dropping it.
// Its Fix is the plugin's own message (which names what to check), its
// Code the HTTP status and its VendorMessage the PSA's words from the
// answer's body. Any other error is returned unchanged.
//
// Only calls made with the integration's keys are misconfigurations: a 401
// to a technician's own PSA sign-in (a member proof) is theirs to renew.
func Misconfiguration(err error) error {
	switch core.ErrorKind(err) {
	case core.KindUnauthorized, core.KindForbidden:
	default:
		return err
	}
	var mis *core.MisconfiguredError
	if errors.As(err, &mis) {
		return err
	}
	code, vendor := "", ""
	var he *HTTPError
	if errors.As(err, &he) {
		code, vendor = strconv.Itoa(he.Status), VendorMessage(he.Body)
	}
	fix := core.ErrorMessage(err)
	if fix == "" {
		fix = "the PSA refused the integration's API keys: check them in the integration's settings"
	}
	return core.Misconfigured(fix, code, vendor, err)
}

// maxVendorMessage bounds the vendor's words kept from an error body.
const maxVendorMessage = 200

// VendorMessage picks the human part out of a PSA's error body: the
// first of the usual message fields of a JSON body (message, Message,
// error_description, error, detail, title, errors[0]…), or the body itself
// when it is short plain text. It returns at most 200 printable
// characters on one line, or "".
func VendorMessage(body string) string {
	body = strings.TrimSpace(body)
	if body == "" {
		return ""
	}
	var v any
	if json.Unmarshal([]byte(body), &v) == nil {
		return clip(pick(v, 0))
	}
	if strings.HasPrefix(body, "<") {
		return "" // an HTML error page says nothing an admin can act on
	}
	return clip(body)
}

// pick finds a message in a decoded JSON value.
func pick(v any, depth int) string {
	if depth > 3 {
		return ""
	}
	switch t := v.(type) {
	case string:
		return t
	case []any:
		if len(t) > 0 {
			return pick(t[0], depth+1)
		}
	case map[string]any:
		for _, k := range []string{"message", "Message", "error_description", "errorMessage", "detail", "title", "error", "errors", "Errors", "ErrorMessage"} {
			if m, ok := t[k]; ok {
				if s := pick(m, depth+1); s != "" {
					return s
				}
			}
		}
	}
	return ""
}

// clip makes s one line of printable characters, at most maxVendorMessage.
func clip(s string) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }), " ")
	return core.FitRunes(s, maxVendorMessage, core.Ellipsis)
}
