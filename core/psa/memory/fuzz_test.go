package memory_test

import (
	"net/http"
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
		if sig != memory.Sign(memory.DefaultWebhookSecret, now, []byte(body)) && !validElsewhen(body, sig, now) {
			t.Fatalf("verified %q with signature %q", body, sig)
		}
		if cb.ID == "" || cb.Ref == "" {
			t.Fatalf("verified an event without id or ref: %+v", cb)
		}
	})
}

// validElsewhen reports whether sig is the secret's signature of body at
// some second within the tolerance (the fuzzer may shift the timestamp).
func validElsewhen(body, sig string, now time.Time) bool {
	for d := -5 * time.Minute; d <= 5*time.Minute; d += time.Second {
		if sig == memory.Sign(memory.DefaultWebhookSecret, now.Add(d), []byte(body)) {
			return true
		}
	}
	return false
}
