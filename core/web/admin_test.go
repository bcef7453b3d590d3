package web_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// setRole gives tenant d's seeded technician role.
func (e *env) setRole(t *testing.T, d *tenantData, role core.Role) {
	t.Helper()
	k := d.kit()
	e.kit.SetRole(t, &k, role)
	d.tech.Role = role
}

// techChanged announces a technician's row written straight to the store,
// as the engine does after its own writes, so that the server's cache of
// signed-in technicians drops it (on PostgreSQL a second node would hear
// the database's trigger; this server listens to no bridge).
func (e *env) techChanged(d tenantData, id string) {
	e.hub.Publish(context.Background(), core.Event{Type: core.EventTechnicianChanged, TenantID: d.tenant.ID, TechnicianID: id})
}

// addTech creates another technician of tenant d who signs in with password.
func (e *env) addTech(t *testing.T, d tenantData, name, email string, role core.Role) core.Technician {
	t.Helper()
	ctx := t.Context()
	tech := core.Technician{ID: core.NewID("tec"), TenantID: d.tenant.ID, Email: email, Name: name, Role: role,
		PasswordHash: cheapHash(password), CreatedAt: e.clk.Now()}
	require.NoError(t, e.st.Update(ctx, func(tx core.Tx) error { return tx.CreateTechnician(ctx, &tech) }))
	return tech
}

// loginAs returns a client signed in to tenant d as email with pw.
func (e *env) loginAs(t *testing.T, d tenantData, email, pw string) *http.Client {
	t.Helper()
	c := e.client(t)
	r := e.api(t, c, http.MethodPost, "/api/v1/login", map[string]string{"tenant": d.tenant.Slug, "email": email, "password": pw})
	require.Equal(t, http.StatusOK, r.status, "login %s: %s", email, r.body)
	return c
}

// adminState is what the admin API may change, for both tenants.
type adminState struct {
	Tenants     map[string]core.Tenant
	Technicians map[string][]core.Technician
	Policies    map[string]string // tenant/scope → policy JSON or "none"
	AuditSeq    map[string]int64
}

func (e *env) adminState(t *testing.T) adminState {
	t.Helper()
	ctx := t.Context()
	s := adminState{Tenants: map[string]core.Tenant{}, Technicians: map[string][]core.Technician{},
		Policies: map[string]string{}, AuditSeq: map[string]int64{}}
	require.NoError(t, e.st.View(ctx, func(tx core.Tx) error {
		for _, d := range []tenantData{e.a, e.b} {
			tn, err := tx.Tenant(ctx, d.tenant.ID)
			if err != nil {
				return err
			}
			s.Tenants[tn.ID] = tn
			if s.Technicians[tn.ID], err = tx.ListTechnicians(ctx, tn.ID); err != nil {
				return err
			}
			for _, scope := range []string{"", d.client.ID} {
				p, err := tx.Policy(ctx, tn.ID, scope)
				key := tn.ID + "/" + scope
				switch {
				case err == nil:
					s.Policies[key] = string(mustJSON(t, p))
				case core.ErrorKind(err) == core.KindNotFound:
					s.Policies[key] = "none"
				default:
					return err
				}
			}
			if s.AuditSeq[tn.ID], _, err = tx.AuditHead(ctx, tn.ID); err != nil {
				return err
			}
		}
		return nil
	}))
	return s
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// auditActions returns tenant d's audit actions in order.
func (e *env) auditActions(t *testing.T, d tenantData) []string {
	t.Helper()
	var out []string
	require.NoError(t, e.st.View(t.Context(), func(tx core.Tx) error {
		evs, err := tx.AuditEvents(t.Context(), d.tenant.ID, core.AuditQuery{})
		for _, ev := range evs {
			out = append(out, ev.Action)
		}
		return err
	}))
	return out
}

func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{R: 200, A: 255})
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

var inlineScript = regexp.MustCompile(`(?i)<script(\s[^>]*)?>[^<]`)

// TestAdminPages checks the admin pages: rendered for owners and admins,
// a clear 403 page for technicians, the sign-in page for strangers.
func TestAdminPages(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	e.setRole(t, &e.a, core.RoleAdmin)
	admin := e.login(t, e.a)
	e.addTech(t, e.a, "Tom Tech", "tom@acme.example", core.RoleTechnician)
	tech := e.loginAs(t, e.a, "tom@acme.example", password)
	stranger := e.client(t)

	pages := map[string]string{
		"/app/admin/policies":    `id="policy-form"`,
		"/app/admin/branding":    `id="brand-form"`,
		"/app/admin/technicians": `id="tech-form"`,
		"/app/admin/audit":       `id="audit-filter"`,
	}
	for path, marker := range pages {
		t.Run(path, func(t *testing.T) {
			r := e.do(t, admin, "GET", path, "", nil, nil)
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)
			body := string(r.body)
			assert.Contains(t, r.header.Get("Content-Type"), "text/html")
			assert.Contains(t, r.header.Get("Content-Security-Policy"), "script-src 'self'")
			assert.Contains(t, body, marker)
			assert.Contains(t, body, `aria-current="page"`, "the nav marks the page")
			assert.Contains(t, body, `id="logout"`)
			assert.Contains(t, body, `href="/app/admin/technicians"`, "admins see the admin links")
			assert.NotRegexp(t, inlineScript, body, "no inline scripts")
			assert.NotContains(t, body, ` style="`, "no inline styles")
			assert.NotContains(t, body, `onclick`, "no inline handlers")
			// Every input, select and textarea has a label.
			for _, m := range regexp.MustCompile(`<(?:input|select|textarea)[^>]*\sid="([^"]+)"`).FindAllStringSubmatch(body, -1) {
				assert.Contains(t, body, `for="`+m[1]+`"`, "%s has no label", m[1])
			}

			r = e.do(t, tech, "GET", path, "", nil, nil)
			assert.Equal(t, http.StatusForbidden, r.status)
			assert.Contains(t, string(r.body), "owner or admin")
			assert.NotContains(t, string(r.body), `href="/app/admin/`, "technicians see no admin links")
			assert.NotContains(t, string(r.body), marker)

			r = e.do(t, stranger, "GET", path, "", nil, nil)
			assert.Equal(t, http.StatusSeeOther, r.status)
			assert.Equal(t, "/", r.header.Get("Location"))
		})
	}

	r := e.do(t, admin, "GET", "/app/admin", "", nil, nil)
	assert.Equal(t, http.StatusSeeOther, r.status)
	assert.Equal(t, "/app/admin/policies", r.header.Get("Location"))

	// The shared nav on the contacts page.
	r = e.do(t, admin, "GET", "/app", "", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, string(r.body), `href="/app/admin/policies"`)
	r = e.do(t, tech, "GET", "/app", "", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.NotContains(t, string(r.body), `href="/app/admin/`)
	assert.Contains(t, string(r.body), `id="logout"`)

	// Static files the pages load exist.
	for _, f := range []string{"admin.css", "admin.js", "admin-policies.js", "admin-branding.js", "admin-technicians.js", "admin-audit.js"} {
		r = e.do(t, stranger, "GET", "/static/"+f, "", nil, nil)
		assert.Equal(t, http.StatusOK, r.status, f)
		assert.NotContains(t, string(r.body), "innerHTML", "%s must set text, never HTML", f)
	}
}

