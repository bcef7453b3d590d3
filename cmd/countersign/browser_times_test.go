package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
)

// TestBrowserTimesAndShield checks the times the technician and the end
// user read (issue 12): the admin sets the tenant's time zone on the
// branding page (a zone that is not one is refused, in words); the
// shield, the history and the link page then write every time one way,
// 24-hour in that zone, as core.FormatTime does, with how long ago; and
// the shield keeps its size when it turns green.
func TestBrowserTimesAndShield(t *testing.T) {
	s := startServer(t)
	tech := NewTab(t)
	s.SignIn(t, tech, techEmail, techPassword, "")

	// The tenant's time zone, set by an admin.
	tech.Visit(s.URL + "/app/admin/branding")
	tech.WaitVisible("#brand-time-zone")
	tech.Type("#brand-time-zone", "Mars/Olympus_Mons")
	tech.Click("#brand-save")
	tech.WaitText("#brand-msg", "is not a time zone name")
	tech.Eval(`document.getElementById("brand-time-zone").value = ""`, new(string))
	tech.Type("#brand-time-zone", "Asia/Kolkata")
	tech.Click("#brand-save")
	tech.WaitText("#brand-msg", "Branding saved.")
	loc, err := time.LoadLocation("Asia/Kolkata")
	require.NoError(t, err)

	tech.Visit(s.URL + "/app")
	tech.WaitVisible("#search")
	openContact(t, tech, "Sam", "Sam Caller")
	tech.WaitStable("#card", 300*time.Millisecond)
	type box struct{ W, H float64 }
	shieldBox := func() box {
		var b box
		tech.Eval(`(() => { const r = document.getElementById("shield").getBoundingClientRect(); return {W: r.width, H: r.height}; })()`, &b)
		return b
	}
	grey := shieldBox()
	require.Greater(t, grey.W, 0.0)
	tech.Screenshot("times-shield-grey")

	seen := len(s.Twilio.Messages())
	tech.Click(`button[data-method="sms_code"]`)
	code := s.WaitForSMSCode(t, "+15550100142", seen)
	tech.WaitVisible("#code")
	tech.Type("#code", code)
	tech.Click(`#check button[type="submit"]`)
	tech.WaitClass("#shield", "green")
	tech.WaitStable("#card", 300*time.Millisecond)
	assert.Equal(t, grey, shieldBox(), "the shield keeps its size when it turns green")

	var id string
	tech.Eval(`document.querySelector("#history li") && card.contact().history[0].id`, &id)
	require.NotEmpty(t, id)
	v := s.Verification(t, id)
	at := func(key string) time.Time {
		ts, err := time.Parse(time.RFC3339Nano, v[key].(string))
		require.NoError(t, err, key)
		return ts
	}
	now := time.Now()
	want := "Verified by Jane Tech via SMS code at " + core.FormatTime(at("completed_at"), now, loc) + " (just now) · valid until " +
		core.FormatTime(at("verified_until"), now, loc)
	var shield string
	tech.Eval(`document.getElementById("shield").textContent`, &shield)
	assert.Equal(t, want, shield)
	assert.True(t, strings.HasPrefix(tech.Text("#history li"), core.FormatTime(at("created_at"), now, loc)+" (just now) — SMS code"),
		"history: %q", tech.Text("#history li"))
	assert.Regexp(t, `^\d\d:\d\d `, tech.Text("#history li"), "24-hour, no AM/PM")
	assert.NotRegexp(t, `(?i)\b[AP]M\b|UTC`, tech.Text("#card"), "one format: no 12-hour clock, no other zone")
	tech.Screenshot("times-shield-green")

	// The link page the end user opens says when it was asked for, the
	// same way, in the tenant's zone.
	lid, _, link := s.StartLink(t, s.ContactID, "sam@contoso.example")
	user := NewTab(t)
	user.Visit(link)
	user.WaitVisible("time")
	lv := s.Verification(t, lid)
	created, err := time.Parse(time.RFC3339Nano, lv["created_at"].(string))
	require.NoError(t, err)
	requested := user.Text("time")
	assert.Regexp(t, regexp.MustCompile(`^\d\d:\d\d \((just now|1 min ago)\)$`), requested)
	assert.True(t, strings.HasPrefix(requested, core.FormatTime(created, time.Now(), loc)+" ("), "link page: %q", requested)
	user.Screenshot("times-link-page")
}

