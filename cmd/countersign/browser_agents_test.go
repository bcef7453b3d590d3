package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBrowserAgents: the admin's Agents page — the client's silent install
// command with its activation key, a computer activated with it listed as
// online with its Windows users, one user assigned to a contact by hand
// (the binding is stored and shown), the key rotated (the old one no longer
// activates), and the computer revoked (its credential is refused).
func TestBrowserAgents(t *testing.T) {
	s := startServer(t)
	pat := s.AddContact(t, "Pat", "Lee", "(555) 010-0155", "pat.lee@contoso.example")
	const sidPat = "S-1-5-21-3623811015-3361044348-30300820-1102"
	status, body := s.API.do("GET", "/clients/"+s.ClientID+"/activation-key", nil)
	require.Equal(t, http.StatusOK, status, body)
	key := body["activation_key"].(string)
	device := map[string]any{"name": "CONTOSO-PC7", "os": "Windows 11 Pro 24H2", "domain": "CONTOSO", "agent_version": "1.0.0",
		"users": []map[string]any{{"sid": sidPat, "account": `CONTOSO\plee`, "upn": "plee@contoso.example", "display_name": "Pat Lee", "logged_on": true},
			{"sid": "S-1-5-21-1-2-3-500", "account": `CONTOSO-PC7\Administrator`, "local": true}}}
	status, body = s.agentPost(t, "/agent/v1/activate", "", map[string]any{"activation_key": key, "device": device})
	require.Equal(t, http.StatusCreated, status, body)
	cred := body["credential"].(string)
	deviceID := body["device_id"].(string)

	tab := NewTab(t)
	s.SignIn(t, tab, techEmail, techPassword, "")
	tab.Visit(s.URL + "/app/admin/agents")
	tab.WaitText("#ag-caption", "1 computer")
	// The install command comes from its own request, which may answer
	// after the list (it did under CI load).
	tab.WaitTrue("the install command", `document.getElementById("ag-install").value.includes("ACTIVATIONKEY")`)
	var install string
	tab.Eval(`document.getElementById("ag-install").value`, &install)
	assert.Contains(t, install, `ACTIVATIONKEY="`+key+`"`)
	assert.Contains(t, install, `SERVERURL="`+s.URL+`"`)
	row := tab.Text("#agent-" + deviceID)
	assert.Contains(t, row, "CONTOSO-PC7")
	assert.Contains(t, row, "Online")
	assert.Contains(t, row, "Windows 11 Pro 24H2")
	tab.CheckA11y("agents")
	tab.CheckKeyboard("agents")

	tab.Click(`#agent-` + deviceID + ` button[aria-label="Users of CONTOSO-PC7"]`)
	tab.WaitText(`tr[data-sid="`+sidPat+`"]`, "Not bound")
	assert.Contains(t, tab.Text("#ag-users-table"), `CONTOSO-PC7\Administrator (local account)`)
	tab.Click(`tr[data-sid="` + sidPat + `"] button`)
	tab.WaitText("#ag-users-msg", "Choose the contact Pat Lee is, first.")
	tab.Eval(`(() => { const s = document.querySelector('tr[data-sid="`+sidPat+`"] select'); s.value = "`+pat+`"; return s.value; })()`, nil)
	tab.Click(`tr[data-sid="` + sidPat + `"] button`)
	tab.WaitText(`tr[data-sid="`+sidPat+`"]`, "Pat Lee (by hand)")
	tab.WaitText("#ag-users-msg", "Pat Lee is now bound to Pat Lee.")
	assert.Equal(t, pat, s.binding(t, sidPat), "the binding is stored")
	tab.Screenshot("agents")

	tab.Eval(`window.confirm = () => true`, nil)
	tab.Click("#ag-rotate")
	tab.WaitText("#ag-key-msg", "the old one no longer activates")
	tab.Eval(`document.getElementById("ag-install").value`, &install)
	assert.NotContains(t, install, key, "the command carries the new key")
	status, body = s.agentPost(t, "/agent/v1/activate", "", map[string]any{"activation_key": key, "device": device})
	assert.Equal(t, http.StatusUnauthorized, status, "the old key no longer activates: %v", body)

	tab.Click(`#agent-` + deviceID + ` button[aria-label="Revoke CONTOSO-PC7"]`)
	tab.WaitText("#ag-msg", "CONTOSO-PC7 is revoked.")
	tab.WaitText("#agent-"+deviceID, "Revoked")
	status, _ = s.agentPost(t, "/agent/v1/heartbeat", cred, device)
	assert.Equal(t, http.StatusUnauthorized, status, "a revoked computer's credential is refused")
	assert.False(t, strings.Contains(s.Logs.String(), cred), "the credential is never logged")
}
