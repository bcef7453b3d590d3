package assets

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
)

func TestDefaultMessagesPassTheirOwnChecks(t *testing.T) {
	cat, err := MessageCatalog()
	require.NoError(t, err)
	require.Len(t, cat, len(messageParts))
	for _, info := range cat {
		t.Run(info.Name, func(t *testing.T) {
			assert.NotEmpty(t, info.Default.Body)
			assert.Equal(t, info.HasSubject, info.Default.Subject != "")
			require.NoError(t, CheckMessageTemplate(info.Name, info.Default))
		})
	}
}

func TestCheckMessageTemplateRefuses(t *testing.T) {
	tests := []struct {
		name, msg string
		tmpl      core.MessageTemplate
		want      string
	}{
		{name: "unknown message", msg: "carrier_pigeon", tmpl: core.MessageTemplate{Body: "{{.Code}}"}, want: "unknown message"},
		{name: "empty", msg: MessageSMSCode, tmpl: core.MessageTemplate{Body: "  \n "}, want: "empty"},
		{name: "no code", msg: MessageSMSCode, tmpl: core.MessageTemplate{Body: "Hello from {{.TenantName}}"}, want: "{{.Code}}"},
		{name: "no link", msg: MessageEmailLink, tmpl: core.MessageTemplate{Body: "Code {{.Code}}"}, want: "{{.Link}}"},
		{name: "voice needs spoken code", msg: MessageVoiceCode, tmpl: core.MessageTemplate{Body: "Your code is {{.Code}}"}, want: "{{.CodeSpoken}}"},
		{name: "code only with a ticket", msg: MessageSMSCode, tmpl: core.MessageTemplate{Body: "{{with .TicketRef}}{{$.Code}}{{end}}"}, want: "{{.Code}}"},
		{name: "parse error", msg: MessageSMSCode, tmpl: core.MessageTemplate{Body: "{{.Code"}, want: "body:"},
		{name: "unknown field", msg: MessageSMSCode, tmpl: core.MessageTemplate{Body: "{{.Code}} {{.Password}}"}, want: "Password"},
		{name: "unknown function", msg: MessageSMSCode, tmpl: core.MessageTemplate{Body: "{{.Code}} {{exec .TenantName}}"}, want: "exec"},
		{name: "range loop", msg: MessageSMSCode, tmpl: core.MessageTemplate{Body: "{{.Code}}{{range 1000000000}}{{end}}"}, want: "range"},
		{name: "define", msg: MessageSMSCode, tmpl: core.MessageTemplate{Body: `{{define "x"}}y{{end}}{{.Code}}`}, want: "define"},
		{name: "runaway output", msg: MessageEmailCode, tmpl: core.MessageTemplate{Body: `{{.Code}}{{printf "%999999d" 1}}`}, want: "too long"},
		{name: "emoji in sms", msg: MessageSMSCode, tmpl: core.MessageTemplate{Body: "Code {{.Code}} 🔒"}, want: "GSM-7"},
		{name: "sms too long", msg: MessageSMSCode, tmpl: core.MessageTemplate{Body: "{{.Code}} " + strings.Repeat("x", 400)}, want: "two SMS segments"},
		{name: "source too long", msg: MessageSMSCode, tmpl: core.MessageTemplate{Body: "{{.Code}}" + strings.Repeat("{{/* */}}", 200)}, want: "at most 1000"},
		{name: "subject on sms", msg: MessageSMSCode, tmpl: core.MessageTemplate{Subject: "Hi", Body: "{{.Code}}"}, want: "only emails"},
		{name: "two-line subject", msg: MessageEmailCode, tmpl: core.MessageTemplate{Subject: "Hi\nBcc: x@example.com", Body: "{{.Code}}"}, want: "one line"},
		{name: "code in subject", msg: MessageEmailCode, tmpl: core.MessageTemplate{Subject: "Your code {{.Code}}", Body: "{{.Code}}"}, want: "subject must not contain"},
		{name: "control character", msg: MessageEmailCode, tmpl: core.MessageTemplate{Body: "{{.Code}}\x00"}, want: "control"},
		{name: "too many voice phrases", msg: MessageVoiceCode, tmpl: core.MessageTemplate{Body: "{{.CodeSpoken}}" + strings.Repeat("\nHello", 25)}, want: "phrases"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckMessageTemplate(tc.msg, tc.tmpl)
			require.Error(t, err)
			assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
			assert.Contains(t, core.ErrorMessage(err), tc.want)
		})
	}
}

