package web_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/countersign/countersign/core/twilio"
	"github.com/countersign/countersign/core/twilio/twiliotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startLink starts an email_link verification over the API and delivers it,
// returning the verification id, the technician code and the link path and
// token.
func (e *env) startLink(t *testing.T, c *http.Client) (id, techCode, path, token string) {
	t.Helper()
	return e.startLinkTo(t, c, e.a.contact.ID)
}

// startLinkTo is startLink for another contact of tenant a.
func (e *env) startLinkTo(t *testing.T, c *http.Client, contactID string) (id, techCode, path, token string) {
	t.Helper()
	r := e.api(t, c, "POST", "/api/v1/verifications", map[string]string{
		"contact_id": contactID, "method": "email_link", "ticket_ref": "4821"})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	m := r.JSON(t)
	id, _ = m["id"].(string)
	techCode, _ = m["tech_code"].(string)
	require.NotEmpty(t, id)
	require.Len(t, techCode, 6, "email links carry a technician-read code by default")
	e.deliver(t)
	msg, _ := e.mail.last(t)
	path, token = linkPathIn(t, msg)
	assert.NotContains(t, string(r.body), token, "the API must not return the link token")
	return id, techCode, path, token
}

// nonceFrom returns the form nonce of a rendered link page.
func nonceFrom(t *testing.T, body []byte) string {
	t.Helper()
	g := nonceRE.FindSubmatch(body)
	require.NotNil(t, g, "no nonce in the page:\n%s", body)
	require.NotEmpty(t, g[1])
	return string(g[1])
}

// presenceRE finds the number a link page asks to type back.
var presenceRE = regexp.MustCompile(`class="eu-presence">(\d{4})<`)

// presenceFrom returns the number to type back on a link page.
func presenceFrom(t *testing.T, body []byte) string {
	t.Helper()
	g := presenceRE.FindSubmatch(body)
	require.NotNil(t, g, "no presence number in the page:\n%s", body)
	return string(g[1])
}

// linkState is what must not change while the end user only looks.
type linkState struct {
	V        core.Verification
	AuditSeq int64
	Outbox   int
}

func (e *env) linkState(t *testing.T, id string) linkState {
	t.Helper()
	s := e.state(t)
	return linkState{V: e.verification(t, e.a, id), AuditSeq: s.AuditSeq[e.a.tenant.ID], Outbox: s.Outbox[e.a.tenant.ID]}
}

func assertLinkHeaders(t *testing.T, r response) {
	t.Helper()
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	assert.Equal(t, "no-referrer", r.header.Get("Referrer-Policy"))
	assert.Contains(t, r.header.Get("Content-Type"), "text/html")
}

var attrURL = regexp.MustCompile(`(?i)(?:src|href|action|formaction)\s*=\s*["']?([^"'\s>]*)`)

// assertNoThirdParty fails if the page loads or links anything from another
// host (security.md §2: no third-party scripts, fonts or images).
func assertNoThirdParty(t *testing.T, body []byte) {
	t.Helper()
	for _, m := range attrURL.FindAllSubmatch(body, -1) {
		u := string(m[1])
		lu := strings.ToLower(u)
		assert.False(t, strings.HasPrefix(lu, "http:") || strings.HasPrefix(lu, "https:") || strings.HasPrefix(lu, "//"),
			"the link page refers to another host: %s", u)
	}
	assert.NotRegexp(t, `(?i)<script[^>]*src=["']?(https?:)?//`, string(body))
	assert.NotRegexp(t, `(?i)url\(\s*["']?(https?:)?//`, string(body))
	assert.NotRegexp(t, `(?i)@import`, string(body))
}

