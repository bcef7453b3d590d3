package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/countersign/countersign/core/twilio"
	"github.com/countersign/countersign/core/twilio/twiliotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tenant a has its own Twilio account; tenant b a number on the server's.
const (
	ownAccount  = "AC" + "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
	ownToken    = "owntoken0a"
	ownNumber   = "+15550001111"
	sharedNum   = "+15550002222"
	smsPath     = "/webhooks/twilio/sms"
	callerPhone = "+15550100142" // tenant a's contact
)

// setupSMSChannels gives tenant a its own account and b a shared number.
func (e *env) setupSMSChannels(t *testing.T) {
	t.Helper()
	_, err := e.eng.PutChannelSettings(t.Context(), e.a.tenant.ID, "test", core.ChannelSettings{
		Twilio: core.TwilioSettings{AccountSID: ownAccount, Secret: ownToken, Number: ownNumber}})
	require.NoError(t, err)
	_, err = e.eng.PutChannelSettings(t.Context(), e.b.tenant.ID, "test", core.ChannelSettings{
		Twilio: core.TwilioSettings{Shared: true, Number: sharedNum}})
	require.NoError(t, err)
}

func inboundForm(sid, from, to, body, account string) url.Values {
	return url.Values{"MessageSid": {sid}, "SmsSid": {sid}, "AccountSid": {account}, "From": {from}, "To": {to},
		"Body": {body}, "NumMedia": {"0"}, "NumSegments": {"1"}, "FromCountry": {"US"}}
}

// postSMS posts a text signed with token over the configured public URL.
func (e *env) postSMS(t *testing.T, f url.Values, token string) response {
	t.Helper()
	return e.form(t, e.client(t), smsPath, f, map[string]string{twilio.SignatureHeader: twiliotest.SignRequest(publicURL+smsPath, f, token)})
}

var twimlMessage = regexp.MustCompile(`^<\?xml version="1.0" encoding="UTF-8"\?><Response><Message>(.*)</Message></Response>$`)