func TestRenderUsesTenantTemplate(t *testing.T) {
	m, err := NewMessages()
	require.NoError(t, err)
	d := sampleData()
	d.Branding.Messages = map[string]core.MessageTemplate{
		MessageSMSCode:   {Body: "{{gsm .TenantName}} code: {{.Code}}"},
		MessageEmailLink: {Subject: "Please confirm, {{.ContactName}}", Body: "Hi <script>alert(1)</script>\n\nOpen {{.Link}} now.\nThanks"},
		MessageVoiceCode: {Body: "Hi.\n{{.CodeSpoken}}.\nBye."},
	}

	r, err := m.Render(MessageSMSCode, d)
	require.NoError(t, err)
	assert.Equal(t, "Acme IT Services code: 482913", r.Text)

	r, err = m.Render(MessageEmailLink, d)
	require.NoError(t, err)
	assert.Equal(t, "Please confirm, Jane Doe", r.Subject)
	assert.Contains(t, r.Text, "<script>alert(1)</script>", "the text part is plain text")
	assert.NotContains(t, r.HTML, "<script>", "the HTML part escapes what the admin typed")
	assert.Contains(t, r.HTML, "&lt;script&gt;")
	assert.Contains(t, r.HTML, `<a href="`+d.Link+`"`, "the link is clickable")
	assert.Contains(t, r.HTML, "#112233", "brand colour")
	assert.NotContains(t, r.HTML, "ZgotmplZ")

	r, err = m.Render(MessageVoiceCode, d)
	require.NoError(t, err)
	assert.Equal(t, []string{"Hi.", d.CodeSpoken + ".", "Bye."}, r.Say)

	// Email code keeps the built-in wording: no template for it.
	r, err = m.Render(MessageEmailCode, d)
	require.NoError(t, err)
	assert.Contains(t, r.Text, "Read it only to the Acme IT Services help desk you are on a call with right now")
}

func TestRenderKeepsSMSInGSM7(t *testing.T) {
	m, err := NewMessages()
	require.NoError(t, err)
	d := sampleData()
	d.TenantName = "Zoë’s IT ☎"
	d.Branding.Messages = map[string]core.MessageTemplate{MessageSMSCode: {Body: "{{.TenantName}}: {{.Code}}"}}
	r, err := m.Render(MessageSMSCode, d)
	require.NoError(t, err)
	assert.True(t, IsGSM7(r.Text), "%q", r.Text)
	assert.Contains(t, r.Text, d.Code)
}

func TestRenderFallsBackWhenTenantTemplateFails(t *testing.T) {
	m, err := NewMessages()
	require.NoError(t, err)
	d := sampleData()
	// Stored without the checks (an older version, a hand-edited row).
	d.Branding.Messages = map[string]core.MessageTemplate{
		MessageSMSCode: {Body: "{{.Nope}} {{.Code}}"},
		MessageSMSLink: {Body: "no link here"},
	}
	r, err := m.Render(MessageSMSCode, d)
	require.NoError(t, err)
	assert.Contains(t, r.Text, "Acme IT Services code 482913", "built-in wording")
	r, err = m.Render(MessageSMSLink, d)
	require.NoError(t, err)
	assert.Contains(t, r.Text, d.Link)
}

func TestPreviewMessage(t *testing.T) {
	d := SampleMessageData(MessageSMSCode, "Globex IT", core.Branding{})
	r, err := PreviewMessage(MessageSMSCode, core.MessageTemplate{}, d)
	require.NoError(t, err)
	assert.Contains(t, r.Text, "Globex IT code 482913", "empty means the built-in template")

	r, err = PreviewMessage(MessageSMSCode, core.MessageTemplate{Body: "{{.TenantName}} says {{.Code}}"}, d)
	require.NoError(t, err)
	assert.Equal(t, "Globex IT says 482913", r.Text)

	_, err = PreviewMessage(MessageSMSCode, core.MessageTemplate{Body: "{{.TenantName}}"}, d)
	require.Error(t, err)
	assert.Contains(t, core.ErrorMessage(err), "{{.Code}}")

	d = SampleMessageData(MessageEmailLink, "Globex IT", core.Branding{PrimaryColor: "#abcdef"})
	r, err = PreviewMessage(MessageEmailLink, core.MessageTemplate{Subject: "Confirm for {{.TenantName}}", Body: "Open {{.Link}}"}, d)
	require.NoError(t, err)
	assert.Equal(t, "Confirm for Globex IT", r.Subject)
	assert.Contains(t, r.HTML, "#abcdef")
}