// TestLinkPage checks the email link page: looking changes nothing, only a
// POST with a nonce from the page and the technician's code confirms.
func TestLinkPage(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		c := e.login(t, e.a)
		id, techCode, path, token := e.startLink(t, c)
		browser := e.client(t) // the end user's browser: no session

		before := e.linkState(t, id)
		r := e.do(t, browser, "GET", path, "", nil, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assertLinkHeaders(t, r)
		page := string(r.body)
		assert.Contains(t, page, `value="confirm"`)
		assert.Regexp(t, `<button[^>]*value="confirm"[^>]*>Validate</button>`, page)
		assert.Regexp(t, `<button[^>]*value="decline"[^>]*>This wasn(&#39;|')t me</button>`, page)
		assert.Contains(t, page, "Jane Tech", "the technician")
		assert.Contains(t, page, "4821", "the ticket")
		assert.Contains(t, page, "Acme IT", "the MSP")
		assert.Contains(t, page, "09:00 (just now)", "when it was requested")
		assert.Contains(t, page, `<meta name="viewport" content="width=device-width, initial-scale=1">`)
		assert.Contains(t, page, `href="/brand/`+e.a.tenant.Slug+`.css"`)
		assert.Regexp(t, `href="/static/enduser\.css\?v=[0-9a-f]+"`, page)
		assert.Contains(t, page, `name="code"`, "the page asks for the technician's code")
		assert.NotContains(t, page, techCode, "the page shows the code it asks for")
		assert.NotRegexp(t, `(?i)<script|http-equiv="refresh"|onload=`, page, "no auto-submit on the link page")
		assertNoThirdParty(t, r.body)
		nonce := nonceFrom(t, r.body)

		h := e.do(t, browser, "HEAD", path, "", nil, nil)
		require.Equal(t, http.StatusOK, h.status)
		assertLinkHeaders(t, h)
		assert.Empty(t, h.body)

		for range 3 {
			again := e.do(t, browser, "GET", path, "", nil, map[string]string{"User-Agent": "OneOutlook scanner"})
			require.Equal(t, http.StatusOK, again.status)
			e.do(t, browser, "HEAD", path, "", nil, nil)
		}
		assert.Equal(t, before, e.linkState(t, id), "GET or HEAD changed state")

		bad := []struct {
			name string
			form url.Values
			hdr  map[string]string
			want int
		}{
			{name: "no nonce", form: url.Values{"action": {"confirm"}, "code": {techCode}}, want: http.StatusBadRequest},
			{name: "garbage nonce", form: url.Values{"nonce": {"abc"}, "action": {"confirm"}, "code": {techCode}}, want: http.StatusBadRequest},
			{name: "forged nonce", form: url.Values{"nonce": {base64.RawURLEncoding.EncodeToString(make([]byte, 40))},
				"action": {"confirm"}, "code": {techCode}}, want: http.StatusBadRequest},
			{name: "no action", form: url.Values{"nonce": {nonce}, "code": {techCode}}, want: http.StatusBadRequest},
			{name: "cross-origin", form: url.Values{"nonce": {nonce}, "action": {"confirm"}, "code": {techCode}},
				hdr: map[string]string{"Origin": "https://evil.example"}, want: http.StatusForbidden},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				r := e.form(t, browser, path, tc.form, tc.hdr)
				assert.Equal(t, tc.want, r.status, "%s", r.body)
				assertLinkHeaders(t, r)
				assert.Contains(t, string(r.body), `class="result retry"`)
				assert.Equal(t, before, e.linkState(t, id), "a refused POST changed state")
			})
		}

		// A nonce minted for another link does not carry over (another
		// contact's: a second link to Sam would replace the first).
		other, err := e.eng.CreateContact(t.Context(), e.a.tenant.ID, "test", "manual", core.NewContact{
			ClientID: e.a.client.ID, FirstName: "Max", LastName: "Other",
			Emails: []core.NewDestination{{Value: "max@contoso.example", Default: true}}})
		require.NoError(t, err)
		_, _, path2, _ := e.startLinkTo(t, c, other.ID)
		nonce2 := nonceFrom(t, e.do(t, browser, "GET", path2, "", nil, nil).body)
		before = e.linkState(t, id)
		r = e.form(t, browser, path, url.Values{"nonce": {nonce2}, "action": {"confirm"}, "code": {techCode}}, nil)
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Equal(t, before, e.linkState(t, id))

		// Input that cannot be the code is refused and counts nothing
		// (issue 21 item 3); the page's own pattern refuses it first.
		assert.Contains(t, page, `pattern="[\s\-]*([0-9][\s\-]*){6}"`)
		before = e.linkState(t, id)
		for _, junk := range []string{"abcdef", "12345", "1234567"} {
			r = e.form(t, browser, path, url.Values{"nonce": {nonce}, "action": {"confirm"}, "code": {junk}}, nil)
			require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
			assert.Contains(t, string(r.body), "nothing was counted")
			nonce = nonceFrom(t, r.body)
		}
		assert.Equal(t, before, e.linkState(t, id), "input that cannot be a code changed state")

		wrong := "000000"
		if techCode == wrong {
			wrong = "111111"
		}
		r = e.form(t, browser, path, url.Values{"nonce": {nonce}, "action": {"confirm"}, "code": {wrong}}, nil)
		require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		assertLinkHeaders(t, r)
		assert.Contains(t, string(r.body), "That code does not match; 4 attempts left.")
		nonce = nonceFrom(t, r.body) // the page is shown again with a fresh form
		v := e.verification(t, e.a, id)
		assert.Equal(t, 1, v.Attempts, "the wrong code was not counted")
		assert.True(t, v.Status.Open())

		r = e.form(t, browser, path, url.Values{"nonce": {nonce}, "action": {"confirm"}, "code": {techCode}},
			map[string]string{"Origin": publicURL})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assertLinkHeaders(t, r)
		assert.Contains(t, string(r.body), `class="result confirmed"`)
		assert.Equal(t, core.StatusVerified, e.verification(t, e.a, id).Status)

		// A repeat of the confirming POST is harmless: its nonce is spent,
		// and the page says the link was used.
		r = e.form(t, browser, path, url.Values{"nonce": {nonce}, "action": {"confirm"}, "code": {techCode}}, nil)
		assert.Equal(t, http.StatusGone, r.status)
		assert.Contains(t, string(r.body), `class="result used"`)
		assert.Equal(t, core.StatusVerified, e.verification(t, e.a, id).Status)
		r = e.do(t, browser, "GET", path, "", nil, nil)
		assert.Equal(t, http.StatusOK, r.status)
		assert.Contains(t, string(r.body), `class="result used"`)
		assert.Contains(t, string(r.body), "This link has already been used")
		assert.NotContains(t, string(r.body), `name="nonce"`)
		// Declining after confirming changes nothing.
		r = e.form(t, browser, path, url.Values{"nonce": {nonce}, "action": {"decline"}}, nil)
		assert.Equal(t, http.StatusGone, r.status)
		assert.Contains(t, string(r.body), `class="result used"`)
		assert.Equal(t, core.StatusVerified, e.verification(t, e.a, id).Status)

		r = e.api(t, c, "GET", "/api/v1/verifications/"+id, nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "verified", r.JSON(t)["status"])
		assert.NotContains(t, r.JSON(t), "tech_code", "the technician code is only in the start response")

		// A link mangled by a mail client reaches no route; the token must
		// still stay out of the logs.
		for _, p := range []string{path + "/", path + "/extra", path + "/x/y"} {
			r = e.do(t, browser, "GET", p, "", nil, nil)
			assert.Equal(t, http.StatusNotFound, r.status, p)
			assert.NotContains(t, string(r.body), token, p)
			r = e.do(t, browser, "DELETE", p, "", nil, nil)
			assert.Equal(t, http.StatusNotFound, r.status, p)
		}
		r = e.do(t, browser, "DELETE", path, "", nil, nil)
		assert.Equal(t, http.StatusMethodNotAllowed, r.status)

		e.assertLogsClean(t, token, techCode)
	})
}