// TestAdminPolicies round-trips the tenant default and a client override.
func TestAdminPolicies(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.setRole(t, &e.a, core.RoleOwner)
		c := e.login(t, e.a)

		r := e.api(t, c, "GET", "/api/v1/admin/policies", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		m := r.JSON(t)
		assert.Equal(t, "5m0s", m["default"].(map[string]any)["lifetime"])
		clients := m["clients"].([]any)
		require.Len(t, clients, 1, "only the tenant's own clients")
		assert.Equal(t, map[string]any{"id": e.a.client.ID, "name": "Contoso", "override": false}, clients[0])
		assert.Len(t, m["methods"], 5)

		banner := `<script>alert(1)</script> Call back on the number on file`
		def := map[string]any{"methods": []string{"sms_code", "email_link"}, "code_digits": 8, "lifetime": "3m",
			"banner": banner, "show_on_load": true, "note_on_non_default": true, "note_required": true,
			"limits": map[string]int{"per_contact_hour": 4}}
		r = e.api(t, c, "PUT", "/api/v1/admin/policies/default", def)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.NotContains(t, string(r.body), "<script>", "JSON escapes markup")
		p, err := e.eng.Policy(t.Context(), e.a.tenant.ID, "")
		require.NoError(t, err)
		assert.Equal(t, banner, p.Banner, "stored as typed")
		assert.True(t, p.ShowOnLoad)
		assert.Equal(t, 8, p.CodeDigits)
		assert.Equal(t, 4, p.Limits.PerContactHour)
		assert.Equal(t, []core.Method{core.MethodSMSCode, core.MethodEmailLink}, p.Methods)

		// The client follows the default until it gets its own policy.
		r = e.api(t, c, "GET", "/api/v1/admin/policies/"+e.a.client.ID, nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, false, r.JSON(t)["override"])
		assert.Equal(t, float64(8), r.JSON(t)["policy"].(map[string]any)["code_digits"])

		r = e.api(t, c, "PUT", "/api/v1/admin/policies/"+e.a.client.ID, map[string]any{"code_digits": 7, "banner": "VIP client"})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, true, r.JSON(t)["override"])
		p, err = e.eng.Policy(t.Context(), e.a.tenant.ID, e.a.client.ID)
		require.NoError(t, err)
		assert.Equal(t, 7, p.CodeDigits)
		assert.Equal(t, "VIP client", p.Banner)
		r = e.api(t, c, "GET", "/api/v1/admin/policies", nil)
		assert.Equal(t, true, r.JSON(t)["clients"].([]any)[0].(map[string]any)["override"])

		// Deleting the override falls back to the default.
		r = e.api(t, c, "DELETE", "/api/v1/admin/policies/"+e.a.client.ID, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, false, r.JSON(t)["override"])
		p, err = e.eng.Policy(t.Context(), e.a.tenant.ID, e.a.client.ID)
		require.NoError(t, err)
		assert.Equal(t, 8, p.CodeDigits)
		assert.Equal(t, banner, p.Banner)

		r = e.api(t, c, "DELETE", "/api/v1/admin/policies/"+e.a.client.ID, nil)
		assert.Equal(t, http.StatusNotFound, r.status)
		assert.Contains(t, r.JSON(t)["error"], "no policy of its own")

		assert.Equal(t, []string{"policy.updated", "policy.updated", "policy.deleted"}, e.auditActions(t, e.a)[2:],
			"every change is audited (after the seeded contact and the sign-in)")
	})
}

// TestAdminPolicyPushLimits: the push limits of a policy go through the
// admin API within the engine's bounds (stricter than security.md §4's
// defaults, never looser); a value out of bounds is a 400 naming the field
// and changes nothing, and the policies page carries the fields (issue 19.5).
func TestAdminPolicyPushLimits(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.setRole(t, &e.a, core.RoleAdmin)
		c := e.login(t, e.a)
		scope := "/api/v1/admin/policies/" + e.a.client.ID

		r := e.api(t, c, "GET", "/api/v1/admin/policies/default", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, map[string]any{"per_contact_15m": float64(3), "per_contact_day": float64(10), "per_technician_hour": float64(20),
			"denied_block": "24h0m0s"}, r.JSON(t)["policy"].(map[string]any)["push"], "the defaults are shown")

		for _, tc := range []struct {
			push map[string]any
			want string
		}{
			{map[string]any{"per_contact_15m": 4}, "pushes per user in 15 minutes must be 1 to 3, not 4"},
			{map[string]any{"per_contact_15m": -1}, "pushes per user in 15 minutes must be 1 to 3, not -1"},
			{map[string]any{"per_contact_day": 11}, "pushes per user in 24 hours must be 1 to 10, not 11"},
			{map[string]any{"per_technician_hour": 31}, "pushes per technician in an hour must be 1 to 30, not 31"},
			{map[string]any{"denied_block": "12h"}, "the block after a denied push must be between 24h and 168h, not 12h0m0s"},
			{map[string]any{"denied_block": "169h"}, "between 24h and 168h, not 169h0m0s"},
			{map[string]any{"denied_block": "soon"}, `bad duration "soon"`},
		} {
			r = e.api(t, c, "PUT", scope, map[string]any{"push": tc.push})
			assert.Equal(t, http.StatusBadRequest, r.status, "%v: %s", tc.push, r.body)
			assert.Contains(t, r.JSON(t)["error"], tc.want, "%v", tc.push)
		}
		_, override, err := e.eng.PolicyScope(t.Context(), e.a.tenant.ID, e.a.client.ID)
		require.NoError(t, err)
		assert.False(t, override, "nothing out of bounds was stored")

		r = e.api(t, c, "PUT", scope, map[string]any{"push": map[string]any{"per_contact_15m": 1, "per_contact_day": 5,
			"per_technician_hour": 30, "denied_block": "48h"}})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		p, err := e.eng.Policy(t.Context(), e.a.tenant.ID, e.a.client.ID)
		require.NoError(t, err)
		assert.Equal(t, core.PushLimits{PerContact15m: 1, PerContactDay: 5, PerTechnicianHour: 30, DeniedBlock: core.Duration(48 * time.Hour)}, p.Push)
		assert.Equal(t, "48h0m0s", r.JSON(t)["policy"].(map[string]any)["push"].(map[string]any)["denied_block"])

		// Zero is the default.
		r = e.api(t, c, "PUT", scope, map[string]any{"push": map[string]any{"per_contact_15m": 0}})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		p, err = e.eng.Policy(t.Context(), e.a.tenant.ID, e.a.client.ID)
		require.NoError(t, err)
		assert.Equal(t, core.DefaultPolicy().Push, p.Push)

		r = e.do(t, c, "GET", "/app/admin/policies", "", nil, nil)
		require.Equal(t, http.StatusOK, r.status)
		for _, id := range []string{"pol-push-contact-15m", "pol-push-contact-day", "pol-push-technician-hour", "pol-push-denied-block"} {
			assert.Contains(t, string(r.body), `id="`+id+`"`)
		}
	})
}

