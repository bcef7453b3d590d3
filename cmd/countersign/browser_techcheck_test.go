package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBrowserConsoleTechCheck: the tray's "Verify my technician" answer
// reaches the console card of the technician it is about, live. Jamie
// sends Pat an SMS code from the console; Pat, bound on CONTOSO-PC8,
// answers from the tray that Jamie is the technician working with them:
// Jamie's open card says so at once, in green. Tom, a colleague with the
// same card open, is told nothing: the answer is about Jamie. Pat's
// second answer, "not the person", turns Jamie's notice red.
func TestBrowserConsoleTechCheck(t *testing.T) {
	s := startServer(t)
	patID := s.AddContact(t, "Pat", "Check", "(555) 010-0156", "pat.check@contoso.example")
	const sidPat = "S-1-5-21-3623811015-3361044348-30300820-1108"
	status, body := s.API.do("GET", "/clients/"+s.ClientID+"/activation-key", nil)
	require.Equal(t, http.StatusOK, status, body)
	device := map[string]any{"name": "CONTOSO-PC8", "os": "Windows 11 Pro 24H2", "domain": "CONTOSO", "agent_version": "1.0.0",
		"users": []map[string]any{{"sid": sidPat, "account": `CONTOSO\pcheck`, "display_name": "Pat Check", "logged_on": true}}}
	status, body = s.agentPost(t, "/agent/v1/activate", "", map[string]any{"activation_key": body["activation_key"], "device": device})
	require.Equal(t, http.StatusCreated, status, body)
	cred, deviceID := body["credential"].(string), body["device_id"].(string)
	status, body = s.API.do("POST", "/agents/"+deviceID+"/users/"+sidPat+"/assign", map[string]any{"contact_id": patID})
	require.Equal(t, http.StatusOK, status, body)
	status, body = s.API.do("POST", "/admin/technicians", map[string]string{
		"name": "Tom Tech", "email": "tom@acme.example", "role": "technician", "password": techPassword})
	require.Equal(t, http.StatusCreated, status, body)

	jamie := NewTab(t)
	s.SignIn(t, jamie, techEmail, techPassword, "")
	openContact(t, jamie, "Pat", "Pat Check")
	tom := NewTab(t)
	s.SignIn(t, tom, "tom@acme.example", techPassword, "")
	openContact(t, tom, "Pat", "Pat Check")
	tom.WaitText("#live", "Live")
	jamie.WaitText("#live", "Live")
	jamie.Click(`button[data-method="sms_code"]`)
	jamie.WaitVisible("#check")

	status, raw := s.agentGet(t, "/agent/v1/users/"+sidPat+"/technicians", cred)
	require.Equal(t, http.StatusOK, status, "%s", raw)
	var listed struct {
		Technicians []struct{ ID, Name string } `json:"technicians"`
	}
	require.NoError(t, json.Unmarshal(raw, &listed))
	require.Len(t, listed.Technicians, 1, "only Jamie is working with Pat")
	require.Equal(t, techName, listed.Technicians[0].Name)
	techID := listed.Technicians[0].ID

	answered := time.Now()
	status, body = s.agentPost(t, "/agent/v1/users/"+sidPat+"/tech-checks", cred, map[string]any{"technician_id": techID, "answer": "confirm"})
	require.Equal(t, http.StatusCreated, status, body)
	jamie.WaitText("#techcheck", "Pat Check (")
	jamie.WaitText("#techcheck", "confirmed from the Countersign tray on CONTOSO-PC8")
	jamie.WaitText("#techcheck", "that you are the technician working with them")
	jamie.WaitClass("#techcheck", "confirm")
	t.Logf("the tray's answer showed on Jamie's card %v after it was sent", time.Since(answered).Round(time.Millisecond))
	jamie.CheckA11y("console card, tray confirmed the technician")
	jamie.Screenshot("console-techcheck-confirmed")

	status, body = s.agentPost(t, "/agent/v1/users/"+sidPat+"/tech-checks", cred, map[string]any{"technician_id": techID, "answer": "not_the_person"})
	require.Equal(t, http.StatusCreated, status, body)
	jamie.WaitText("#techcheck", "that you are NOT the person on the phone with them")
	jamie.WaitClass("#techcheck", "not_the_person")
	jamie.Screenshot("console-techcheck-not-the-person")

	var tomHidden bool
	tom.Eval(`document.getElementById("techcheck").hidden && document.getElementById("techcheck").textContent === ""`, &tomHidden)
	assert.True(t, tomHidden, "Tom's card on the same contact is told nothing")
}
