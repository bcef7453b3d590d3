package connectwise_test

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/countersign/countersign/connectwise"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// noNetwork fails every request at once: the fuzz targets must not wait on
// a network, and a callback key fetch is an outcome like any other.
type noNetwork struct{}

func (noNetwork) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("fuzz: no network")
}

func fuzzClient(f *testing.F) *connectwise.Client {
	c, err := connectwise.New(connectwise.Config{Site: "na.myconnectwise.net", CompanyID: "acme", PublicKey: "p", PrivateKey: "k",
		ClientID: "11111111-2222-4333-8444-555555555555"}, psa.Deps{HTTPClient: &http.Client{Transport: noNetwork{}},
		Retry: psa.RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		f.Fatal(err)
	}
	return c
}

// FuzzVerifyCallback: ConnectWise callbacks are outside input, posted by
// anyone who knows the URL. No body or signature panics the verifier, and
// every refusal is of a kind the inbound route maps (401, 400, 503).
func FuzzVerifyCallback(f *testing.F) {
	f.Add(`{"MessageId":"m","Action":"added","Type":"ticket","ID":3001,"CompanyId":"acme","Metadata":{"key_url":"https://na.myconnectwise.net/v4_6_release/apis/3.0//system/callbackkey/index.rails?companyName=acme&id=k"}}`, "hvVsyd56k7UfG7bm34yJmY7JmfxMl/0G+BbvIvA8Pxg=")
	f.Add(`{"ID":"12","Metadata":{"key_url":"https://evil.example/"}}`, "")
	f.Add(`{`, "x")
	c := fuzzClient(f)
	f.Fuzz(func(t *testing.T, body, sig string) {
		h := http.Header{}
		h.Set("X-Content-Signature", sig)
		cb, err := c.VerifyCallback(t.Context(), h, []byte(body))
		if err == nil {
			t.Fatalf("verified without a key: %+v", cb)
		}
		switch core.ErrorKind(err) {
		case core.KindUnauthorized, core.KindInvalid, core.KindUnavailable, core.KindRateLimited:
		default:
			t.Fatalf("error of kind %s: %v", core.ErrorKind(err), err)
		}
	})
}

// FuzzPodContext: the pod URL's query is filled in by ConnectWise, or by
// anyone who opens the URL.
func FuzzPodContext(f *testing.F) {
	f.Add("id=3001&screen=service_ticket")
	f.Add("id=[cw_id]&screen=[cw_screen]")
	f.Add("id=-1&screen=contact&id=2")
	c := fuzzClient(f)
	f.Fuzz(func(t *testing.T, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		pc, err := c.PodContext(q)
		if err != nil {
			if core.ErrorKind(err) != core.KindInvalid {
				t.Fatalf("%q: error of kind %s: %v", query, core.ErrorKind(err), err)
			}
			return
		}
		if pc.Screen != psa.ScreenTicket && pc.Screen != psa.ScreenContact || pc.TicketRef == "" && pc.ContactRef == "" {
			t.Fatalf("%q: context %+v", query, pc)
		}
	})
}
