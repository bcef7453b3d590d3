package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/agent/directory"
	"github.com/countersign/countersign/core"
)

// agentPost posts body as JSON to the agent API with the device credential
// cred ("" for none) and returns the status and the decoded answer.
func (s *testServer) agentPost(t *testing.T, path, cred string, body any) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+s.Addr+path, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

// activateHarvester activates an agent for the test client, as an admin
// does with the client's activation key, and returns its credential.
func (s *testServer) activateHarvester(t *testing.T) string {
	t.Helper()
	status, body := s.API.do("GET", "/clients/"+s.ClientID+"/activation-key", nil)
	require.Equal(t, http.StatusOK, status, body)
	status, body = s.agentPost(t, "/agent/v1/activate", "", map[string]any{"activation_key": body["activation_key"],
		"device": map[string]any{"name": "CONTOSO-DC1", "os": "Windows Server 2022", "domain": "CONTOSO", "agent_version": "1.0.0"}})
	require.Equal(t, http.StatusCreated, status, body)
	return body["credential"].(string)
}

// binding returns the contact a SID of the test client is bound to, "" for none.
func (s *testServer) binding(t *testing.T, sid string) string {
	t.Helper()
	var contactID string
	s.updateStore(t, func(ctx context.Context, tx core.Tx) error {
		tn, err := tx.TenantBySlug(ctx, testTenantSlug)
		if err != nil {
			return err
		}
		b, err := tx.Binding(ctx, tn.ID, s.ClientID, sid)
		if errors.Is(err, core.ErrNotFound) {
			return nil
		}
		contactID = b.ContactID
		return err
	})
	return contactID
}