// TestBrowserAdminTimes checks that the admin pages write times as every
// other page does (issue 12): in the tenant's time zone, 24-hour, as
// core.FormatTime, not in the browser's own zone and locale.
func TestBrowserAdminTimes(t *testing.T) {
	s := startServer(t)
	s.SetBranding(t, core.Branding{TimeZone: "Asia/Kolkata"})
	loc, err := time.LoadLocation("Asia/Kolkata")
	require.NoError(t, err)
	tech := NewTab(t)
	s.SignIn(t, tech, techEmail, techPassword, "")

	tech.Visit(s.URL + "/app/admin/audit")
	tech.WaitTrue("the audit log", `document.querySelectorAll("#audit-table tbody tr").length > 0`)
	var seq, shown string
	tech.Eval(`document.querySelector("#audit-table tbody tr td:nth-child(1)").textContent`, &seq)
	tech.Eval(`document.querySelector("#audit-table tbody tr td:nth-child(2)").textContent`, &shown)
	status, body := s.API.do("GET", "/admin/audit", nil)
	require.Equal(t, 200, status, body)
	var at time.Time
	for _, e := range body["events"].([]any) {
		ev := e.(map[string]any)
		if fmt.Sprint(ev["seq"]) == seq {
			at, err = time.Parse(time.RFC3339Nano, ev["at"].(string))
			require.NoError(t, err)
		}
	}
	require.False(t, at.IsZero(), "event %s in the API", seq)
	assert.Equal(t, core.FormatTime(at, time.Now(), loc), shown, "the audit log's time")

	tech.Visit(s.URL + "/app/admin/technicians")
	tech.WaitTrue("the team", `document.getElementById("tech-table").textContent.includes("last sign-in")`)
	var team string
	tech.Eval(`document.getElementById("tech-table").textContent`, &team)
	assert.Regexp(t, `last sign-in \d\d:\d\d`, team, "24-hour, the tenant's zone")
	assert.NotRegexp(t, `[AP]M`, team)
}

// TestBrowserAuditRangeInTenantZone: the audit page's From and To are read
// in the tenant's time zone (Pacific/Auckland), the zone its times are
// written in, with the browser in UTC (issue 12). Before, the page turned
// them into instants in the browser's zone, 13 hours off.
func TestBrowserAuditRangeInTenantZone(t *testing.T) {
	s := startServer(t)
	s.SetBranding(t, core.Branding{TimeZone: "Pacific/Auckland"})
	loc, err := time.LoadLocation("Pacific/Auckland")
	require.NoError(t, err)
	tech := NewTab(t)
	tech.Run("the browser in UTC", emulation.SetTimezoneOverride("UTC"))
	s.SignIn(t, tech, techEmail, techPassword, "")
	var browserZone string
	tech.Eval(`Intl.DateTimeFormat().resolvedOptions().timeZone`, &browserZone)
	require.Equal(t, "UTC", browserZone)

	tech.Visit(s.URL + "/app/admin/audit")
	tech.WaitTrue("the audit log", `document.querySelectorAll("#audit-table tbody tr").length > 0`)
	assert.Contains(t, tech.Text("#audit-time-hint"), "Pacific/Auckland")
	status, body := s.API.do("GET", "/admin/audit?limit=1", nil)
	require.Equal(t, 200, status, body)
	newest := body["events"].([]any)[0].(map[string]any)
	at, err := time.Parse(time.RFC3339Nano, newest["at"].(string))
	require.NoError(t, err)
	seq := fmt.Sprint(newest["seq"])
	// What an admin in Auckland types: the minute before the newest event.
	typed := at.Add(-time.Minute).In(loc).Format("2006-01-02T15:04")

	filter := func(from, to string) []string {
		t.Helper()
		tech.Eval(`(() => { document.getElementById("audit-from").value = `+jsString(from)+`;
			document.getElementById("audit-to").value = `+jsString(to)+`;
			document.getElementById("audit-caption").textContent = ""; return true; })()`, new(bool))
		tech.Click("#audit-apply")
		tech.WaitTrue("the filtered log", `document.getElementById("audit-caption").textContent !== ""`)
		var seqs []string
		tech.Eval(`[...document.querySelectorAll("#audit-table tbody tr td:first-child")].map(td => td.textContent)`, &seqs)
		return seqs
	}
	assert.Contains(t, filter(typed, ""), seq, "from a minute before the newest event, Auckland time")
	assert.NotContains(t, filter("", typed), seq, "until a minute before it")
	tech.Screenshot("audit-range-tenant-zone")
}