// TestNoticeTemplates: a notice's template may use the notice's fields
// and no others — not the verification messages' code, not the fields of
// another notice, not the tenant's stored branding — must name the
// account, and may put it in the subject (it is no secret); a verification
// message may not use a notice's fields.
func TestNoticeTemplates(t *testing.T) {
	ok := []struct {
		msg  string
		tmpl core.MessageTemplate
	}{
		{core.MessageNoticeExpiringEmail, core.MessageTemplate{Subject: "{{.Account}}: {{days .DaysLeft}} left", Body: "Hi {{.ContactName}}, {{.Account}} expires on {{.ExpiresOn}}.{{with .Branding.SupportPhone}} Call {{.}}.{{end}}"}},
		{core.MessageNoticeExpiringSMS, core.MessageTemplate{Body: "{{gsm .TenantName}}: {{.Account}} in {{.DaysLeft}} days"}},
		{core.MessageNoticeTodaySMS, core.MessageTemplate{Body: "{{.Account}} expires today{{with .ExpiresOn}} ({{.}}){{end}}"}},
		{core.MessageNoticeLockedEmail, core.MessageTemplate{Subject: "{{.Account}} is locked", Body: "{{.Account}} is locked.{{with .ContactName}} Hi {{.}}, call {{$.TenantName}}.{{end}}"}},
	}
	for _, tc := range ok {
		assert.NoError(t, CheckMessageTemplate(tc.msg, tc.tmpl), "%s %q", tc.msg, tc.tmpl.Body)
	}
	bad := []struct {
		name, msg string
		tmpl      core.MessageTemplate
		want      string
	}{
		{"no account", core.MessageNoticeExpiringSMS, core.MessageTemplate{Body: "Your password expires in {{.DaysLeft}} days"}, "{{.Account}}"},
		{"a code", core.MessageNoticeLockedSMS, core.MessageTemplate{Body: "{{.Account}} {{.Code}}"}, "{{.Code}} is not a field of this message"},
		{"days in the locked notice", core.MessageNoticeLockedEmail, core.MessageTemplate{Body: "{{.Account}} {{.DaysLeft}}"}, "{{.DaysLeft}} is not a field"},
		{"days in today's notice", core.MessageNoticeTodaySMS, core.MessageTemplate{Body: "{{.Account}} {{.DaysLeft}}"}, "{{.DaysLeft}} is not a field"},
		{"stored branding", core.MessageNoticeExpiringEmail, core.MessageTemplate{Body: "{{.Account}} {{.Branding.Messages}}"}, "{{.Branding.Messages}} is not a field"},
		{"with on the logo", core.MessageNoticeExpiringEmail, core.MessageTemplate{Body: "{{.Account}}{{with .Branding.LogoDataURI}}{{.}}{{end}}"}, "{{.Branding.LogoDataURI}}"},
		{"root path in a with", core.MessageNoticeExpiringEmail, core.MessageTemplate{Body: "{{with .Account}}{{.}} {{$.Link}}{{end}}"}, "{{.Link}} is not a field"},
		{"if on another field", core.MessageNoticeLockedSMS, core.MessageTemplate{Body: "{{.Account}}{{if .TicketRef}}x{{end}}"}, "{{.TicketRef}}"},
		{"in the subject", core.MessageNoticeLockedEmail, core.MessageTemplate{Subject: "{{.Code}}", Body: "{{.Account}}"}, "subject: {{.Code}}"},
		{"parenthesised", core.MessageNoticeLockedEmail, core.MessageTemplate{Body: "{{.Account}} {{(.Branding).Messages}}"}, "parenthesised"},
		{"a notice's field in a code message", MessageSMSCode, core.MessageTemplate{Body: "{{.Code}} for {{.Account}}"}, "{{.Account}} is not a field"},
		{"sms not gsm", core.MessageNoticeExpiringSMS, core.MessageTemplate{Body: "🔒 {{.Account}}"}, "GSM-7"},
		{"sms too long", core.MessageNoticeExpiringSMS, core.MessageTemplate{Body: "{{.Account}} " + strings.Repeat("x", 400)}, "two SMS segments"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckMessageTemplate(tc.msg, tc.tmpl)
			require.Error(t, err)
			assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
			assert.Contains(t, core.ErrorMessage(err), tc.want)
		})
	}
}

// TestRenderNotices: every built-in notice names the account and its
// sender, says when, fits the channel (GSM-7 within two segments for SMS,
// the branded frame for e-mail); the tenant's own wording replaces it.
func TestRenderNotices(t *testing.T) {
	m, err := NewMessages()
	require.NoError(t, err)
	for _, name := range NoticeNames {
		t.Run(name, func(t *testing.T) {
			d := sampleMessageData(name)[0]
			d.TenantName = "Zoë’s IT"
			r, err := m.Render(name, d)
			require.NoError(t, err)
			assert.Contains(t, r.Text, "jdoe")
			assert.NotContains(t, r.Text, "{{")
			switch MessageChannel(name) {
			case ChannelSMS:
				assert.True(t, IsGSM7(r.Text), "%q", r.Text)
				assert.LessOrEqual(t, len([]rune(core.CarrierWording(r.Text, d.TenantName, false))), maxSMSRendered)
				assert.Empty(t, r.HTML)
			case ChannelEmail:
				assert.NotEmpty(t, r.Subject)
				assert.Contains(t, r.HTML, "jdoe")
				assert.Contains(t, r.HTML, "Zoë")
			}
			if strings.Contains(name, "expiring") {
				assert.Contains(t, r.Subject+r.Text, "10 days")
			}
		})
	}
	d := sampleMessageData(core.MessageNoticeLockedSMS)[0]
	d.Branding.Messages = map[string]core.MessageTemplate{core.MessageNoticeLockedSMS: {Body: "{{.Account}} is locked; call {{.Branding.SupportPhone}}"}}
	r, err := m.Render(core.MessageNoticeLockedSMS, d)
	require.NoError(t, err)
	assert.Equal(t, "jdoe is locked; call +1 555 010 0100", r.Text)
}
