package memory_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
)

// FuzzVerifyCallback: the demo PSA's signed events. Only a body signed
// with the secret verifies; nothing panics.
func FuzzVerifyCallback(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	good := `{"id":"evt_1","type":"ticket","action":"added","ref":"5001"}`
	f.Add(good, memory.Sign(memory.DefaultWebhookSecret, now, []byte(good)))
	f.Add(good, "t=1800000000,v1=00")
	f.Add("{", "t=x,v1=zz,,,=")
	c, err := memory.New(memory.Config{BaseURL: "http://127.0.0.1:1", APIKey: "k", WebhookSecret: memory.DefaultWebhookSecret},
		psa.Deps{Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body, sig string) {
		h := http.Header{}
		h.Set(memory.SignatureHeader, sig)
		cb, err := c.VerifyCallback(t.Context(), h, []byte(body))
		if err != nil {
			if k := core.ErrorKind(err); k != core.KindUnauthorized && k != core.KindInvalid {
				t.Fatalf("error of kind %s: %v", k, err)
			}
			return
		}
		if !signedWithSecret(body, sig, now) {
			t.Fatalf("verified %q with signature %q", body, sig)
		}
		if cb.ID == "" || cb.Ref == "" {
			t.Fatalf("verified an event without id or ref: %+v", cb)
		}
	})
}

// signedWithSecret reports whether sig carries, for its timestamp t
// within five minutes of now, an HMAC-SHA256 of "t.body" under the secret
// (hex in any case: the same bytes). Only the secret's holder can make
// one, whatever else the header's spelling varies (spaces, case, order):
// that is what a verified event must prove.
func signedWithSecret(body, sig string, now time.Time) bool {
	var ts, v1 string
	for _, part := range strings.Split(sig, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	got, err := hex.DecodeString(v1)
	sec, terr := strconv.ParseInt(ts, 10, 64)
	if err != nil || terr != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(memory.DefaultWebhookSecret))
	m.Write([]byte(ts + "." + body))
	d := now.Sub(time.Unix(sec, 0))
	return hmac.Equal(got, m.Sum(nil)) && d <= 5*time.Minute && d >= -5*time.Minute
}
