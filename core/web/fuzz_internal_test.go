package web

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
)

// FuzzRequestBodies: the JSON bodies of the sign-in and of the pod's
// messages (session handoff, member proof, verification start) are outside
// input. None panics the decoder, and every refusal is a clear 4xx kind.
func FuzzRequestBodies(f *testing.F) {
	for _, s := range []string{
		`{"tenant":"acme","email":"jane@acme.example","password":"pw","totp":"123456"}`,
		`{"token":"x","nonce":"` + strings.Repeat("n", 22) + `","integration":"int_1","member_proof":{"memberid":"j"}}`,
		`{"tenant":"acme","integration":"int_1","proof":{"token":"mps_1"}}`,
		`{"contact_id":"con_1","method":"sms_code"}`,
		`{"tenant":1}`, `[]`, `{"a":`, ``, `{"password":"\u0000"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, v := range []any{&loginRequest{}, &podSessionRequest{}, &podMemberRequest{}, &podStartRequest{}} {
			r := httptest.NewRequest(http.MethodPost, "/api/v1/x", bytes.NewReader([]byte(body)))
			r.Header.Set("Content-Type", "application/json")
			err := decodeJSON(httptest.NewRecorder(), r, v)
			if err != nil && core.ErrorKind(err) == core.KindInternal && !strings.Contains(err.Error(), "too large") {
				t.Fatalf("%T: %q: an internal error for bad input: %v", v, body, err)
			}
		}
	})
}

// FuzzLinkPath: link paths and tokens. The access log never shows a link
// token, and no made-up nonce passes for a token.
func FuzzLinkPath(f *testing.F) {
	f.Add("/l/acme/Zm9vYmFyYmF6cXV4", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("/l//", "")
	f.Add("/l/acme/tok/extra", "%%%")
	f.Add("/static/x.js", "====")
	f.Add("/w/acme/Zm9vYmFyYmF6cXV4", "")
	f.Add("/e/Zm9vYmFyYmF6cXV4", "")
	f.Add("/t/Zm9vYmFyYmF6cXV4", "")
	s := &Server{cfg: Config{SessionKey: bytes.Repeat([]byte{1}, 32)}}
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, path, nonce string) {
		red := redactPath(path)
		for _, page := range []string{"/l/", "/w/"} {
			if parts := strings.SplitN(path, "/", 4); strings.HasPrefix(path, page) && len(parts) == 4 && red != page+parts[2]+"/[redacted]" {
				t.Fatalf("redactPath(%q) = %q shows the token", path, red)
			}
		}
		if (strings.HasPrefix(path, "/e/") || strings.HasPrefix(path, "/t/")) && red != path[:3]+"[redacted]" {
			t.Fatalf("redactPath(%q) = %q shows the token", path, red)
		}
		token := strings.TrimPrefix(path, "/l/")
		if s.nonceValid(token, nonce, now) && nonce != s.mintNonce(token, now) {
			t.Fatalf("a made-up nonce %q passed for %q", nonce, token)
		}
	})
}
