package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/agent/directory"
)

// TestBrowserTechUnlock: technician reset and unlock on the console card
// (issue 17.4). Sam's directory account is bound to Sam by an accepted
// match; the technician verifies Sam by SMS code, the card offers the
// directory account, the technician presses Unlock and sees it on its way;
// the harvester's long-poll (the agent API, as the harvester uses it) gets
// the unlock, reports it done, and the card shows the result by itself.
// A second unlock with the same verification is no longer offered (the
// engine tests cover its refusal). Then a reset with a generated password,
// shown once on the card, which the harvester reports refused.
func TestBrowserTechUnlock(t *testing.T) {
	s := startServer(t)
	const gSam, sSam = "5a2b3c4d-0000-4000-8000-00000000000a", "S-1-5-21-3623811015-3361044348-30300820-1401"
	cred := s.activateHarvester(t)
	status, body := s.agentPost(t, "/agent/v1/directory", cred, directory.Result{Full: true, Reason: "first sync", Users: []directory.User{{
		GUID: gSam, SID: sSam, DN: "CN=Sam Caller,OU=Staff,DC=contoso,DC=example", SAMAccountName: "scaller", UPN: "scaller@contoso.example",
		GivenName: "Sam", Surname: "Caller", DisplayName: "Sam Caller", Mail: "sam@contoso.example", Enabled: true, Locked: true, USNChanged: 4100,
	}}, Policy: directory.Policy{MinPasswordLength: 7}, State: directory.State{DC: "dc1.contoso.example", USN: 4100}})
	require.Equal(t, http.StatusOK, status, body)
	status, body = s.API.do("POST", "/clients/"+s.ClientID+"/directory/matches", map[string]any{
		"choices": []map[string]any{{"guid": gSam, "contact_id": s.ContactID, "accept": true}}})
	require.Equal(t, http.StatusNoContent, status, body)

	tech := NewTab(t)
	s.SignIn(t, tech, techEmail, techPassword, "")
	openContact(t, tech, "Sam", "Sam Caller")
	seen := len(s.Twilio.Messages())
	tech.Click(`button[data-method="sms_code"]`)
	code := s.WaitForSMSCode(t, "+15550100142", seen)
	tech.WaitVisible("#code")
	tech.Type("#code", code)
	tech.Click(`#check button[type="submit"]`)
	tech.WaitClass("#shield", "green")

	tech.WaitVisible("#dir-unlock")
	assert.Contains(t, tech.Text("#dir-account"), "scaller")
	assert.Contains(t, tech.Text("#dir-account"), "locked out")
	assert.Contains(t, tech.Text("#dir-why"), "Allowed until")
	tech.CheckA11y("console card (directory account)")
	tech.CheckKeyboard("console card (directory account)")
	tech.Screenshot("console-directory")

	tech.Click("#dir-unlock")
	tech.WaitText("#dir-results", "waiting for the result")
	var hidden bool
	tech.Eval(`document.getElementById("dir-unlock").hidden`, &hidden)
	assert.True(t, hidden, "an unlock per verification: the button is gone")

	// The harvester's side, over the agent API.
	status, raw := s.agentGet(t, "/agent/v1/tasks?wait=5", cred)
	require.Equal(t, http.StatusOK, status, string(raw))
	var tasks struct {
		Tasks []struct {
			ID      string `json:"id"`
			Kind    string `json:"kind"`
			Payload struct {
				GUID     string `json:"guid"`
				Account  string `json:"account"`
				Password string `json:"password"`
			} `json:"payload"`
		} `json:"tasks"`
	}
	require.NoError(t, json.Unmarshal(raw, &tasks))
	require.Len(t, tasks.Tasks, 1)
	assert.Equal(t, "directory_unlock", tasks.Tasks[0].Kind)
	assert.Equal(t, gSam, tasks.Tasks[0].Payload.GUID)
	assert.Equal(t, "scaller", tasks.Tasks[0].Payload.Account)
	assert.Empty(t, tasks.Tasks[0].Payload.Password)
	status, body = s.agentPost(t, "/agent/v1/tasks/"+tasks.Tasks[0].ID+"/result", cred, map[string]any{"ok": true})
	require.Equal(t, http.StatusNoContent, status, body)

	tech.WaitText("#dir-results", "Unlock: done")
	tech.CheckA11y("console card (unlocked)")
	tech.Screenshot("console-directory-unlocked")

	// Reset password: generated (the default), must change at next logon
	// (on by default); the password is shown once, on the card, and is
	// what the harvester gets.
	tech.Click("#dir-reset-open")
	tech.WaitVisible("#dir-generate")
	var checked bool
	tech.Eval(`document.getElementById("dir-must-change").checked && document.getElementById("dir-generate").checked`, &checked)
	assert.True(t, checked, "generate and must-change are the defaults")
	tech.CheckA11y("console card (reset form)")
	tech.Click("#dir-reset-go")
	tech.WaitVisible("#dir-once-value")
	shown := tech.Text("#dir-once-value")
	require.GreaterOrEqual(t, len(shown), 16)
	tech.WaitText("#dir-results", "Password reset: sent to the client's directory server")
	tech.Eval(`document.getElementById("dir-actions").hidden`, &hidden)
	assert.True(t, hidden, "both actions used: nothing more is offered")
	status, raw = s.agentGet(t, "/agent/v1/tasks?wait=5", cred)
	require.Equal(t, http.StatusOK, status, string(raw))
	var resets struct {
		Tasks []struct {
			ID      string `json:"id"`
			Kind    string `json:"kind"`
			Payload struct {
				Password   string `json:"password"`
				MustChange bool   `json:"must_change"`
			} `json:"payload"`
		} `json:"tasks"`
	}
	require.NoError(t, json.Unmarshal(raw, &resets))
	require.Len(t, resets.Tasks, 1)
	assert.Equal(t, "directory_reset", resets.Tasks[0].Kind)
	assert.Equal(t, shown, resets.Tasks[0].Payload.Password)
	assert.True(t, resets.Tasks[0].Payload.MustChange)
	status, body = s.agentPost(t, "/agent/v1/tasks/"+resets.Tasks[0].ID+"/result", cred,
		map[string]any{"ok": false, "error": "the domain refused the new password"})
	require.Equal(t, http.StatusNoContent, status, body)
	tech.WaitText("#dir-results", "Password reset: failed — the domain refused the new password")
	tech.Eval(`document.getElementById("dir-once").hidden`, &hidden)
	assert.True(t, hidden, "a password that was not set is no longer shown")
	tech.CheckA11y("console card (reset failed)")
	tech.Screenshot("console-directory-reset-failed")
}