// TestLinkDecline checks "This wasn't me" fails the verification.
func TestLinkDecline(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		c := e.login(t, e.a)
		id, techCode, path, token := e.startLink(t, c)
		browser := e.client(t)
		page := e.do(t, browser, "GET", path, "", nil, nil).body
		nonce := nonceFrom(t, page)

		r := e.form(t, browser, path, url.Values{"nonce": {nonce}, "action": {"decline"}, "presence": {presenceFrom(t, page)}}, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), `class="result declined"`)
		assert.Equal(t, core.StatusFailed, e.verification(t, e.a, id).Status)

		assert.Contains(t, string(r.body), "has been alerted")

		// Confirming afterwards does nothing; the page says the link was used.
		r = e.form(t, browser, path, url.Values{"nonce": {nonce}, "action": {"confirm"}, "code": {techCode}}, nil)
		assert.Equal(t, http.StatusGone, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), `class="result used"`)
		assert.Equal(t, core.StatusFailed, e.verification(t, e.a, id).Status)
		r = e.do(t, browser, "GET", path, "", nil, nil)
		assert.Equal(t, http.StatusOK, r.status)
		assert.Contains(t, string(r.body), `class="result used"`)
		r = e.api(t, c, "GET", "/api/v1/contacts/"+e.a.contact.ID, nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.NotEqual(t, "green", r.JSON(t)["shield"].(map[string]any)["state"])

		e.assertLogsClean(t, token, techCode)
	})
}