// TestBrowserDirectoryMatches: a harvester uploads the client's directory
// (the agent's own wire type, directory.Result); the admin's match report
// shows the counts and each status — by e-mail, by phone, a name-only
// suggestion, a conflict, unmatched — filters by status and text, accepts a
// suggestion and settles a conflict per candidate, accepts two rows in
// bulk (each becomes a binding), and takes one back with "Undo: reject";
// then the self-serve switches: off for everyone by default, users on in
// bulk but unable while the tenant's switch is off, able once it is on
// when an e-mail and a mobile are known (saying what is missing when not),
// one user off on their row, the switches kept across a reload.
func TestBrowserDirectoryMatches(t *testing.T) {
	s := startServer(t)
	pat := s.AddContact(t, "Pat", "Lee", "(555) 010-0155", "pat.lee@contoso.example")
	alex := s.AddContact(t, "Alex", "Morgan", "(555) 010-0177", "amorgan@contoso.example")
	kim := s.AddContact(t, "Kim", "Frontdesk", "(555) 010-0181", "desk@contoso.example")
	s.AddContact(t, "Lou", "Frontdesk", "(555) 010-0182", "desk@contoso.example")

	const (
		gSam, sSam   = "1a2b3c4d-0000-4000-8000-00000000000a", "S-1-5-21-3623811015-3361044348-30300820-1101"
		gPat, sPat   = "1a2b3c4d-0000-4000-8000-00000000000b", "S-1-5-21-3623811015-3361044348-30300820-1102"
		gAlex, sAlex = "1a2b3c4d-0000-4000-8000-00000000000c", "S-1-5-21-3623811015-3361044348-30300820-1103"
		gDesk, sDesk = "1a2b3c4d-0000-4000-8000-00000000000d", "S-1-5-21-3623811015-3361044348-30300820-1104"
		gNone, sNone = "1a2b3c4d-0000-4000-8000-00000000000e", "S-1-5-21-3623811015-3361044348-30300820-1105"
	)
	user := func(guid, sid, sam, given, sur, mail, mobile string) directory.User {
		u := directory.User{GUID: guid, SID: sid, DN: "CN=" + given + " " + sur + ",OU=Staff,DC=contoso,DC=example",
			SAMAccountName: sam, UPN: sam + "@contoso.example", GivenName: given, Surname: sur, DisplayName: given + " " + sur,
			Mail: mail, Mobile: mobile, Enabled: true, USNChanged: 4100}
		if mail != "" {
			u.ProxyAddresses = []string{mail}
		}
		return u
	}
	cred := s.activateHarvester(t)
	status, body := s.agentPost(t, "/agent/v1/directory", cred, directory.Result{Full: true, Reason: "first sync", Users: []directory.User{
		user(gSam, sSam, "scaller", "Sam", "Caller", "Sam@Contoso.example", ""),
		user(gPat, sPat, "plee", "Pat", "Lee", "", "555-010-0155"),
		user(gAlex, sAlex, "amorgan2", "Alex", "Morgan", "", ""),
		user(gDesk, sDesk, "frontdesk", "Front", "Desk", "desk@contoso.example", ""),
		user(gNone, sNone, "nobody", "Norah", "Body", "norah@contoso.example", ""),
	}, Policy: directory.Policy{MinPasswordLength: 7}, State: directory.State{DC: "dc1.contoso.example", USN: 4100}})
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, 5.0, body["added"])

	tab := NewTab(t)
	s.SignIn(t, tab, techEmail, techPassword, "")
	tab.Visit(s.URL + "/app/admin/directory")
	tab.WaitText("#dir-caption", "Users 1–5 of 5")
	count := func(name string) string { return tab.Text(`[data-count="` + name + `"]`) }
	assert.Equal(t, "2", count("matched"))
	assert.Equal(t, "1", count("suggested"))
	assert.Equal(t, "1", count("conflicting"))
	assert.Equal(t, "1", count("unmatched"))
	assert.Equal(t, "0", count("accepted"))
	assert.Contains(t, tab.Text("#row-"+gSam), "by e-mail")
	assert.Contains(t, tab.Text("#row-"+gPat), "by phone")
	assert.Contains(t, tab.Text("#row-"+gAlex), "by name only")
	assert.Contains(t, tab.Text("#row-"+gDesk), "Conflicting")
	assert.Contains(t, tab.Text("#row-"+gNone), "No contact to propose")
	assert.NotContains(t, tab.Text("#row-"+gPat), "555-010-0155", "the contact's phone is masked")
	assert.NotContains(t, tab.Text("#row-"+gSam), "Sam@Contoso.example", "addresses are compared and shown in lower case, once")
	tab.CheckA11y("directory matches")
	tab.CheckKeyboard("directory matches")
	tab.Screenshot("directory-matches")

	// Filters: by status, then by text.
	tab.Eval(`(() => { const s = document.getElementById("dir-status"); s.value = "suggested"; s.dispatchEvent(new Event("change")); return true; })()`, new(bool))
	tab.WaitText("#dir-caption", "of 1")
	tab.WaitVisible("#row-" + gAlex)
	tab.Click("#accept-" + gAlex + "-" + alex)
	tab.WaitText("#dir-msg", "Alex Morgan is now bound to Alex Morgan.")
	tab.WaitText(`[data-count="accepted"]`, "1")
	assert.Equal(t, alex, s.binding(t, sAlex), "accepting the suggestion bound the user")

	tab.Eval(`(() => { const s = document.getElementById("dir-status"); s.value = ""; s.dispatchEvent(new Event("change")); return true; })()`, new(bool))
	tab.Type("#dir-q", "NORAH")
	tab.Click("#dir-apply")
	tab.WaitText("#dir-caption", "Users 1–1 of 1")
	tab.WaitVisible("#row-" + gNone)
	tab.Eval(`document.getElementById("dir-q").value = ""`, new(string))
	tab.Click("#dir-apply")
	tab.WaitText("#dir-caption", "of 5")

	// A conflict is settled per candidate: Kim is the front desk.
	tab.Click("#accept-" + gDesk + "-" + kim)
	tab.WaitText("#dir-msg", "is now bound to Kim Frontdesk.")
	assert.Equal(t, kim, s.binding(t, sDesk))

	// Bulk: select Sam and Pat, accept both.
	tab.Click("#sel-" + gSam)
	tab.Click("#sel-" + gPat)
	tab.WaitText("#dir-sel-count", "2 selected")
	tab.Click("#dir-accept-sel")
	tab.WaitText("#dir-msg", "2 matches accepted.")
	tab.WaitText(`[data-count="accepted"]`, "4")
	assert.Equal(t, s.ContactID, s.binding(t, sSam))
	assert.Equal(t, pat, s.binding(t, sPat))
	assert.Contains(t, tab.Text("#row-"+gSam), "Accepted")
	tab.Screenshot("directory-accepted")

	// Bulk on the accepted rows decides nothing more: they are skipped.
	tab.Click("#sel-" + gPat)
	tab.WaitText("#dir-sel-count", "1 selected")
	var disabled bool
	tab.Eval(`document.getElementById("dir-accept-sel").disabled`, &disabled)
	assert.True(t, disabled, "nothing to accept among the selected")
	tab.Click("#sel-" + gPat)

	// Taking one back: the binding goes, the pair is not proposed again.
	tab.Click("#reject-" + gSam + "-" + s.ContactID)
	tab.WaitText("#dir-msg", "will not be proposed as Sam Caller again.")
	tab.WaitText("#row-"+gSam, "Unmatched")
	assert.Empty(t, s.binding(t, sSam), "the rejected match is still bound")
	assert.Equal(t, "3", count("accepted"))
	tab.CheckA11y("directory matches (decided)")

	// The page keeps the client in its address; a reload shows the same.
	tab.Visit(s.URL + "/app/admin/directory?client=" + s.ClientID)
	tab.WaitText("#dir-caption", "of 5")
	tab.WaitText("#row-"+gPat, "Accepted")

	// Self-serve: off for everyone by default; every user turned on in
	// bulk is still not able to use it while the tenant's switch is off.
	var checked bool
	tab.Eval(`document.getElementById("ss-enabled").checked`, &checked)
	assert.False(t, checked, "self-serve is off until an admin turns it on")
	assert.Regexp(t, `^Off\s+Turn on$`, tab.Text("#row-"+gPat+" td:last-child"))
	tab.Click("#dir-all")
	tab.WaitText("#dir-sel-count", "5 selected")
	tab.Click("#dir-ss-on")
	tab.WaitText("#dir-msg", "Self-serve is on for 5 users.")
	tab.WaitText(`[data-count="selfserve_on"]`, "5")
	assert.Equal(t, "0", count("selfserve_active"))
	tab.WaitText("#row-"+gPat, "self-serve is off for everyone")

	// The tenant's switch on: users with an e-mail and a mobile (their own
	// or their bound contact's) can use it; Sam (unbound, no mobile in the
	// directory) and Norah cannot, and say why.
	tab.Click("#ss-enabled")
	tab.Click("#ss-save")
	tab.WaitText("#ss-msg", "Saved: self-serve is on")
	tab.WaitText(`[data-count="selfserve_active"]`, "3")
	assert.Contains(t, tab.Text("#row-"+gSam), "no mobile number")
	assert.Contains(t, tab.Text("#row-"+gNone), "no mobile number")
	tab.CheckA11y("directory self-serve")
	tab.Screenshot("directory-selfserve")

	// One user off on their row.
	tab.Click("#ss-" + gPat)
	tab.WaitText("#dir-msg", "Self-serve is off for Pat Lee.")
	tab.WaitText(`[data-count="selfserve_active"]`, "2")
	_, body = s.API.do("GET", "/clients/"+s.ClientID+"/directory/matches?q=plee", nil)
	rows := body["matches"].([]any)
	require.Len(t, rows, 1)
	assert.Equal(t, false, rows[0].(map[string]any)["selfserve"].(map[string]any)["enabled"])

	// Saved switches survive a reload.
	tab.Visit(s.URL + "/app/admin/directory")
	tab.WaitText("#dir-caption", "of 5")
	tab.WaitTrue("the tenant's switch shown on", `document.getElementById("ss-enabled").checked === true`)
	tab.Eval(`document.getElementById("ss-new").checked`, &checked)
	assert.False(t, checked)

	// Locked out of the reset page by wrong codes: an admin clears it on
	// the user's row.
	s.updateStore(t, func(ctx context.Context, tx core.Tx) error {
		tn, err := tx.TenantBySlug(ctx, testTenantSlug)
		if err != nil {
			return err
		}
		return tx.SetSelfServeFailures(ctx, tn.ID, s.ClientID, gPat, 10, time.Now())
	})
	tab.Visit(s.URL + "/app/admin/directory?client=" + s.ClientID)
	tab.WaitVisible("#ss-unlock-" + gPat)
	tab.CheckA11y("directory self-serve lockout")
	tab.Click("#ss-unlock-" + gPat)
	tab.WaitText("#dir-msg", "Pat Lee can use self-serve again.")
	tab.WaitTrue("the button gone", `!document.getElementById("ss-unlock-`+gPat+`")`)
}

