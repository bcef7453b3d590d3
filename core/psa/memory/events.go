package memory

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// SignatureHeader carries an event's signature: t=<unix seconds>,v1=<hex
// HMAC-SHA256 of "t.body" with the webhook secret>.
const SignatureHeader = "X-Memory-Signature"

// eventTolerance bounds how far an event's timestamp may be from our clock:
// a captured event replays for this long at most (and the host drops
// repeated ids within it).
const eventTolerance = 5 * time.Minute

// VerifyCallback implements [psa.CallbackVerifier]: the signature must be
// the webhook secret's HMAC of the timestamp and the body, compared in
// constant time, and the timestamp within five minutes of now.
func (c *Client) VerifyCallback(_ context.Context, h http.Header, body []byte) (psa.Callback, error) {
	if len(body) > psa.MaxInboundBody {
		return psa.Callback{}, core.Errorf(core.KindInvalid, "the event body is over %d bytes", psa.MaxInboundBody)
	}
	if c.secret == "" {
		return psa.Callback{}, core.Errorf(core.KindUnauthorized, "this integration has no webhook secret, so it takes no events")
	}
	var ts, sig string
	for _, part := range strings.Split(h.Get(SignatureHeader), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	got, err := hex.DecodeString(sig)
	sec, terr := strconv.ParseInt(ts, 10, 64)
	if err != nil || terr != nil || len(got) == 0 {
		return psa.Callback{}, core.Errorf(core.KindUnauthorized, "the event has no valid %s header", SignatureHeader)
	}
	if !hmac.Equal(got, mac(c.secret, ts, body)) {
		return psa.Callback{}, core.Errorf(core.KindUnauthorized, "the event's signature does not match")
	}
	if d := c.now().Sub(time.Unix(sec, 0)); d > eventTolerance || d < -eventTolerance {
		return psa.Callback{}, core.Errorf(core.KindUnauthorized, "the event is stamped %s, too far from now to be fresh", time.Unix(sec, 0).UTC().Format(time.RFC3339))
	}
	var e wireEvent
	if err := json.Unmarshal(body, &e); err != nil || e.ID == "" || e.Ref == "" || len(e.ID) > 100 || len(e.Ref) > maxRefLen {
		return psa.Callback{}, core.Errorf(core.KindInvalid, "the event is not the memory PSA's JSON")
	}
	return psa.Callback{ID: e.ID, Type: strings.ToLower(e.Type), Action: strings.ToLower(e.Action), Ref: e.Ref}, nil
}