// TestLinkUnknownAndExpiredLookAlike checks that outsiders cannot tell an
// unknown link from an expired one, and that an expired link cannot be used.
func TestLinkUnknownAndExpiredLookAlike(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		c := e.login(t, e.a)
		id, techCode, path, token := e.startLink(t, c)
		browser := e.client(t)
		nonce := nonceFrom(t, e.do(t, browser, "GET", path, "", nil, nil).body)

		e.clk.Add(11 * time.Minute)
		expired := e.do(t, browser, "GET", path, "", nil, nil)
		require.Equal(t, http.StatusNotFound, expired.status)
		assertLinkHeaders(t, expired)
		assert.Contains(t, string(expired.body), "This link is not valid or has expired")
		assert.Contains(t, string(expired.body), `class="result invalid"`)
		assert.NotContains(t, string(expired.body), e.a.tenant.Name, "the invalid page names no tenant")
		assert.NotContains(t, string(expired.body), "/brand/", "the invalid page carries no brand")

		var b [32]byte
		_, _ = rand.Read(b[:])
		unknownToken := base64.RawURLEncoding.EncodeToString(b[:])
		for name, p := range map[string]string{
			"unknown token":  "/l/" + e.a.tenant.Slug + "/" + unknownToken,
			"unknown tenant": "/l/no-such-msp/" + token,
			"other tenant":   "/l/" + e.b.tenant.Slug + "/" + token,
			"long token":     "/l/" + e.a.tenant.Slug + "/" + strings.Repeat("A", 200),
		} {
			r := e.do(t, browser, "GET", p, "", nil, nil)
			assert.Equal(t, http.StatusNotFound, r.status, name)
			assert.Equal(t, string(expired.body), string(r.body), "%s: the page differs from an expired link's", name)
			assert.Equal(t, outsiderHeaders(expired.header), outsiderHeaders(r.header), "%s: the headers differ from an expired link's", name)
			h := e.do(t, browser, "HEAD", p, "", nil, nil)
			assert.Equal(t, http.StatusNotFound, h.status, name)
			assert.Empty(t, h.body)
			assert.Equal(t, outsiderHeaders(expired.header), outsiderHeaders(h.header), "%s: HEAD headers differ", name)
		}

		// The form of a page opened before expiry now gets the same page.
		r := e.form(t, browser, path, url.Values{"nonce": {nonce}, "action": {"confirm"}, "code": {techCode}}, nil)
		assert.Equal(t, http.StatusNotFound, r.status, "an expired link confirmed: %s", r.body)
		assert.Equal(t, string(expired.body), string(r.body))
		assert.NotEqual(t, core.StatusVerified, e.verification(t, e.a, id).Status)
		again := e.do(t, browser, "GET", path, "", nil, nil)
		assert.Equal(t, string(expired.body), string(again.body), "still the same page once the row reads expired")

		e.assertLogsClean(t, token, techCode)
	})
}

