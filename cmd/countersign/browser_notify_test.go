package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
)

// TestBrowserOnCall: the On call page in chromium. An admin sets the
// schedules' zone, adds a group told about #verify requests, adds a user
// with an SMS way and a rule (every day, all day), copies a technician in
// and one of the MSP's members from the PSA, and the Test view says who is
// on call now; the store has what the page showed, and #verify is then
// available to the tenant's end users.
func TestBrowserOnCall(t *testing.T) {
	s := startServer(t)
	tab := NewTab(t)
	s.SignIn(t, tab, techEmail, techPassword, "")
	tab.Visit(s.URL + "/app/admin/notify")
	tab.WaitVisible("#nt-group-name")
	tab.WaitVisible("#nt-empty")
	tab.CheckA11y("on call (empty)")

	tab.Eval(`document.getElementById("nt-zone").value = ""`, nil)
	tab.Type("#nt-zone", "Europe/London")
	tab.Click("#nt-zone-save")
	tab.WaitText("#nt-zone-msg", "Saved: schedules are read in Europe/London.")

	tab.Type("#nt-group-name", "Service desk")
	tab.Click("#nt-group-add")
	tab.WaitText("#nt-group-msg", "Added Service desk")
	group := `section[data-group="Service desk"]`
	tab.WaitVisible(group)

	tab.Click(group + ` .actions button`)
	tab.WaitVisible("#nt-user-box")
	tab.Type("#nt-user-name", "Dana Day")
	tab.Type("#nt-user-sms", "+15550100401")
	tab.Click("#nt-user-by-sms")
	tab.Click("#nt-rule-add")
	tab.WaitVisible("#nt-r0-start")
	// All day, every day: the rule's default is working hours.
	tab.Eval(`document.getElementById("nt-r0-start").value = "00:00"; document.getElementById("nt-r0-end").value = "24:00";
		for (const cb of document.querySelectorAll("#nt-rules [data-day]")) cb.checked = true;`, nil)
	tab.CheckA11y("on call (user form)")
	tab.Click("#nt-user-save")
	tab.WaitText("#nt-msg", "Saved Dana Day.")
	tab.WaitText(group+` tr[data-user="Dana Day"]`, "SMS +15550100401")
	assert.Contains(t, tab.Text(group+` tr[data-user="Dana Day"]`), "00:00–24:00 Sun Mon Tue Wed Thu Fri Sat")

	tab.Click(group + ` .actions button.secondary`)
	tab.WaitText("#nt-msg", "Copied into Service desk")
	tab.WaitText(group+` tr[data-user="`+techName+`"]`, "no rule: never on call")

	// One of the MSP's technicians as the PSA knows them.
	psaSrv := memory.NewServer("psa-key-93")
	psaSrv.SeedMembers([]psa.Member{{Ref: "7", Identifier: "nina", Name: "Nina Night", Email: "nina@msp.example", Phone: "(555) 010-0108"},
		{Ref: "8", Identifier: "oscar", Name: "Oscar Former", Email: "oscar@msp.example"}}, "8")
	s.AddIntegration(t, memory.ID, "Our PSA", memory.Config{BaseURL: ServeOtherOrigin(t, psaSrv), APIKey: "psa-key-93"})
	tab.Click(group + ` .nt-members-load`)
	tab.WaitVisible(group + ` .nt-members select`)
	assert.Equal(t, "Nina Night (nina@msp.example) — Our PSA", tab.Text(group+` .nt-members select`), "active members only")
	tab.CheckA11y("on call (PSA members)")
	tab.Click(group + ` .nt-members-copy`)
	tab.WaitText("#nt-msg", "Copied into Service desk from the PSA")
	tab.WaitText(group+` tr[data-user="Nina Night"]`, "nina@msp.example")

	tab.Click("#nt-test-run")
	tab.WaitText(`.nt-test-group[data-group="Service desk"] .nt-oncall`, "On call: Dana Day")
	assert.NotContains(t, tab.Text(`.nt-test-group[data-group="Service desk"] .nt-oncall`), techName)
	assert.Contains(t, tab.Text("#nt-test-out"), "(Europe/London)")
	tab.CheckA11y("on call (test)")
	tab.Screenshot("on-call")

	var users []core.NotifyUser
	var zone string
	s.updateStore(t, func(ctx context.Context, tx core.Tx) error {
		tn, err := tx.TenantBySlug(ctx, testTenantSlug)
		if err != nil {
			return err
		}
		if zone, err = tx.NotifyTimeZone(ctx, tn.ID); err != nil {
			return err
		}
		groups, err := tx.ListNotifyGroups(ctx, tn.ID)
		if err != nil || len(groups) != 1 {
			return err
		}
		assert.Equal(t, []core.NotifyEvent{core.NotifyTechVerify}, groups[0].Events, "a new group hears about #verify by default")
		users, err = tx.ListNotifyUsers(ctx, tn.ID, groups[0].ID)
		return err
	})
	assert.Equal(t, "Europe/London", zone)
	require.Len(t, users, 3)
	sources := map[string]string{}
	for _, u := range users {
		sources[u.Name] = u.Source
	}
	assert.Regexp(t, `^psa:int_[a-z0-9]+:7$`, sources["Nina Night"])
}