var welcomeInMail = regexp.MustCompile(`http://localhost:\d+/w/[a-z0-9-]+/[A-Za-z0-9_-]{43}`)

// waitForWelcome waits for the next welcome e-mail to to after the first
// `seen` messages of the SMTP fake and returns its link.
func (s *testServer) waitForWelcome(t *testing.T, to string, seen int) string {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		msgs := s.Mail.Messages()
		for _, m := range msgs[min(seen, len(msgs)):] {
			if containsAddr(m.To, to) {
				link := welcomeInMail.FindString(m.Text)
				require.NotEmpty(t, link, "no welcome link in the email:\n%s", m.Text)
				require.True(t, strings.HasPrefix(link, s.URL+"/w/"), "the link %s is not under the public URL %s", redactLink(link), s.URL)
				return link
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no welcome e-mail to %s in %s", to, waitTimeout)
	return ""
}

// TestBrowserDirectoryWelcome: the admin's "Send welcome e-mails" sends one
// to each user of the client waiting for it (self-serve on, e-mail and
// mobile known) and says how many; pressed again, it finds no one. In a
// fresh browser (no session), the e-mail's link shows the masked mobile and
// two buttons; "Yes" makes the user Registration Complete (seen on the
// admin's page), the link then reads as answered; the other user's "not my
// number" is acknowledged and leaves their status alone.
func TestBrowserDirectoryWelcome(t *testing.T) {
	s := startServer(t)
	const (
		gPat, sPat = "2a2b3c4d-0000-4000-8000-00000000000b", "S-1-5-21-3623811015-3361044348-30300820-1202"
		gSam, sSam = "2a2b3c4d-0000-4000-8000-00000000000a", "S-1-5-21-3623811015-3361044348-30300820-1201"
		gNo, sNo   = "2a2b3c4d-0000-4000-8000-00000000000e", "S-1-5-21-3623811015-3361044348-30300820-1205"
	)
	user := func(guid, sid, sam, given, sur, mail, mobile string) directory.User {
		return directory.User{GUID: guid, SID: sid, DN: "CN=" + given + " " + sur + ",OU=Staff,DC=contoso,DC=example",
			SAMAccountName: sam, UPN: sam + "@contoso.example", GivenName: given, Surname: sur, DisplayName: given + " " + sur,
			Mail: mail, Mobile: mobile, Enabled: true, USNChanged: 4100}
	}
	cred := s.activateHarvester(t)
	status, body := s.agentPost(t, "/agent/v1/directory", cred, directory.Result{Full: true, Reason: "first sync", Users: []directory.User{
		user(gPat, sPat, "plee", "Pat", "Lee", "pat.lee@contoso.example", "(555) 010-0155"),
		user(gSam, sSam, "scaller", "Sam", "Caller", "sam.caller@contoso.example", "(555) 010-0166"),
		user(gNo, sNo, "nobody", "Norah", "Body", "norah@contoso.example", ""),
	}, Policy: directory.Policy{MinPasswordLength: 7}, State: directory.State{DC: "dc1.contoso.example", USN: 4100}})
	require.Equal(t, http.StatusOK, status, body)
	status, body = s.API.do("PUT", "/admin/directory/settings", map[string]any{"enabled": true})
	require.Equal(t, http.StatusOK, status, body)
	status, body = s.API.do("POST", "/clients/"+s.ClientID+"/directory/selfserve", map[string]any{"guids": []string{gPat, gSam, gNo}, "enabled": true})
	require.Equal(t, http.StatusOK, status, body)

	admin := NewTab(t)
	s.SignIn(t, admin, techEmail, techPassword, "")
	admin.Visit(s.URL + "/app/admin/directory")
	admin.WaitText("#dir-caption", "Users 1–3 of 3")
	seen := len(s.Mail.Messages())
	admin.Click("#dir-welcome")
	admin.WaitText("#dir-welcome-msg", "Welcome e-mails sent to 2 users.")
	admin.CheckA11y("directory welcome sent")
	admin.Screenshot("directory-welcome-sent")
	patLink := s.waitForWelcome(t, "pat.lee@contoso.example", seen)
	samLink := s.waitForWelcome(t, "sam.caller@contoso.example", seen)
	for _, m := range s.Mail.Messages()[seen:] {
		assert.False(t, containsAddr(m.To, "norah@contoso.example"), "Norah has no mobile: no welcome")
	}
	admin.Click("#dir-welcome")
	admin.WaitText("#dir-welcome-msg", "No one is waiting for a welcome e-mail.")

	// The end user, in a browser with no session.
	u := NewTab(t)
	u.Visit(patLink)
	u.WaitVisible("#wl-yes")
	assert.Contains(t, u.Text("#wl-mobile"), "55", "the end of the number is shown")
	assert.NotContains(t, u.Text("#wl-mobile"), "010-0155")
	assert.NotContains(t, u.Text("#wl-mobile"), "5550100155")
	u.SetViewport(360, 740)
	u.CheckA11y("welcome form (360 px)")
	u.SetViewport(1024, 768)
	u.CheckA11y("welcome form")
	u.CheckKeyboard("welcome form")
	u.ScreenshotWidths("welcome-form")
	u.Submit("#wl-yes")
	u.WaitVisible(".result.confirmed")
	assert.Contains(t, u.Text("#wl-result"), "Your mobile number is confirmed")
	u.CheckA11y("welcome confirmed")
	u.ScreenshotWidths("welcome-confirmed")
	u.Visit(patLink)
	u.WaitVisible(".result.used")

	admin.Visit(s.URL + "/app/admin/directory")
	admin.WaitText("#row-"+gPat, "Registration Complete")

	u.Visit(samLink)
	u.Submit("#wl-no")
	u.WaitVisible(".result.declined")
	assert.Contains(t, u.Text("#wl-result"), "will correct your mobile number")
	u.CheckA11y("welcome declined")
	admin.Visit(s.URL + "/app/admin/directory")
	admin.WaitText("#dir-caption", "of 3")
	assert.NotContains(t, admin.Text("#row-"+gSam), "Registration Complete")
}

// agentGet sends a GET to the agent API with the device credential and
// returns the status and the raw answer.
func (s *testServer) agentGet(t *testing.T, path, cred string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+s.Addr+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+cred)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, raw
}

// TestBrowserSelfServeReset: the end-user reset page in chromium. Pat
// confirms the mobile from the welcome e-mail, then on the tenant's page
// names the account, gets the code by SMS, types it with a new password
// (a password the page refuses first, which keeps the code usable) and
// sees the request on its way; the harvester's long-poll gets the reset
// with the password, reports it done, and "Check again" shows it.
func TestBrowserSelfServeReset(t *testing.T) {
	s := startServer(t)
	const gPat, sPat = "3a2b3c4d-0000-4000-8000-00000000000b", "S-1-5-21-3623811015-3361044348-30300820-1302"
	cred := s.activateHarvester(t)
	status, body := s.agentPost(t, "/agent/v1/directory", cred, directory.Result{Full: true, Reason: "first sync", Users: []directory.User{{
		GUID: gPat, SID: sPat, DN: "CN=Pat Lee,OU=Staff,DC=contoso,DC=example", SAMAccountName: "plee", UPN: "plee@contoso.example",
		GivenName: "Pat", Surname: "Lee", DisplayName: "Pat Lee", Mail: "pat.lee@contoso.example", Mobile: "(555) 010-0155",
		Enabled: true, Locked: true, USNChanged: 4100,
	}}, State: directory.State{DC: "dc1.contoso.example", USN: 4100}})
	require.Equal(t, http.StatusOK, status, body)
	status, body = s.API.do("PUT", "/admin/directory/settings", map[string]any{"enabled": true})
	require.Equal(t, http.StatusOK, status, body)
	status, body = s.API.do("POST", "/clients/"+s.ClientID+"/directory/selfserve", map[string]any{"guids": []string{gPat}, "enabled": true})
	require.Equal(t, http.StatusOK, status, body)
	seen := len(s.Mail.Messages())
	status, body = s.API.do("POST", "/clients/"+s.ClientID+"/directory/welcome", map[string]any{"guids": []string{gPat}})
	require.Equal(t, http.StatusOK, status, body)

	u := NewTab(t)
	u.Visit(s.waitForWelcome(t, "pat.lee@contoso.example", seen))
	u.Submit("#wl-yes")
	u.WaitVisible(".result.confirmed")

	u.Visit(s.URL + "/r/" + testTenantSlug)
	u.WaitVisible("#account")
	u.CheckA11y("self-serve account")
	u.CheckKeyboard("self-serve account")
	u.ScreenshotWidths("selfserve-account")
	smsSeen := len(s.Twilio.Messages())
	u.Type("#account", "plee")
	u.Submit("#ss-send")
	u.WaitVisible("#code")
	assert.Contains(t, u.Text("#ss-sent"), "plee")
	code := s.WaitForSMSCode(t, "+15550100155", smsSeen)
	u.SetViewport(360, 740)
	u.CheckA11y("self-serve code (360 px)")
	u.SetViewport(1024, 768)
	u.CheckA11y("self-serve code")
	u.CheckKeyboard("self-serve code")
	u.ScreenshotWidths("selfserve-code")

	// A password the page refuses: said at the field, the code still works.
	u.Type("#code", code)
	u.Type("#password", "short")
	u.Type("#password2", "short")
	u.Submit("#ss-go")
	u.WaitVisible(`#password[aria-invalid="true"]`)
	assert.Contains(t, u.Text("#password-error"), "at least 8 characters")
	u.CheckA11y("self-serve password refused")

	const newPw = "Spring-Tulip-42"
	u.Type("#code", code)
	u.Type("#password", newPw)
	u.Type("#password2", newPw)
	u.Submit("#ss-go")
	u.WaitText("#ss-result", "carrying it out")
	u.CheckA11y("self-serve queued")
	u.ScreenshotWidths("selfserve-queued")

	// The harvester's side, over the agent API.
	status, raw := s.agentGet(t, "/agent/v1/tasks?wait=5", cred)
	require.Equal(t, http.StatusOK, status, string(raw))
	var tasks struct {
		Tasks []struct {
			ID      string `json:"id"`
			Kind    string `json:"kind"`
			Payload struct {
				GUID     string `json:"guid"`
				Password string `json:"password"`
			} `json:"payload"`
		} `json:"tasks"`
	}
	require.NoError(t, json.Unmarshal(raw, &tasks))
	require.Len(t, tasks.Tasks, 1)
	assert.Equal(t, "directory_reset", tasks.Tasks[0].Kind)
	assert.Equal(t, gPat, tasks.Tasks[0].Payload.GUID)
	assert.Equal(t, newPw, tasks.Tasks[0].Payload.Password)
	status, body = s.agentPost(t, "/agent/v1/tasks/"+tasks.Tasks[0].ID+"/result", cred, map[string]any{"ok": true})
	require.Equal(t, http.StatusNoContent, status, body)

	u.Submit("#ss-again")
	u.WaitText("#ss-result", "Your new password is set")
	u.CheckA11y("self-serve done")
	u.ScreenshotWidths("selfserve-done")
}