// outsiderHeaders returns the response headers an outsider compares: all
// but the date and the per-request id.
func outsiderHeaders(h http.Header) http.Header {
	c := h.Clone()
	c.Del("Date")
	c.Del("X-Request-Id")
	return c
}

// TestLinkCancelledAndLocked checks the pages of a link the help desk
// cancelled and of a link burned by wrong codes.
func TestLinkCancelledAndLocked(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	c := e.login(t, e.a)
	browser := e.client(t)

	id, techCode, path, _ := e.startLink(t, c)
	nonce := nonceFrom(t, e.do(t, browser, "GET", path, "", nil, nil).body)
	r := e.api(t, c, "POST", "/api/v1/verifications/"+id+"/cancel", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.do(t, browser, "GET", path, "", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	assertLinkHeaders(t, r)
	assert.Contains(t, string(r.body), `class="result cancelled"`)
	assert.Contains(t, string(r.body), "Acme IT withdrew this request, so this link no longer works. If Acme IT has sent you a newer message, use that one")
	assert.NotContains(t, string(r.body), `name="nonce"`)
	r = e.form(t, browser, path, url.Values{"nonce": {nonce}, "action": {"confirm"}, "code": {techCode}}, nil)
	assert.Equal(t, http.StatusGone, r.status)
	assert.Contains(t, string(r.body), `class="result cancelled"`)
	assert.Equal(t, core.StatusCancelled, e.verification(t, e.a, id).Status)

	id, techCode, path, _ = e.startLink(t, c)
	nonce = nonceFrom(t, e.do(t, browser, "GET", path, "", nil, nil).body)
	wrong := "000000"
	if techCode == wrong {
		wrong = "111111"
	}
	for i := 1; i < 5; i++ {
		r = e.form(t, browser, path, url.Values{"nonce": {nonce}, "action": {"confirm"}, "code": {wrong}}, nil)
		require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		assert.Contains(t, string(r.body), `aria-invalid="true"`)
		nonce = nonceFrom(t, r.body) // each page view's nonce answers once
	}
	r = e.form(t, browser, path, url.Values{"nonce": {nonce}, "action": {"confirm"}, "code": {wrong}}, nil)
	assert.Equal(t, http.StatusGone, r.status, "%s", r.body)
	assert.Contains(t, string(r.body), `class="result locked"`)
	r = e.do(t, browser, "GET", path, "", nil, nil)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, string(r.body), `class="result locked"`)
	r = e.form(t, browser, path, url.Values{"nonce": {nonce}, "action": {"confirm"}, "code": {techCode}}, nil)
	assert.Equal(t, http.StatusGone, r.status, "the right code no longer works")
	assert.Equal(t, core.StatusFailed, e.verification(t, e.a, id).Status)
}

// TestBrandCSS checks the tenant stylesheet: validated colours only, a
// readable text colour for the primary colour, and the page gradient.
func TestBrandCSS(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	ctx := t.Context()
	set := func(b core.Branding) string {
		t.Helper()
		tn := e.a.tenant
		tn.Branding = b
		require.NoError(t, e.st.Update(ctx, func(tx core.Tx) error { return tx.UpdateTenant(ctx, &tn) }))
		r := e.do(t, e.client(t), "GET", "/brand/"+tn.Slug+".css", "", nil, nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.Contains(t, r.header.Get("Content-Type"), "text/css")
		return string(r.body)
	}

	css := set(core.Branding{PrimaryColor: "#1f4e8c", AccentColor: "#2e7d32"})
	assert.Equal(t, ":root { --brand: #1f4e8c; --brand-fg: #ffffff; --accent: #2e7d32; --grad-from: #1f4e8c; --grad-to: #2e7d32; }\n", css)

	css = set(core.Branding{PrimaryColor: "#FFD400", GradientFrom: "#101010", GradientTo: "#fafafa"})
	assert.Equal(t, ":root { --brand: #FFD400; --brand-fg: #111111; --grad-from: #101010; --grad-to: #fafafa; }\n", css,
		"a light primary colour gets dark button text")

	css = set(core.Branding{PrimaryColor: "red; } body { display: none", GradientFrom: "url(//evil.example/x.png)", AccentColor: "#12345"})
	assert.Equal(t, ":root { }\n", css, "only #rrggbb colours reach the stylesheet")

	r := e.do(t, e.client(t), "GET", "/brand/no-such-msp.css", "", nil, nil)
	assert.Equal(t, http.StatusOK, r.status)
	assert.NotContains(t, string(r.body), "--brand")
}

// TestLinkPageLogo checks the tenant logo reaches the page as a data: URI,
// and only as a raster image.
func TestLinkPageLogo(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	ctx := t.Context()
	c := e.login(t, e.a)
	_, _, path, _ := e.startLink(t, c)
	for _, tc := range []struct {
		logo string
		want bool
	}{
		{logo: "data:image/png;base64,iVBORw0KGgo=", want: true},
		{logo: "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=", want: false},
		{logo: "https://cdn.example/logo.png", want: false},
		{logo: `data:image/png;base64,AA" onerror="alert(1)`, want: false},
	} {
		tn := e.a.tenant
		tn.Branding.LogoDataURI = tc.logo
		require.NoError(t, e.st.Update(ctx, func(tx core.Tx) error { return tx.UpdateTenant(ctx, &tn) }))
		r := e.do(t, e.client(t), "GET", path, "", nil, nil)
		require.Equal(t, http.StatusOK, r.status)
		img := `<img class="eu-logo" src="` + tc.logo + `" alt="">`
		if tc.want {
			assert.Contains(t, string(r.body), img)
		} else {
			assert.NotContains(t, string(r.body), "eu-logo", tc.logo)
		}
		assert.NotContains(t, string(r.body), "ZgotmplZ", "html/template refused a URL")
		assertNoThirdParty(t, r.body)
	}
}

// TestTwilioStatusWebhook checks that only correctly signed status callbacks
// change a verification's delivery status.
func TestTwilioStatusWebhook(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		c := e.login(t, e.a)
		r := e.api(t, c, "POST", "/api/v1/verifications", map[string]string{"contact_id": e.a.contact.ID, "method": "sms_code"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		id := r.JSON(t)["id"].(string)
		e.deliver(t)
		msg, ref := e.sms.last(t)
		code := codeIn(t, msg)
		initial := e.verification(t, e.a, id)
		require.Equal(t, ref, initial.ProviderRef)
		require.NotEqual(t, "delivered", initial.DeliveryStatus)

		path := "/webhooks/twilio/status/" + e.a.tenant.Slug
		signedURL := publicURL + path
		params := url.Values{"MessageSid": {ref}, "MessageStatus": {"delivered"}, "AccountSid": {"AC0123456789abcdef0123456789abcdef"},
			"To": {"+15550100142"}, "From": {"+15550009999"}}
		sig := twiliotest.SignRequest(signedURL, params, twilioToken)
		changed := func(k, v string) url.Values {
			p := url.Values{}
			for key, vals := range params {
				p[key] = append([]string(nil), vals...)
			}
			p.Set(k, v)
			return p
		}

		bad := []struct {
			name string
			sent url.Values
			sig  string
		}{
			{name: "no signature", sent: params},
			{name: "garbage signature", sent: params, sig: "bm90IGEgc2lnbmF0dXJl"},
			{name: "wrong token", sent: params, sig: twiliotest.SignRequest(signedURL, params, "another-token")},
			{name: "changed status", sent: changed("MessageStatus", "failed"), sig: sig},
			{name: "changed sid", sent: changed("MessageSid", "SMdeadbeef"), sig: sig},
			{name: "added param", sent: changed("ErrorCode", "30003"), sig: sig},
			{name: "other host", sent: params, sig: twiliotest.SignRequest("http://evil.example"+path, params, twilioToken)},
			{name: "httptest host", sent: params, sig: twiliotest.SignRequest(e.srv.URL+path, params, twilioToken)},
			{name: "other account", sent: changed("AccountSid", "ACffffffffffffffffffffffffffffffff"),
				sig: twiliotest.SignRequest(signedURL, changed("AccountSid", "ACffffffffffffffffffffffffffffffff"), twilioToken)},
			{name: "other tenant path", sent: params, sig: twiliotest.SignRequest(publicURL+"/webhooks/twilio/status/"+e.b.tenant.Slug, params, twilioToken)},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				before := e.state(t)
				hdr := map[string]string{}
				if tc.sig != "" {
					hdr[twilio.SignatureHeader] = tc.sig
				}
				r := e.form(t, e.client(t), path, tc.sent, hdr)
				assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
				assert.NotContains(t, string(r.body), ref)
				assert.Equal(t, before, e.state(t), "a badly signed callback changed the store")
				assert.Equal(t, initial.DeliveryStatus, e.verification(t, e.a, id).DeliveryStatus)
			})
		}
		logs := e.logs.String()
		assert.Regexp(t, `bad signature.*path=`+regexp.QuoteMeta(path), logs, "a refused callback must be logged with its path")
		assert.NotContains(t, logs, "MessageStatus", "request bodies must not be logged")

		t.Run("wrong content type", func(t *testing.T) {
			r := e.do(t, e.client(t), "POST", path, "application/json", `{"MessageSid":"`+ref+`"}`,
				map[string]string{twilio.SignatureHeader: sig})
			assert.Equal(t, http.StatusUnsupportedMediaType, r.status)
			assert.Equal(t, initial.DeliveryStatus, e.verification(t, e.a, id).DeliveryStatus)
		})
		t.Run("GET not allowed", func(t *testing.T) {
			r := e.do(t, e.client(t), "GET", path+"?"+params.Encode(), "", nil, map[string]string{twilio.SignatureHeader: sig})
			assert.Equal(t, http.StatusMethodNotAllowed, r.status)
		})

		r = e.form(t, e.client(t), path, params, map[string]string{twilio.SignatureHeader: sig})
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		assert.Equal(t, "delivered", e.verification(t, e.a, id).DeliveryStatus)
		r = e.api(t, c, "GET", "/api/v1/verifications/"+id, nil)
		assert.Equal(t, "delivered", r.JSON(t)["delivery_status"])

		// A replay changes nothing more; a late "sent" does not move it back.
		before := e.state(t)
		r = e.form(t, e.client(t), path, params, map[string]string{twilio.SignatureHeader: sig})
		assert.Equal(t, http.StatusNoContent, r.status)
		assert.Equal(t, before, e.state(t))
		sent := changed("MessageStatus", "sent")
		r = e.form(t, e.client(t), path, sent, map[string]string{twilio.SignatureHeader: twiliotest.SignRequest(signedURL, sent, twilioToken)})
		assert.Equal(t, http.StatusNoContent, r.status)
		assert.Equal(t, "delivered", e.verification(t, e.a, id).DeliveryStatus)

		// The other tenant's slug cannot reach this tenant's message.
		otherPath := "/webhooks/twilio/status/" + e.b.tenant.Slug
		failed := changed("MessageStatus", "failed")
		r = e.form(t, e.client(t), otherPath, failed,
			map[string]string{twilio.SignatureHeader: twiliotest.SignRequest(publicURL+otherPath, failed, twilioToken)})
		assert.Equal(t, http.StatusNoContent, r.status, "signed but not ours: acknowledged")
		assert.Equal(t, "delivered", e.verification(t, e.a, id).DeliveryStatus)

		e.assertLogsClean(t, code)
	})
}

