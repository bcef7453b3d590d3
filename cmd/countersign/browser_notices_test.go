package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/countersign/countersign/core"
)

// TestBrowserNoticeTemplates: the password notices' section of the
// branding page in chromium. An admin picks the lock-out SMS, sees the
// built-in wording previewed with sample data and the fields the notice
// may use, is told in words why a template with a verification code in it
// cannot be saved, saves one of the tenant's own (the list marks it
// customised, the store has it), and resets it; the verification
// messages' editor above lists only its own eight (with the SMS opt-in form's).
func TestBrowserNoticeTemplates(t *testing.T) {
	s := startServer(t)
	tab := NewTab(t)
	s.SignIn(t, tab, techEmail, techPassword, "")
	tab.Visit(s.URL + "/app/admin/branding")
	tab.WaitVisible("#notice-name")
	tab.WaitText("#notice-preview-subject", "Your password expires in 10 days")
	tab.WaitText("#notice-preview", "The password of your account jdoe expires in 10 days")
	tab.WaitTrue("the verification editor is loaded", `document.querySelectorAll("#msg-name option").length === 8`)
	var notices int
	tab.Eval(`document.querySelectorAll("#notice-name option").length`, &notices)
	assert.Equal(t, 6, notices)
	tab.CheckA11y("branding (notices)")

	tab.Eval(`(() => { const s = document.getElementById("notice-name"); s.value = "notice_locked_sms"; s.dispatchEvent(new Event("change")); })()`, nil)
	tab.WaitText("#notice-preview", "jdoe is locked after too many wrong passwords")
	tab.WaitText("#notice-fields", "{{.Account}}")
	assert.NotContains(t, tab.Text("#notice-fields"), "{{.DaysLeft}}", "a lock-out has no days left")
	assert.Contains(t, tab.Text("#notice-needs"), "Must include {{.Account}}")

	tab.Eval(`document.getElementById("notice-body").value = ""`, nil)
	tab.Type("#notice-body", "{{.Account}} is locked; your code is {{.Code}}")
	tab.WaitText("#notice-preview-info", "{{.Code}} is not a field of this message")
	tab.Click("#notice-save")
	tab.WaitText("#notice-msg", "{{.Code}} is not a field of this message")

	tab.Eval(`document.getElementById("notice-body").value = ""`, nil)
	tab.Type("#notice-body", "{{.Account}} is locked. Call {{.TenantName}} on {{.Branding.SupportPhone}}.")
	tab.WaitText("#notice-preview", "jdoe is locked. Call "+testTenantName+" on")
	tab.Click("#notice-save")
	tab.WaitText("#notice-msg", "Template saved. The next notices use it.")
	tab.WaitText("#notice-name", "Account locked (SMS) (customised)")
	tab.WaitText("#notice-state", "Using your own template.")
	tab.Screenshot("branding-notices")

	branding := func() core.Branding {
		var b core.Branding
		s.updateStore(t, func(ctx context.Context, tx core.Tx) error {
			tn, err := tx.TenantBySlug(ctx, testTenantSlug)
			b = tn.Branding
			return err
		})
		return b
	}
	assert.Equal(t, core.MessageTemplate{Body: "{{.Account}} is locked. Call {{.TenantName}} on {{.Branding.SupportPhone}}."},
		branding().Messages[core.MessageNoticeLockedSMS])

	tab.Click("#notice-reset")
	tab.WaitText("#notice-msg", "Back to the built-in template.")
	tab.WaitText("#notice-state", "Using the built-in template.")
	_, still := branding().Messages[core.MessageNoticeLockedSMS]
	assert.False(t, still)
}
