package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/agent/directory"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/core/psa/memory"
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

// TestBrowserPodTechUnlock: the same card in a pod, inside the PSA's
// ticket screen. Pat (the ticket's contact, mirrored from the PSA) has a
// directory account bound by an accepted match; the technician verifies
// Pat in the pod, presses Unlock, the harvester carries it out, the pod
// shows it done, and the result lands on the PSA ticket as a note beside
// the verification's own.
func TestBrowserPodTechUnlock(t *testing.T) {
	s := startServer(t)
	psaSrv := memory.NewServer("psa-key-77")
	psaSrv.Seed([]psa.Company{{Ref: "co1", Name: "Fabrikam"}},
		[]psa.Contact{{Ref: "c1", CompanyRef: "co1", FirstName: "Pat", LastName: "Pod",
			Phones: []psa.Phone{{Number: "(555) 010-0177", Label: "Mobile", Default: true}}, Emails: []psa.Email{{Address: "pat@fabrikam.example", Default: true}}}},
		[]psa.Ticket{{Ref: "900", Summary: "Locked out", CompanyRef: "co1", ContactRef: "c1"}})
	psaURL := ServeOtherOrigin(t, psaSrv)
	intID := s.AddIntegration(t, memory.ID, "Fabrikam PSA", memory.Config{BaseURL: psaURL, APIKey: "psa-key-77"})
	podURL := s.URL + "/pod/" + testTenantSlug + "/" + intID

	tab := NewTab(t)
	tab.SetViewport(1000, 900)
	tab.Visit(fmt.Sprintf("%s/ui/ticket/900?width=600&pod=%s", psaURL, url.QueryEscape(podURL+"?w=600")))
	pod := tab.FrameTab(t, "w=600")
	s.signInPopOut(t, pod, techEmail, techPassword, "")
	pod.WaitText("#contact-name", "Pat Pod")

	// The pod mirrored Pat; the harvester of Pat's client reports Pat's
	// account, and an admin accepts the match.
	status, body := s.API.do("GET", "/contacts?q=Pat", nil)
	require.Equal(t, http.StatusOK, status, body)
	list := body["contacts"].([]any)
	require.Len(t, list, 1, "%v", body)
	pat := list[0].(map[string]any)
	patID, clientID := pat["id"].(string), pat["client_id"].(string)
	status, body = s.API.do("GET", "/clients/"+clientID+"/activation-key", nil)
	require.Equal(t, http.StatusOK, status, body)
	status, body = s.agentPost(t, "/agent/v1/activate", "", map[string]any{"activation_key": body["activation_key"],
		"device": map[string]any{"name": "FABRIKAM-DC1", "os": "Windows Server 2022", "domain": "FABRIKAM", "agent_version": "1.0.0"}})
	require.Equal(t, http.StatusCreated, status, body)
	cred := body["credential"].(string)
	const gPat = "6a2b3c4d-0000-4000-8000-00000000000b"
	status, body = s.agentPost(t, "/agent/v1/directory", cred, directory.Result{Full: true, Reason: "first sync", Users: []directory.User{{
		GUID: gPat, SID: "S-1-5-21-3623811015-3361044348-30300820-1501", DN: "CN=Pat Pod,OU=Staff,DC=fabrikam,DC=example",
		SAMAccountName: "ppod", UPN: "ppod@fabrikam.example", GivenName: "Pat", Surname: "Pod", DisplayName: "Pat Pod",
		Mail: "pat@fabrikam.example", Enabled: true, Locked: true, USNChanged: 10,
	}}, State: directory.State{DC: "dc1.fabrikam.example", USN: 10}})
	require.Equal(t, http.StatusOK, status, body)
	status, body = s.API.do("POST", "/clients/"+clientID+"/directory/matches", map[string]any{
		"choices": []map[string]any{{"guid": gPat, "contact_id": patID, "accept": true}}})
	require.Equal(t, http.StatusNoContent, status, body)

	seen := len(s.Twilio.Messages())
	pod.Click(`button[data-method="sms_code"]`)
	pod.WaitVisible("#check")
	code := s.WaitForSMSCode(t, "+15550100177", seen)
	pod.Type("#code", code)
	pod.Click(`#check button[type="submit"]`)
	pod.WaitClass("#shield", "green")
	pod.WaitVisible("#dir-unlock")
	assert.Contains(t, pod.Text("#dir-account"), "ppod")
	pod.CheckA11y("pod (directory account)")
	pod.Click("#dir-unlock")
	pod.WaitText("#dir-results", "waiting for the result")

	status, raw := s.agentGet(t, "/agent/v1/tasks?wait=5", cred)
	require.Equal(t, http.StatusOK, status, string(raw))
	var tasks struct {
		Tasks []struct {
			ID   string `json:"id"`
			Kind string `json:"kind"`
		} `json:"tasks"`
	}
	require.NoError(t, json.Unmarshal(raw, &tasks))
	require.Len(t, tasks.Tasks, 1)
	assert.Equal(t, "directory_unlock", tasks.Tasks[0].Kind)
	status, body = s.agentPost(t, "/agent/v1/tasks/"+tasks.Tasks[0].ID+"/result", cred, map[string]any{"ok": true})
	require.Equal(t, http.StatusNoContent, status, body)
	pod.WaitText("#dir-results", "Unlock: done")
	tab.Screenshot("pod-directory-unlocked")

	deadline := time.Now().Add(waitTimeout)
	for len(psaSrv.Notes("900")) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	notes := psaSrv.Notes("900")
	require.Len(t, notes, 2, "the verification's note, then the unlock's")
	assert.Contains(t, notes[0].Text, "Pat Pod was VERIFIED by SMS code")
	assert.Contains(t, notes[1].Text, "Account ppod UNLOCKED for Pat Pod by Jane Tech")
	assert.False(t, notes[1].Public)
}