// TestOpsEndpoints checks health, readiness and metrics.
func TestOpsEndpoints(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		c := e.client(t)
		r := e.do(t, c, "GET", "/healthz", "", nil, nil)
		assert.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "ok", r.JSON(t)["status"])
		r = e.do(t, c, "GET", "/readyz", "", nil, nil)
		assert.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "ready", r.JSON(t)["status"])

		bearer := map[string]string{"Authorization": "Bearer " + metricsToken}
		r = e.do(t, c, "GET", "/metrics", "", nil, bearer)
		require.Equal(t, http.StatusOK, r.status)
		assert.NotContains(t, string(r.body), "countersign_verifications_total{", "no verification yet")
		// Issue 9 item 8: without the token /metrics shows nothing.
		for _, h := range []map[string]string{nil, {"Authorization": "Bearer wrong"}, {"Authorization": metricsToken}} {
			r = e.do(t, c, "GET", "/metrics", "", nil, h)
			assert.Equal(t, http.StatusUnauthorized, r.status)
			assert.NotContains(t, string(r.body), "countersign_")
		}
		noToken := newEnv(t, st, envOptions{metricsToken: "-"})
		r = noToken.do(t, noToken.client(t), "GET", "/metrics", "", nil, bearer)
		assert.Equal(t, http.StatusNotFound, r.status, "without a token, /metrics is only on cmd's own listener")

		tc := e.login(t, e.a)
		r = e.api(t, tc, "POST", "/api/v1/verifications", map[string]string{"contact_id": e.a.contact.ID, "method": "sms_code"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)

		r = e.do(t, c, "GET", "/metrics", "", nil, bearer)
		require.Equal(t, http.StatusOK, r.status)
		assert.Contains(t, string(r.body), `countersign_verifications_total{method="sms_code",outcome="started"} 1`)

		e.eng.Wait()
		require.NoError(t, st.Close())
		r = e.do(t, c, "GET", "/readyz", "", nil, nil)
		assert.Equal(t, http.StatusServiceUnavailable, r.status, "readyz must notice a dead database")
		r = e.do(t, c, "GET", "/healthz", "", nil, nil)
		assert.Equal(t, http.StatusOK, r.status, "the process is still up")
	})
}