const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response/>`

// TestInboundSMSWebhook drives the inbound webhook over HTTP: only texts
// signed with the receiving number's account are acted on, each once.
func TestInboundSMSWebhook(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.setupSMSChannels(t)
		stop := inboundForm("SM"+strings.Repeat("0", 31)+"1", callerPhone, ownNumber, "Stop", ownAccount)
		changed := func(f url.Values, k, v string) url.Values {
			p := url.Values{}
			for key, vals := range f {
				p[key] = append([]string(nil), vals...)
			}
			p.Set(k, v)
			return p
		}
		sig := twiliotest.SignRequest(publicURL+smsPath, stop, ownToken)
		bad := []struct {
			name string
			sent url.Values
			sig  string
		}{
			{name: "unsigned", sent: stop},
			{name: "garbage", sent: stop, sig: "bm90IGEgc2lnbmF0dXJl"},
			{name: "server token for an own-account number", sent: stop, sig: twiliotest.SignRequest(publicURL+smsPath, stop, twilioToken)},
			{name: "changed body", sent: changed(stop, "Body", "START"), sig: sig},
			{name: "changed sender", sent: changed(stop, "From", "+15550100199"), sig: sig},
			{name: "other host", sent: stop, sig: twiliotest.SignRequest("http://evil.example"+smsPath, stop, ownToken)},
			{name: "as the proxy forwarded it", sent: stop, sig: twiliotest.SignRequest(e.srv.URL+smsPath, stop, ownToken)},
			{name: "other account, signed", sent: changed(stop, "AccountSid", "ACffffffffffffffffffffffffffffffff"),
				sig: twiliotest.SignRequest(publicURL+smsPath, changed(stop, "AccountSid", "ACffffffffffffffffffffffffffffffff"), ownToken)},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				hdr := map[string]string{"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
				if tc.sig != "" {
					hdr[twilio.SignatureHeader] = tc.sig
				}
				r := e.form(t, e.client(t), smsPath, tc.sent, hdr)
				assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
				out, err := e.eng.SMSOptedOut(t.Context(), e.a.tenant.ID, callerPhone)
				require.NoError(t, err)
				assert.False(t, out, "a forged STOP opted the number out")
				_, err = e.eng.InboundSMSRecord(t.Context(), e.a.tenant.ID, stop.Get("MessageSid"))
				assert.Equal(t, core.KindNotFound, core.ErrorKind(err), "a forged text was recorded")
			})
		}
		assert.Regexp(t, `bad signature.*path=`+regexp.QuoteMeta(smsPath), e.logs.String())
		assert.NotContains(t, e.logs.String(), "Stop", "bodies are not logged")

		t.Run("unknown number", func(t *testing.T) {
			f := inboundForm(stop.Get("MessageSid"), callerPhone, "+15550007777", "STOP", ownAccount)
			assert.Equal(t, http.StatusNotFound, e.postSMS(t, f, ownToken).status)
		})
		t.Run("json body", func(t *testing.T) {
			r := e.do(t, e.client(t), "POST", smsPath, "application/json", `{}`, map[string]string{twilio.SignatureHeader: sig})
			assert.Equal(t, http.StatusUnsupportedMediaType, r.status)
		})
		t.Run("oversize", func(t *testing.T) {
			f := changed(stop, "Body", strings.Repeat("x", 70<<10))
			assert.Equal(t, http.StatusRequestEntityTooLarge, e.postSMS(t, f, ownToken).status)
		})
		t.Run("GET", func(t *testing.T) {
			r := e.do(t, e.client(t), "GET", smsPath+"?"+stop.Encode(), "", nil, map[string]string{twilio.SignatureHeader: sig})
			assert.Equal(t, http.StatusMethodNotAllowed, r.status)
		})
		t.Run("malformed sid", func(t *testing.T) {
			f := changed(stop, "MessageSid", "SMnope")
			assert.Equal(t, http.StatusBadRequest, e.postSMS(t, f, ownToken).status)
		})

		// Genuine STOP: opted out, empty TwiML (Twilio confirms STOP itself).
		r := e.postSMS(t, stop, ownToken)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, "text/xml; charset=utf-8", r.header.Get("Content-Type"))
		assert.Equal(t, emptyTwiML, string(r.body))
		out, err := e.eng.SMSOptedOut(t.Context(), e.a.tenant.ID, callerPhone)
		require.NoError(t, err)
		assert.True(t, out)
		outB, err := e.eng.SMSOptedOut(t.Context(), e.b.tenant.ID, callerPhone)
		require.NoError(t, err)
		assert.False(t, outB, "the opt-out is tenant a's only")

		// A verification by SMS is now refused with a clear message.
		c := e.login(t, e.a)
		r = e.api(t, c, "POST", "/api/v1/verifications", map[string]string{"contact_id": e.a.contact.ID, "method": "sms_code"})
		assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), "opted out")
		assert.Contains(t, string(r.body), "e-mail or a voice call")

		// Replayed START under the STOP's MessageSid: nothing.
		replay := changed(stop, "Body", "START")
		r = e.postSMS(t, replay, ownToken)
		assert.Equal(t, http.StatusOK, r.status)
		out, _ = e.eng.SMSOptedOut(t.Context(), e.a.tenant.ID, callerPhone)
		assert.True(t, out, "a replayed MessageSid changed the opt-out")

		start := inboundForm("SM"+strings.Repeat("0", 31)+"2", callerPhone, ownNumber, " start ", ownAccount)
		assert.Equal(t, emptyTwiML, string(e.postSMS(t, start, ownToken).body))
		out, _ = e.eng.SMSOptedOut(t.Context(), e.a.tenant.ID, callerPhone)
		assert.False(t, out)

		// HELP answers with the tenant's text, XML-escaped.
		_, err = e.eng.PutChannelSettings(t.Context(), e.a.tenant.ID, "test", core.ChannelSettings{
			Twilio:   core.TwilioSettings{AccountSID: ownAccount, Number: ownNumber},
			HelpText: "Acme IT <help> & support: +1 555 010 0000. Reply STOP to opt out."})
		require.NoError(t, err)
		help := inboundForm("SM"+strings.Repeat("0", 31)+"3", callerPhone, ownNumber, "HELP", ownAccount)
		r = e.postSMS(t, help, ownToken)
		m := twimlMessage.FindStringSubmatch(string(r.body))
		require.NotNil(t, m, "%s", r.body)
		assert.Equal(t, "Acme IT &lt;help&gt; &amp; support: +1 555 010 0000. Reply STOP to opt out.", m[1])

		// #verify reaches the handler, with the tenant of the number.
		var got []core.InboundText
		e.eng.SetTechVerifyHandler(core.TechVerifyFunc(func(ctx context.Context, in core.InboundText) (string, error) {
			got = append(got, in)
			return "Code 123456 - Acme IT", nil
		}))
		verify := inboundForm("SM"+strings.Repeat("0", 31)+"4", callerPhone, ownNumber, "#Verify", ownAccount)
		r = e.postSMS(t, verify, ownToken)
		m = twimlMessage.FindStringSubmatch(string(r.body))
		require.NotNil(t, m, "%s", r.body)
		assert.Equal(t, "Code 123456 - Acme IT", m[1])
		e.postSMS(t, verify, ownToken)
		require.Len(t, got, 1, "a replayed #verify is handed over once")
		assert.Equal(t, e.a.tenant.ID, got[0].Tenant.ID)

		// The shared number is checked with the server's account.
		bstop := inboundForm("SM"+strings.Repeat("0", 31)+"5", callerPhone, sharedNum, "STOP", "AC0123456789abcdef0123456789abcdef")
		assert.Equal(t, http.StatusForbidden, e.postSMS(t, bstop, ownToken).status, "tenant a's token cannot sign for b's number")
		assert.Equal(t, http.StatusOK, e.postSMS(t, bstop, twilioToken).status)
		outB, _ = e.eng.SMSOptedOut(t.Context(), e.b.tenant.ID, callerPhone)
		assert.True(t, outB)
		out, _ = e.eng.SMSOptedOut(t.Context(), e.a.tenant.ID, callerPhone)
		assert.False(t, out, "b's STOP is b's")
	})
}

// TestStatusCallbackOwnAccount: delivery statuses of texts sent through a
// tenant's own Twilio account are signed with that account's token.
func TestStatusCallbackOwnAccount(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.setupSMSChannels(t)
		c := e.login(t, e.a)
		r := e.api(t, c, "POST", "/api/v1/verifications", map[string]string{"contact_id": e.a.contact.ID, "method": "sms_code"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		id := r.JSON(t)["id"].(string)
		e.deliver(t)
		_, ref := e.sms.last(t)
		path := "/webhooks/twilio/status/" + e.a.tenant.Slug
		f := url.Values{"MessageSid": {ref}, "MessageStatus": {"delivered"}, "AccountSid": {ownAccount}, "To": {callerPhone}, "From": {ownNumber}}
		r = e.form(t, e.client(t), path, f, map[string]string{twilio.SignatureHeader: twiliotest.SignRequest(publicURL+path, f, twilioToken)})
		assert.Equal(t, http.StatusForbidden, r.status, "the server's token does not sign the tenant's account")
		assert.NotEqual(t, "delivered", e.verification(t, e.a, id).DeliveryStatus)
		r = e.form(t, e.client(t), path, f, map[string]string{twilio.SignatureHeader: twiliotest.SignRequest(publicURL+path, f, ownToken)})
		assert.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		assert.Equal(t, "delivered", e.verification(t, e.a, id).DeliveryStatus)
	})
}