// TestAdminBranding round-trips branding text and the logo.
func TestAdminBranding(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.setRole(t, &e.a, core.RoleAdmin)
		c := e.login(t, e.a)

		in := map[string]string{"sender_name": `Acme <script>alert(1)</script>`, "primary_color": "#112233", "accent_color": "#445566",
			"gradient_from": "#000000", "gradient_to": "#FFFFFF", "support_phone": "+1 (555) 010-0100"}
		r := e.api(t, c, "PUT", "/api/v1/admin/branding", in)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.NotContains(t, string(r.body), "<script>")
		r = e.api(t, c, "GET", "/api/v1/admin/branding", nil)
		require.Equal(t, http.StatusOK, r.status)
		m := r.JSON(t)
		for k, v := range in {
			assert.Equal(t, v, m[k], k)
		}
		assert.Equal(t, "Acme IT", m["tenant_name"])
		tn := e.adminState(t).Tenants[e.a.tenant.ID]
		assert.Equal(t, "#000000", tn.Branding.GradientFrom)
		assert.Equal(t, "#FFFFFF", tn.Branding.GradientTo)

		// Logos: PNG, JPEG, GIF and WebP by content, whatever the browser says.
		var jpg, gf bytes.Buffer
		img := image.NewRGBA(image.Rect(0, 0, 8, 8))
		require.NoError(t, jpeg.Encode(&jpg, img, nil))
		require.NoError(t, gif.Encode(&gf, img, nil))
		webp := append([]byte("RIFF\x24\x00\x00\x00WEBPVP8L\x18\x00\x00\x00"), bytes.Repeat([]byte{0}, 32)...)
		for _, lg := range []struct {
			name, ct, want string
			body           []byte
		}{
			{"png", "image/png", "image/png", testPNG(t, 40, 20)},
			{"jpeg", "application/octet-stream", "image/jpeg", jpg.Bytes()},
			{"gif", "", "image/gif", gf.Bytes()},
			{"webp", "image/webp", "image/webp", webp},
		} {
			r = e.do(t, c, "PUT", "/api/v1/admin/branding/logo", lg.ct, lg.body, nil)
			require.Equal(t, http.StatusOK, r.status, "%s: %s", lg.name, r.body)
			assert.True(t, strings.HasPrefix(r.JSON(t)["logo"].(string), "data:"+lg.want+";base64,"), lg.name)
		}
		tn = e.adminState(t).Tenants[e.a.tenant.ID]
		assert.True(t, strings.HasPrefix(tn.Branding.LogoDataURI, "data:image/webp;base64,"))
		assert.Equal(t, "#112233", tn.Branding.PrimaryColor, "the logo leaves the rest alone")

		r = e.api(t, c, "DELETE", "/api/v1/admin/branding/logo", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Empty(t, r.JSON(t)["logo"])
		r = e.api(t, c, "DELETE", "/api/v1/admin/branding/logo", nil)
		assert.Equal(t, http.StatusNotFound, r.status)

		assert.Equal(t, []string{"branding.updated", "branding.logo_updated", "branding.logo_updated", "branding.logo_updated",
			"branding.logo_updated", "branding.logo_removed"}, e.auditActions(t, e.a)[2:])
	})
}