// TestConsolePages checks the server-rendered console shells.
func TestConsolePages(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	c := e.client(t)

	r := e.do(t, c, "GET", "/", "", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, r.header.Get("Content-Type"), "text/html")
	assert.Contains(t, string(r.body), `type="password"`)
	assert.Contains(t, r.header.Get("Content-Security-Policy"), "default-src 'self'")
	assert.Equal(t, "DENY", r.header.Get("X-Frame-Options"))
	assertNoThirdParty(t, r.body)

	for _, p := range []string{"/app", "/app/outbox"} {
		r = e.do(t, c, "GET", p, "", nil, nil)
		assert.Equal(t, http.StatusSeeOther, r.status, p)
		assert.Equal(t, "/", r.header.Get("Location"), p)
	}

	signed := e.login(t, e.a)
	r = e.do(t, signed, "GET", "/", "", nil, nil)
	assert.Equal(t, http.StatusSeeOther, r.status)
	assert.Equal(t, "/app", r.header.Get("Location"))
	r = e.do(t, signed, "GET", "/app", "", nil, nil)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, r.header.Get("Content-Type"), "text/html")

	r = e.do(t, c, "GET", "/brand/"+e.a.tenant.Slug+".css", "", nil, nil)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, r.header.Get("Content-Type"), "text/css")
}

// Issue 9 item 8: with an https public URL every response carries HSTS;
// with http (a loopback demo) none does, since browsers would then refuse
// the plain address for a year.
func TestHSTSOnlyForHTTPSPublicURL(t *testing.T) {
	st := storetest.Open(t, store.SQLite)
	for _, tc := range []struct {
		url  string
		want string
	}{{"https://verify.acme.example", "max-age=31536000"}, {publicURL, ""}} {
		e := newEnv(t, st, envOptions{publicURL: tc.url})
		for _, path := range []string{"/healthz", "/login", "/l/acme/abc"} {
			r := e.do(t, e.client(t), "GET", path, "", nil, nil)
			assert.Equal(t, tc.want, r.header.Get("Strict-Transport-Security"), "%s %s", tc.url, path)
		}
	}
}