// TestAdminMessageTemplates saves a tenant template, previews it, and
// checks a real send uses it until it is reset.
func TestAdminMessageTemplates(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	e.setRole(t, &e.a, core.RoleAdmin)
	c := e.login(t, e.a)

	r := e.api(t, c, "GET", "/api/v1/admin/messages", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	msgs := r.JSON(t)["messages"].([]any)
	require.Len(t, msgs, len(assets.MessageNames)+len(assets.NoticeNames), "the verification messages and the SMS opt-in form's (issue 18 item 4), then the password notices")
	first := msgs[0].(map[string]any)
	assert.Equal(t, "verification", first["group"])
	assert.Equal(t, "notice", msgs[len(assets.MessageNames)].(map[string]any)["group"])
	assert.Equal(t, "sms_code", first["name"])
	assert.Nil(t, first["custom"])
	assert.Contains(t, first["default"].(map[string]any)["body"], "{{.Code}}")
	assert.Equal(t, "{{.Code}}", first["needs"])

	// Preview: built-in when empty, the draft otherwise; nothing is stored.
	before := e.adminState(t)
	r = e.api(t, c, "POST", "/api/v1/admin/messages/sms_code/preview", map[string]string{"body": ""})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Contains(t, r.JSON(t)["text"], "Acme IT code 482913")
	assert.True(t, strings.HasSuffix(r.JSON(t)["text"].(string), " Reply STOP to opt out."), "%s", r.body)
	assert.Equal(t, float64(2), r.JSON(t)["segments"], "the first text with the opt-out notice takes two segments")
	assert.NotContains(t, r.JSON(t)["later"], "STOP")
	body := "{{gsm .TenantName}}: your code is {{.Code}}{{with .TicketRef}} (ticket {{.}}){{end}}. <b>Only you</b>."
	r = e.api(t, c, "POST", "/api/v1/admin/messages/sms_code/preview", map[string]string{"body": body})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "Acme IT: your code is 482913 (ticket 48213). <b>Only you</b>. Reply STOP to opt out.", r.JSON(t)["text"], "the first text has the opt-out notice")
	assert.Equal(t, "Acme IT: your code is 482913 (ticket 48213). <b>Only you</b>.", r.JSON(t)["later"])
	r = e.api(t, c, "POST", "/api/v1/admin/messages/sms_code/preview", map[string]string{"body": "no code"})
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Contains(t, r.JSON(t)["error"], "{{.Code}}")
	assert.Equal(t, before, e.adminState(t), "previews change nothing")

	r = e.api(t, c, "PUT", "/api/v1/admin/messages/sms_code", map[string]string{"body": body})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.api(t, c, "PUT", "/api/v1/admin/messages/email_link", map[string]string{
		"subject": "Confirm your call with {{.TenantName}}", "body": "Hi {{.ContactName}} <script>alert(1)</script>\n\nOpen {{.Link}}"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.api(t, c, "GET", "/api/v1/admin/messages", nil)
	custom := r.JSON(t)["messages"].([]any)[0].(map[string]any)["custom"]
	assert.Equal(t, map[string]any{"body": body}, custom)

	// A real send uses the tenant's template.
	r = e.api(t, c, "POST", "/api/v1/verifications", map[string]string{"contact_id": e.a.contact.ID, "method": "sms_code", "ticket_ref": "77"})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	e.deliver(t)
	msg, _ := e.sms.last(t)
	code := codeIn(t, msg)
	assert.Equal(t, "Acme IT: your code is "+code+" (ticket 77). <b>Only you</b>. Reply STOP to opt out.", msg.Text)

	r = e.api(t, c, "POST", "/api/v1/verifications", map[string]string{"contact_id": e.a.contact.ID, "method": "email_link"})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	e.deliver(t)
	mail, _ := e.mail.last(t)
	assert.Equal(t, "Confirm your call with Acme IT", mail.Subject)
	assert.Contains(t, mail.Text, "<script>alert(1)</script>", "plain text stays as typed")
	assert.NotContains(t, mail.HTML, "<script>", "the HTML part escapes it")
	linkPathIn(t, mail)

	// The other tenant keeps the built-in wording.
	_, err := e.eng.Start(t.Context(), core.StartRequest{TenantID: e.b.tenant.ID, TechnicianID: e.b.tech.ID,
		ContactID: e.b.contact.ID, Method: core.MethodSMSCode})
	require.NoError(t, err)
	e.deliver(t)
	msg, _ = e.sms.last(t)
	assert.Contains(t, msg.Text, "Other MSP code")

	// Reset: back to the built-in template.
	r = e.api(t, c, "DELETE", "/api/v1/admin/messages/sms_code", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.api(t, c, "DELETE", "/api/v1/admin/messages/sms_code", nil)
	assert.Equal(t, http.StatusNotFound, r.status)
	e.clk.Add(20 * 60 * 1e9) // past the resend quota window of the first send
	r = e.api(t, c, "POST", "/api/v1/verifications", map[string]string{"contact_id": e.a.contact.ID, "method": "sms_code"})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	e.deliver(t)
	msg, _ = e.sms.last(t)
	assert.Contains(t, msg.Text, "Acme IT code")

	actions := e.auditActions(t, e.a)
	assert.Contains(t, actions, "message_template.updated")
	assert.Contains(t, actions, "message_template.reset")
}

// TestAdminTechnicians covers adding technicians, roles and passwords, and
// the rules that keep an owner in charge.
func TestAdminTechnicians(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.setRole(t, &e.a, core.RoleOwner)
		owner := e.login(t, e.a)

		// A generated one-time password, returned once, works for sign-in.
		r := e.api(t, owner, "POST", "/api/v1/admin/technicians", map[string]string{
			"name": "Ada Admin", "email": "Ada@Acme.example", "role": "admin"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		m := r.JSON(t)
		pw, _ := m["password"].(string)
		require.Len(t, pw, 26)
		ada := m["technician"].(map[string]any)
		adaID := ada["id"].(string)
		assert.Equal(t, "ada@acme.example", ada["email"], "email normalised")
		assert.NotContains(t, e.logs.String(), pw, "the password is not logged")
		admin := e.loginAs(t, e.a, "ada@acme.example", pw)

		r = e.api(t, owner, "GET", "/api/v1/admin/technicians", nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.NotContains(t, string(r.body), pw)
		assert.NotContains(t, string(r.body), "argon2", "hashes stay inside")
		assert.Len(t, r.JSON(t)["technicians"], 2)

		// A chosen password.
		r = e.api(t, admin, "POST", "/api/v1/admin/technicians", map[string]string{
			"name": "Tom Tech", "email": "tom@acme.example", "role": "technician", "password": "a long enough password"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		assert.Nil(t, r.JSON(t)["password"], "a chosen password is not echoed")
		tomID := r.JSON(t)["technician"].(map[string]any)["id"].(string)
		tom := e.loginAs(t, e.a, "tom@acme.example", "a long enough password")
		assert.Equal(t, http.StatusForbidden, e.api(t, tom, "GET", "/api/v1/admin/technicians", nil).status)

		// Promotion applies at once.
		r = e.api(t, admin, "PUT", "/api/v1/admin/technicians/"+tomID, map[string]string{"role": "admin"})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, http.StatusOK, e.api(t, tom, "GET", "/api/v1/admin/technicians", nil).status)
		r = e.api(t, admin, "PUT", "/api/v1/admin/technicians/"+tomID, map[string]string{"role": "technician", "name": "Tom T."})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, http.StatusForbidden, e.api(t, tom, "GET", "/api/v1/admin/technicians", nil).status)

		refusals := []struct {
			name   string
			c      *http.Client
			method string
			path   string
			body   any
			status int
			msg    string
		}{
			{"own role", owner, "PUT", "/api/v1/admin/technicians/" + e.a.tech.ID, map[string]string{"role": "admin"}, 403, "your own role"},
			{"admin demotes owner", admin, "PUT", "/api/v1/admin/technicians/" + e.a.tech.ID, map[string]string{"role": "technician"}, 403, "only an owner"},
			{"admin makes an owner", admin, "PUT", "/api/v1/admin/technicians/" + tomID, map[string]string{"role": "owner"}, 403, "only an owner"},
			{"admin adds an owner", admin, "POST", "/api/v1/admin/technicians", map[string]string{"name": "X", "email": "x@acme.example", "role": "owner"}, 403, "only an owner"},
			{"admin resets owner's password", admin, "POST", "/api/v1/admin/technicians/" + e.a.tech.ID + "/password", map[string]string{}, 403, "only an owner"},
			{"duplicate email", owner, "POST", "/api/v1/admin/technicians", map[string]string{"name": "Ada 2", "email": "ADA@acme.example", "role": "technician"}, 409, "already exists"},
			{"unknown role", owner, "POST", "/api/v1/admin/technicians", map[string]string{"name": "Y", "email": "y@acme.example", "role": "god"}, 400, "unknown role"},
			{"short password", owner, "POST", "/api/v1/admin/technicians", map[string]string{"name": "Y", "email": "y@acme.example", "role": "technician", "password": "short"}, 400, "at least 12"},
			{"other tenant's technician", owner, "PUT", "/api/v1/admin/technicians/" + e.b.tech.ID, map[string]string{"role": "admin"}, 404, ""},
		}
		for _, tc := range refusals {
			t.Run(tc.name, func(t *testing.T) {
				before := e.adminState(t)
				r := e.api(t, tc.c, tc.method, tc.path, tc.body)
				require.Equal(t, tc.status, r.status, "%s", r.body)
				assert.Contains(t, r.JSON(t)["error"], tc.msg)
				assert.Equal(t, before, e.adminState(t))
			})
		}

		// Password reset: a new temporary password, lockout lifted.
		require.NoError(t, e.st.Update(t.Context(), func(tx core.Tx) error {
			tt, err := tx.Technician(t.Context(), e.a.tenant.ID, tomID)
			if err != nil {
				return err
			}
			tt.FailedLogins, tt.LockedUntil = 5, e.clk.Now().Add(60*60*1e9)
			return tx.UpdateTechnician(t.Context(), &tt)
		}))
		r = e.api(t, admin, "POST", "/api/v1/admin/technicians/"+tomID+"/password", map[string]string{})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		newPW := r.JSON(t)["password"].(string)
		e.loginAs(t, e.a, "tom@acme.example", newPW)
		r = e.api(t, e.client(t), "POST", "/api/v1/login", map[string]string{"tenant": e.a.tenant.Slug, "email": "tom@acme.example", "password": "a long enough password"})
		assert.Equal(t, http.StatusUnauthorized, r.status, "the old password no longer works")

		// The owner can hand over ownership, but never to nobody.
		r = e.api(t, owner, "PUT", "/api/v1/admin/technicians/"+adaID, map[string]string{"role": "owner"})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		r = e.api(t, admin, "PUT", "/api/v1/admin/technicians/"+e.a.tech.ID, map[string]string{"role": "admin"})
		require.Equal(t, http.StatusOK, r.status, "the new owner demotes the old one: %s", r.body)
		assert.Equal(t, http.StatusForbidden, e.api(t, owner, "PUT", "/api/v1/admin/technicians/"+adaID, map[string]string{"role": "admin"}).status,
			"the old owner, now admin, cannot demote the last owner")

		actions := e.auditActions(t, e.a)
		for _, a := range []string{"technician.created", "technician.updated", "technician.password_reset"} {
			assert.Contains(t, actions, a)
		}
	})
}

// TestAdminAudit covers the audit filters, paging and the CSV export.
func TestAdminAudit(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	e.setRole(t, &e.a, core.RoleOwner)
	c := e.login(t, e.a) // seq 1 is the seeded contact, 2 this sign-in
	start := e.clk.Now()
	for i := range 3 {
		e.clk.Add(60 * 1e9)
		r := e.api(t, c, "PUT", "/api/v1/admin/policies/default", map[string]any{"code_digits": 6 + i})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	}
	// An admin whose name is a spreadsheet formula.
	e.clk.Add(60 * 1e9)
	r := e.api(t, c, "POST", "/api/v1/admin/technicians", map[string]string{"name": "=HYPERLINK(\"http://evil.example\")",
		"email": "eve@acme.example", "role": "admin", "password": "a long enough password"})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	eveID := r.JSON(t)["technician"].(map[string]any)["id"].(string)
	eve := e.loginAs(t, e.a, "eve@acme.example", "a long enough password")
	e.clk.Add(60 * 1e9)
	r = e.api(t, eve, "PUT", "/api/v1/admin/branding", map[string]string{"sender_name": "+cmd|' /C calc'!A0"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	// 3-5 policy updates, 6 technician.created, 7 login, 8 branding.updated.

	list := func(q string) ([]map[string]any, float64) {
		t.Helper()
		r := e.api(t, c, "GET", "/api/v1/admin/audit?"+q, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		m := r.JSON(t)
		var out []map[string]any
		for _, ev := range m["events"].([]any) {
			out = append(out, ev.(map[string]any))
		}
		return out, m["next_before"].(float64)
	}
	seqs := func(evs []map[string]any) []float64 {
		var out []float64
		for _, ev := range evs {
			out = append(out, ev["seq"].(float64))
		}
		return out
	}

	evs, next := list("")
	assert.Equal(t, []float64{8, 7, 6, 5, 4, 3, 2, 1}, seqs(evs), "newest first")
	assert.Zero(t, next)
	assert.Equal(t, "Jane Tech", evs[6]["actor_name"])

	evs, next = list("limit=3")
	assert.Equal(t, []float64{8, 7, 6}, seqs(evs))
	assert.Equal(t, float64(6), next)
	evs, next = list("limit=3&before=6")
	assert.Equal(t, []float64{5, 4, 3}, seqs(evs))
	assert.Equal(t, float64(3), next)
	evs, next = list("limit=3&before=3")
	assert.Equal(t, []float64{2, 1}, seqs(evs))
	assert.Zero(t, next)

	evs, _ = list("action=policy.updated")
	assert.Equal(t, []float64{5, 4, 3}, seqs(evs))
	evs, _ = list("actor=EVE@acme.example")
	assert.Equal(t, []float64{8, 7}, seqs(evs), "an actor by email")
	evs, _ = list("actor=tech:" + eveID + "&action=branding.updated")
	assert.Equal(t, []float64{8}, seqs(evs))
	evs, _ = list("subject=" + eveID)
	assert.Equal(t, []float64{7, 6}, seqs(evs), "login and creation name the technician")
	q := url.Values{"from": {start.Add(90 * 1e9).Format("2006-01-02T15:04:05Z07:00")}, "to": {start.Add(210 * 1e9).Format("2006-01-02T15:04:05Z07:00")}}
	evs, _ = list(q.Encode())
	assert.Equal(t, []float64{5, 4}, seqs(evs), "time range")

	// CSV export.
	r = e.do(t, c, "GET", "/api/v1/admin/audit.csv", "", nil, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "text/csv; charset=utf-8", r.header.Get("Content-Type"))
	assert.Regexp(t, `^attachment; filename="countersign-audit-acme-[a-z0-9]+-\d{8}-\d{4}\.csv"$`, r.header.Get("Content-Disposition"))
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 9)
	assert.Equal(t, []string{"seq", "time_utc", "actor", "actor_name", "action", "subject", "detail"}, rows[0])
	assert.Equal(t, "8", rows[1][0])
	assert.Equal(t, `'=HYPERLINK("http://evil.example")`, rows[1][3], "a formula is defused")
	assert.Equal(t, "branding.updated", rows[1][4])
	assert.Contains(t, rows[1][6], "sender_name=+cmd")
	for _, row := range rows[1:] {
		for _, cell := range row {
			if cell != "" {
				assert.NotContains(t, "=+-@\t\r", cell[:1], "cell %q starts with a formula character", cell)
			}
		}
	}
	r = e.do(t, c, "GET", "/api/v1/admin/audit.csv?action=policy.updated", "", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	rows, err = csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	require.NoError(t, err)
	assert.Len(t, rows, 4)

	// The other tenant's log stays out.
	rb := e.api(t, c, "GET", "/api/v1/admin/audit?actor=tech:"+e.b.tech.ID, nil)
	assert.Empty(t, rb.JSON(t)["events"])
}

// TestAdminAuditRangeInTenantZone: a time range without a zone, as the
// audit page's datetime-local fields send it, is read in the tenant's time
// zone (Pacific/Auckland, UTC+13 in November), the zone the log's times are
// written in, not in UTC or the browser's zone; a range with an offset
// stays the instant it names (issue 12).
func TestAdminAuditRangeInTenantZone(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	e.setRole(t, &e.a, core.RoleOwner)
	c := e.login(t, e.a)
	r := e.api(t, c, "PUT", "/api/v1/admin/branding", map[string]string{"time_zone": "Pacific/Auckland"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	auckland, err := time.LoadLocation("Pacific/Auckland")
	require.NoError(t, err)
	var at []time.Time
	e.clk.Add(30 * time.Minute)
	for i := range 3 {
		e.clk.Add(time.Hour)
		at = append(at, e.clk.Now())
		r := e.api(t, c, "PUT", "/api/v1/admin/policies/default", map[string]any{"code_digits": 6 + i})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	}
	updates := func(q url.Values) []string {
		t.Helper()
		q.Set("action", "policy.updated")
		r := e.api(t, c, "GET", "/api/v1/admin/audit?"+q.Encode(), nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var out []string
		for _, ev := range r.JSON(t)["events"].([]any) {
			out = append(out, ev.(map[string]any)["at"].(string))
		}
		return out
	}
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	local := func(t time.Time, layout string) string { return t.In(auckland).Format(layout) }

	// The middle update, by the Auckland wall clock a minute either side.
	got := updates(url.Values{"from": {local(at[1].Add(-time.Minute), "2006-01-02T15:04")}, "to": {local(at[1].Add(time.Minute), "2006-01-02T15:04")}})
	assert.Equal(t, []string{stamp(at[1])}, got, "a range typed in the tenant's zone")
	got = updates(url.Values{"from": {local(at[1].Add(-time.Second), "2006-01-02T15:04:05")}})
	assert.Equal(t, []string{stamp(at[2]), stamp(at[1])}, got, "with seconds")
	// A date is midnight in Auckland: the updates are at 23:30 on 2 November
	// and 00:30 and 01:30 on the 3rd there (10:30, 11:30, 12:30 UTC).
	require.Equal(t, "2026-11-02 23:30", local(at[0], "2006-01-02 15:04"), "the test's clock")
	assert.Equal(t, []string{stamp(at[0])}, updates(url.Values{"to": {"2026-11-03"}}), "a date is the tenant's midnight")
	assert.Equal(t, []string{stamp(at[2]), stamp(at[1])}, updates(url.Values{"from": {"2026-11-03"}}))
	// An instant with its offset is that instant.
	got = updates(url.Values{"from": {at[2].Add(-time.Minute).UTC().Format(time.RFC3339)}})
	assert.Equal(t, []string{stamp(at[2])}, got, "RFC 3339 keeps its offset")
}

// TestAdminBadInputChangesNothing sends bad input to every admin endpoint:
// each gets a 4xx with a clear JSON message and the store stays as it was.
func TestAdminBadInputChangesNothing(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	e.setRole(t, &e.a, core.RoleOwner)
	owner := e.login(t, e.a)
	e.addTech(t, e.a, "Tom Tech", "tom@acme.example", core.RoleTechnician)
	tech := e.loginAs(t, e.a, "tom@acme.example", password)
	// Something to delete, so that refusals are not just "not found".
	require.Equal(t, http.StatusOK, e.api(t, owner, "PUT", "/api/v1/admin/policies/"+e.a.client.ID, map[string]any{"code_digits": 7}).status)
	require.Equal(t, http.StatusOK, e.api(t, owner, "PUT", "/api/v1/admin/messages/sms_code", map[string]string{"body": "{{.Code}}"}).status)
	require.Equal(t, http.StatusOK, e.do(t, owner, "PUT", "/api/v1/admin/branding/logo", "image/png", testPNG(t, 4, 4), nil).status)

	long := strings.Repeat("x", 501)
	script := `<script>alert(1)</script>`
	svg := `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`
	evil := map[string]string{"Origin": "https://evil.example"}
	pol := "/api/v1/admin/policies/"

	tests := []struct {
		name        string
		c           *http.Client // nil: the owner
		method      string
		path        string
		contentType string // "" with a body: application/json
		body        string
		hdr         map[string]string
		wantStatus  int
		wantMsg     string
	}{
		// Who may call.
		{name: "technician lists policies", c: tech, method: "GET", path: "/api/v1/admin/policies", wantStatus: 403, wantMsg: "admin"},
		{name: "technician puts policy", c: tech, method: "PUT", path: pol + "default", body: `{}`, wantStatus: 403, wantMsg: "admin"},
		{name: "technician deletes policy", c: tech, method: "DELETE", path: pol + e.a.client.ID, wantStatus: 403, wantMsg: "admin"},
		{name: "technician puts branding", c: tech, method: "PUT", path: "/api/v1/admin/branding", body: `{}`, wantStatus: 403, wantMsg: "admin"},
		{name: "technician uploads logo", c: tech, method: "PUT", path: "/api/v1/admin/branding/logo", contentType: "image/png", body: string(testPNG(t, 2, 2)), wantStatus: 403, wantMsg: "admin"},
		{name: "technician deletes logo", c: tech, method: "DELETE", path: "/api/v1/admin/branding/logo", wantStatus: 403, wantMsg: "admin"},
		{name: "technician saves template", c: tech, method: "PUT", path: "/api/v1/admin/messages/sms_code", body: `{"body":"{{.Code}}"}`, wantStatus: 403, wantMsg: "admin"},
		{name: "technician resets template", c: tech, method: "DELETE", path: "/api/v1/admin/messages/sms_code", wantStatus: 403, wantMsg: "admin"},
		{name: "technician previews template", c: tech, method: "POST", path: "/api/v1/admin/messages/sms_code/preview", body: `{"body":""}`, wantStatus: 403, wantMsg: "admin"},
		{name: "technician adds technician", c: tech, method: "POST", path: "/api/v1/admin/technicians", body: `{"name":"A","email":"a@acme.example","role":"admin"}`, wantStatus: 403, wantMsg: "admin"},
		{name: "technician promotes self", c: tech, method: "PUT", path: "/api/v1/admin/technicians/" + e.a.tech.ID, body: `{"role":"technician"}`, wantStatus: 403, wantMsg: "admin"},
		{name: "technician resets password", c: tech, method: "POST", path: "/api/v1/admin/technicians/" + e.a.tech.ID + "/password", body: `{}`, wantStatus: 403, wantMsg: "admin"},
		{name: "technician reads audit", c: tech, method: "GET", path: "/api/v1/admin/audit", wantStatus: 403, wantMsg: "admin"},
		{name: "technician exports audit", c: tech, method: "GET", path: "/api/v1/admin/audit.csv", wantStatus: 403, wantMsg: "admin"},
		{name: "signed out", c: e.client(t), method: "PUT", path: pol + "default", body: `{}`, wantStatus: 401, wantMsg: "sign in"},

		// Wrong origin (CSRF) on every change.
		{name: "csrf policy", method: "PUT", path: pol + "default", body: `{"banner":"x"}`, hdr: evil, wantStatus: 403, wantMsg: "cross-origin"},
		{name: "csrf delete policy", method: "DELETE", path: pol + e.a.client.ID, hdr: evil, wantStatus: 403, wantMsg: "cross-origin"},
		{name: "csrf branding", method: "PUT", path: "/api/v1/admin/branding", body: `{"sender_name":"x"}`, hdr: evil, wantStatus: 403, wantMsg: "cross-origin"},
		{name: "csrf logo", method: "PUT", path: "/api/v1/admin/branding/logo", contentType: "image/png", body: string(testPNG(t, 2, 2)), hdr: evil, wantStatus: 403, wantMsg: "cross-origin"},
		{name: "csrf delete logo", method: "DELETE", path: "/api/v1/admin/branding/logo", hdr: evil, wantStatus: 403, wantMsg: "cross-origin"},
		{name: "csrf template", method: "PUT", path: "/api/v1/admin/messages/sms_link", body: `{"body":"{{.Link}}"}`, hdr: evil, wantStatus: 403, wantMsg: "cross-origin"},
		{name: "csrf reset template", method: "DELETE", path: "/api/v1/admin/messages/sms_code", hdr: evil, wantStatus: 403, wantMsg: "cross-origin"},
		{name: "csrf add technician", method: "POST", path: "/api/v1/admin/technicians", body: `{"name":"A","email":"a@acme.example","role":"owner"}`, hdr: evil, wantStatus: 403, wantMsg: "cross-origin"},
		{name: "csrf role", method: "PUT", path: "/api/v1/admin/technicians/" + e.a.tech.ID, body: `{"name":"x"}`, hdr: evil, wantStatus: 403, wantMsg: "cross-origin"},
		{name: "csrf password", method: "POST", path: "/api/v1/admin/technicians/" + e.a.tech.ID + "/password", body: `{}`, hdr: evil, wantStatus: 403, wantMsg: "cross-origin"},
		{name: "csrf old policy route", method: "PUT", path: "/api/v1/policies/default", body: `{}`, hdr: evil, wantStatus: 403, wantMsg: "cross-origin"},

		// Policies.
		{name: "policy empty body", method: "PUT", path: pol + "default", wantStatus: 400, wantMsg: "empty"},
		{name: "policy malformed", method: "PUT", path: pol + "default", body: `{"banner":`, wantStatus: 400, wantMsg: "JSON"},
		{name: "policy unknown field", method: "PUT", path: pol + "default", body: `{"bannner":"x"}`, wantStatus: 400, wantMsg: "unknown field"},
		{name: "policy banner too long", method: "PUT", path: pol + "default", body: `{"banner":"` + long + `"}`, wantStatus: 400, wantMsg: "500 characters"},
		{name: "policy banner control chars", method: "PUT", path: pol + "default", body: `{"banner":"a\u0000b"}`, wantStatus: 400, wantMsg: "control"},
		{name: "policy digits", method: "PUT", path: pol + "default", body: `{"code_digits":4}`, wantStatus: 400, wantMsg: "code digits"},
		{name: "policy digits as text", method: "PUT", path: pol + "default", body: `{"code_digits":"six"}`, wantStatus: 400, wantMsg: "code_digits"},
		{name: "policy lifetime", method: "PUT", path: pol + "default", body: `{"lifetime":"1h"}`, wantStatus: 400, wantMsg: "lifetime"},
		{name: "policy bad duration", method: "PUT", path: pol + "default", body: `{"lifetime":"soon"}`, wantStatus: 400, wantMsg: "duration"},
		{name: "policy negative cooldown", method: "PUT", path: pol + "default", body: `{"resend_cooldown":"-5s"}`, wantStatus: 400, wantMsg: "cooldown"},
		{name: "policy negative limit", method: "PUT", path: pol + "default", body: `{"limits":{"per_tenant_day":-1}}`, wantStatus: 400, wantMsg: "per tenant per day"},
		{name: "policy unknown method", method: "PUT", path: pol + "default", body: `{"methods":["fax"]}`, wantStatus: 400, wantMsg: "fax"},
		{name: "policy unknown client", method: "PUT", path: pol + "cli_nope", body: `{}`, wantStatus: 404},
		{name: "policy other tenant's client", method: "PUT", path: pol + e.b.client.ID, body: `{}`, wantStatus: 404},
		{name: "get other tenant's client policy", method: "GET", path: pol + e.b.client.ID, wantStatus: 404},
		{name: "delete default policy", method: "DELETE", path: pol + "default", wantStatus: 400, wantMsg: "cannot be deleted"},
		{name: "delete other tenant's override", method: "DELETE", path: pol + e.b.client.ID, wantStatus: 404},

		// Branding.
		{name: "branding empty body", method: "PUT", path: "/api/v1/admin/branding", wantStatus: 400, wantMsg: "empty"},
		{name: "branding wrong type", method: "PUT", path: "/api/v1/admin/branding", contentType: "text/plain", body: `{}`, wantStatus: 400, wantMsg: "application/json"},
		{name: "branding sender too long", method: "PUT", path: "/api/v1/admin/branding", body: `{"sender_name":"` + strings.Repeat("x", 61) + `"}`, wantStatus: 400, wantMsg: "at most 60"},
		{name: "branding sender newline", method: "PUT", path: "/api/v1/admin/branding", body: `{"sender_name":"Acme\r\nBcc: x@example.com"}`, wantStatus: 400, wantMsg: "control"},
		{name: "branding colour", method: "PUT", path: "/api/v1/admin/branding", body: `{"primary_color":"red;background:url(//evil)"}`, wantStatus: 400, wantMsg: "hex colour"},
		{name: "branding short colour", method: "PUT", path: "/api/v1/admin/branding", body: `{"accent_color":"#abc"}`, wantStatus: 400, wantMsg: "hex colour"},
		{name: "branding half gradient", method: "PUT", path: "/api/v1/admin/branding", body: `{"gradient_from":"#000000"}`, wantStatus: 400, wantMsg: "both gradient"},
		{name: "branding phone", method: "PUT", path: "/api/v1/admin/branding", body: `{"support_phone":"` + script + `"}`, wantStatus: 400, wantMsg: "support phone"},
		{name: "branding logo field", method: "PUT", path: "/api/v1/admin/branding", body: `{"logo":"data:image/svg+xml,` + url.PathEscape(svg) + `"}`, wantStatus: 400, wantMsg: "unknown field"},
		{name: "logo empty", method: "PUT", path: "/api/v1/admin/branding/logo", contentType: "image/png", wantStatus: 400, wantMsg: "empty"},
		{name: "logo svg", method: "PUT", path: "/api/v1/admin/branding/logo", contentType: "image/svg+xml", body: svg, wantStatus: 400, wantMsg: "SVG"},
		{name: "logo svg in disguise", method: "PUT", path: "/api/v1/admin/branding/logo", contentType: "image/png", body: svg, wantStatus: 400, wantMsg: "PNG, JPEG, GIF or WebP"},
		{name: "logo html", method: "PUT", path: "/api/v1/admin/branding/logo", contentType: "image/gif", body: `<html>` + script, wantStatus: 400, wantMsg: "text/html"},
		{name: "logo truncated png", method: "PUT", path: "/api/v1/admin/branding/logo", contentType: "image/png", body: string(testPNG(t, 4, 4)[:20]), wantStatus: 400, wantMsg: "damaged"},
		{name: "logo too big", method: "PUT", path: "/api/v1/admin/branding/logo", contentType: "image/png", body: string(append(testPNG(t, 4, 4), make([]byte, 256<<10)...)), wantStatus: 400, wantMsg: "256 KiB"},
		{name: "logo too many pixels", method: "PUT", path: "/api/v1/admin/branding/logo", contentType: "image/png", body: string(testPNG(t, 5000, 1)), wantStatus: 400, wantMsg: "pixels"},

		// Message templates.
		{name: "template unknown message", method: "PUT", path: "/api/v1/admin/messages/fax_code", body: `{"body":"{{.Code}}"}`, wantStatus: 404, wantMsg: "unknown message"},
		{name: "template empty body", method: "PUT", path: "/api/v1/admin/messages/sms_link", wantStatus: 400, wantMsg: "empty"},
		{name: "template empty text", method: "PUT", path: "/api/v1/admin/messages/sms_link", body: `{"body":"  "}`, wantStatus: 400, wantMsg: "empty"},
		{name: "template without link", method: "PUT", path: "/api/v1/admin/messages/sms_link", body: `{"body":"Hello ` + script + `"}`, wantStatus: 400, wantMsg: "{{.Link}}"},
		{name: "template parse error", method: "PUT", path: "/api/v1/admin/messages/sms_link", body: `{"body":"{{.Link"}`, wantStatus: 400, wantMsg: "body:"},
		{name: "template unknown field", method: "PUT", path: "/api/v1/admin/messages/email_code", body: `{"body":"{{.Code}} {{.Secret}}"}`, wantStatus: 400, wantMsg: "Secret"},
		{name: "template too long", method: "PUT", path: "/api/v1/admin/messages/sms_code", body: `{"body":"{{.Code}}` + strings.Repeat("x", 1000) + `"}`, wantStatus: 400, wantMsg: "at most 1000"},
		{name: "template sms not gsm", method: "PUT", path: "/api/v1/admin/messages/sms_code", body: `{"body":"{{.Code}} ✅"}`, wantStatus: 400, wantMsg: "GSM-7"},
		{name: "template loop", method: "PUT", path: "/api/v1/admin/messages/sms_code", body: `{"body":"{{.Code}}{{range 9}}x{{end}}"}`, wantStatus: 400, wantMsg: "range"},
		{name: "template subject on sms", method: "PUT", path: "/api/v1/admin/messages/sms_code", body: `{"subject":"x","body":"{{.Code}}"}`, wantStatus: 400, wantMsg: "only emails"},
		{name: "template link in subject", method: "PUT", path: "/api/v1/admin/messages/email_link", body: `{"subject":"{{.Link}}","body":"{{.Link}}"}`, wantStatus: 400, wantMsg: "subject must not"},
		{name: "template unknown reset", method: "DELETE", path: "/api/v1/admin/messages/email_code", wantStatus: 404, wantMsg: "default"},
		{name: "preview bad template", method: "POST", path: "/api/v1/admin/messages/voice_code/preview", body: `{"body":"{{.Code}}"}`, wantStatus: 400, wantMsg: "{{.CodeSpoken}}"},
		{name: "preview unknown message", method: "POST", path: "/api/v1/admin/messages/nope/preview", body: `{"body":""}`, wantStatus: 404},

		// Technicians.
		{name: "technician empty body", method: "POST", path: "/api/v1/admin/technicians", wantStatus: 400, wantMsg: "empty"},
		{name: "technician no name", method: "POST", path: "/api/v1/admin/technicians", body: `{"email":"a@acme.example","role":"admin"}`, wantStatus: 400, wantMsg: "required"},
		{name: "technician name too long", method: "POST", path: "/api/v1/admin/technicians", body: `{"name":"` + strings.Repeat("x", 101) + `","email":"a@acme.example","role":"admin"}`, wantStatus: 400, wantMsg: "at most 100"},
		{name: "technician bad email", method: "POST", path: "/api/v1/admin/technicians", body: `{"name":"A","email":"` + script + `","role":"admin"}`, wantStatus: 400},
		{name: "technician email too long", method: "POST", path: "/api/v1/admin/technicians", body: `{"name":"A","email":"` + strings.Repeat("a", 320) + `@x.example","role":"admin"}`, wantStatus: 400, wantMsg: "320"},
		{name: "technician duplicate", method: "POST", path: "/api/v1/admin/technicians", body: `{"name":"A","email":"TOM@acme.example","role":"admin"}`, wantStatus: 409, wantMsg: "already exists"},
		{name: "technician update nothing", method: "PUT", path: "/api/v1/admin/technicians/" + e.a.tech.ID, body: `{}`, wantStatus: 400, wantMsg: "name or role"},
		{name: "technician empty name", method: "PUT", path: "/api/v1/admin/technicians/" + e.a.tech.ID, body: `{"name":" "}`, wantStatus: 400, wantMsg: "name is required"},
		{name: "technician bad role", method: "PUT", path: "/api/v1/admin/technicians/" + e.a.tech.ID, body: `{"role":"root"}`, wantStatus: 400, wantMsg: "unknown role"},
		{name: "technician own role", method: "PUT", path: "/api/v1/admin/technicians/" + e.a.tech.ID, body: `{"role":"technician"}`, wantStatus: 403, wantMsg: "your own role"},
		{name: "technician unknown", method: "PUT", path: "/api/v1/admin/technicians/tec_nope", body: `{"role":"admin"}`, wantStatus: 404},
		{name: "password too short", method: "POST", path: "/api/v1/admin/technicians/" + e.a.tech.ID + "/password", body: `{"password":"short"}`, wantStatus: 400, wantMsg: "at least 12"},
		{name: "password other tenant", method: "POST", path: "/api/v1/admin/technicians/" + e.b.tech.ID + "/password", body: `{}`, wantStatus: 404},

		// Audit.
		{name: "audit bad limit", method: "GET", path: "/api/v1/admin/audit?limit=0", wantStatus: 400, wantMsg: "limit"},
		{name: "audit bad before", method: "GET", path: "/api/v1/admin/audit?before=x", wantStatus: 400, wantMsg: "before"},
		{name: "audit bad time", method: "GET", path: "/api/v1/admin/audit?from=yesterday", wantStatus: 400, wantMsg: "from must be"},
		{name: "audit reversed range", method: "GET", path: "/api/v1/admin/audit?from=2026-11-03&to=2026-11-02", wantStatus: 400, wantMsg: "before its end"},
		{name: "audit filter too long", method: "GET", path: "/api/v1/admin/audit?action=" + strings.Repeat("x", 201), wantStatus: 400, wantMsg: "at most 200"},
		{name: "audit csv bad time", method: "GET", path: "/api/v1/admin/audit.csv?to=noon", wantStatus: 400, wantMsg: "to must be"},
		{name: "wrong method", method: "PATCH", path: "/api/v1/admin/branding", body: `{}`, wantStatus: 405, wantMsg: "PATCH"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.adminState(t)
			c := tc.c
			if c == nil {
				c = owner
			}
			ct := tc.contentType
			var body any
			if tc.body != "" {
				body = tc.body
				if ct == "" {
					ct = "application/json"
				}
			} else if ct == "" && tc.method != "GET" && tc.method != "DELETE" {
				ct = "application/json"
			}
			r := e.do(t, c, tc.method, tc.path, ct, body, tc.hdr)
			require.Equal(t, tc.wantStatus, r.status, "body: %s", r.body)
			assert.Contains(t, r.header.Get("Content-Type"), "application/json")
			m := r.JSON(t)
			msg, _ := m["error"].(string)
			assert.NotEmpty(t, msg, "no error message")
			assert.NotContains(t, msg, "internal error")
			if tc.wantMsg != "" {
				assert.Contains(t, msg, tc.wantMsg)
			}
			assert.Equal(t, before, e.adminState(t), "a refused request changed the store")
		})
	}
}

// TestAdminScriptInjectionIsInert stores markup in every free-text field
// and checks no page or API answer carries it as markup.
func TestAdminScriptInjectionIsInert(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	e.setRole(t, &e.a, core.RoleOwner)
	c := e.login(t, e.a)
	script := `<script>alert(1)</script>`
	for _, rq := range []struct {
		method, path string
		body         any
	}{
		{"PUT", "/api/v1/admin/policies/default", map[string]string{"banner": script}},
		{"PUT", "/api/v1/admin/branding", map[string]string{"sender_name": script}},
		{"PUT", "/api/v1/admin/messages/email_code", map[string]string{"subject": script, "body": script + " {{.Code}}"}},
		{"POST", "/api/v1/admin/technicians", map[string]string{"name": script, "email": "x@acme.example", "role": "technician"}},
	} {
		r := e.api(t, c, rq.method, rq.path, rq.body)
		require.Less(t, r.status, 300, "%s %s: %s", rq.method, rq.path, r.body)
	}
	for _, p := range []string{"/app", "/app/admin/policies", "/app/admin/branding", "/app/admin/technicians", "/app/admin/audit",
		"/api/v1/admin/policies", "/api/v1/admin/branding", "/api/v1/admin/messages", "/api/v1/admin/technicians", "/api/v1/admin/audit"} {
		r := e.do(t, c, "GET", p, "", nil, nil)
		require.Equal(t, http.StatusOK, r.status, p)
		assert.NotContains(t, string(r.body), script, p)
	}
	r := e.api(t, c, "POST", "/api/v1/admin/messages/email_code/preview", map[string]string{"subject": script, "body": script + " {{.Code}}"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.NotContains(t, string(r.body), script, "JSON escapes markup; the page sets it as text")
}

// TestAdminNoticeTemplates: the password notices are edited like the
// verification messages — previewed with sample data (the SMS naming the
// sender and, on a first text to a number, the opt-out line, as every
// text), saved
// only with the notice's own placeholders and the account, reset — and
// each change is audited.
func TestAdminNoticeTemplates(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	e.setRole(t, &e.a, core.RoleAdmin)
	c := e.login(t, e.a)

	r := e.api(t, c, "POST", "/api/v1/admin/messages/notice_expiring_sms/preview", map[string]string{"body": ""})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	later := `Your password expires in 10 days. Change the password of jdoe before then: press Ctrl+Alt+Del and choose "Change a password". - Acme IT`
	assert.Equal(t, later+" "+core.OptOutNotice, r.JSON(t)["text"])
	assert.Equal(t, later, r.JSON(t)["later"])
	r = e.api(t, c, "POST", "/api/v1/admin/messages/notice_locked_email/preview", map[string]string{
		"subject": "{{.Account}} is locked", "body": "Call {{.Branding.SupportPhone}} about {{.Account}}."})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "jdoe is locked", r.JSON(t)["subject"], "the account may be in a subject")

	for body, want := range map[string]string{
		"{{.Account}}: code {{.Code}}":           "{{.Code}} is not a field of this message",
		"Your password expires in {{.DaysLeft}}": "{{.Account}}",
		"{{.Account}} {{.Branding.LogoDataURI}}": "{{.Branding.LogoDataURI}} is not a field",
	} {
		r = e.api(t, c, "PUT", "/api/v1/admin/messages/notice_expiring_sms", map[string]string{"body": body})
		assert.Equal(t, http.StatusBadRequest, r.status, "%s: %s", body, r.body)
		assert.Contains(t, r.JSON(t)["error"], want, body)
	}
	body := "{{.Account}} expires in {{days .DaysLeft}}, on {{.ExpiresOn}}"
	r = e.api(t, c, "PUT", "/api/v1/admin/messages/notice_expiring_sms", map[string]string{"body": body})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	tn, err := e.eng.Tenant(t.Context(), e.a.tenant.ID)
	require.NoError(t, err)
	assert.Equal(t, core.MessageTemplate{Body: body}, tn.Branding.Messages[core.MessageNoticeExpiringSMS])
	r = e.api(t, c, "DELETE", "/api/v1/admin/messages/notice_expiring_sms", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = e.api(t, c, "PUT", "/api/v1/admin/messages/notice_carrier_pigeon", map[string]string{"body": "{{.Account}}"})
	assert.Equal(t, http.StatusNotFound, r.status)

	actions := e.auditActions(t, e.a)
	assert.Contains(t, actions, "message_template.updated")
	assert.Contains(t, actions, "message_template.reset")
}
