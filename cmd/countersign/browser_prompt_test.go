package main

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/countersign/countersign/core/smtp/smtptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// promptTask is what the tray is handed for a prompt.
type promptTask struct {
	VerificationID string   `json:"verification_id"`
	TechnicianName string   `json:"technician_name"`
	MSPName        string   `json:"msp_name"`
	TicketRef      string   `json:"ticket_ref"`
	Choices        []string `json:"choices"`
}

// pollPrompt long-polls as the agent's service does and sends the first
// prompt it gets to the returned channel.
func (s *testServer) pollPrompt(t *testing.T, cred string) <-chan promptTask {
	t.Helper()
	got := make(chan promptTask, 1)
	go func() {
		deadline := time.Now().Add(waitTimeout)
		for time.Now().Before(deadline) {
			// Not agentGet: require must not stop the test from here.
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+s.Addr+"/agent/v1/tasks?wait=5", nil)
			if err != nil {
				t.Errorf("long-poll: %v", err)
				return
			}
			req.Header.Set("Authorization", "Bearer "+cred)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("long-poll: %v", err)
				return
			}
			raw, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil || res.StatusCode != http.StatusOK {
				t.Errorf("long-poll: %d %s %v", res.StatusCode, raw, err)
				return
			}
			var body struct {
				Tasks []struct {
					Kind    string          `json:"kind"`
					Payload json.RawMessage `json:"payload"`
				} `json:"tasks"`
			}
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Errorf("long-poll: %v", err)
				return
			}
			for _, tk := range body.Tasks {
				var pt promptTask
				if tk.Kind == "prompt" && json.Unmarshal(tk.Payload, &pt) == nil {
					got <- pt
					return
				}
			}
		}
	}()
	return got
}

// TestBrowserPodWorkstationPrompt presses Prompt (workstation prompt) in
// the ConnectWise pod for the ticket's contact, whose Windows user is
// bound and logged on to an online computer. The simulated agent's
// long-poll gets the prompt (the technician's name, the MSP, three
// numbers); the user picks the number the pod shows the technician, and
// the pod's shield turns green without a reload. A second prompt is
// answered "This is not me": the pod shows the failure live, in words,
// and the ConnectWise ticket gets both results as notes.
func TestBrowserPodWorkstationPrompt(t *testing.T) {
	f := newCWPod(t, "")
	s, cw := f.s, f.cw

	tab := cwBrowser(t, f.port, cw.Site())
	tab.SetViewport(900, 900)
	open := func() *Tab {
		tab.Visit("https://" + cw.Site() + "/v4_6_release/ConnectWise.aspx?mode=prompt")
		pod := tab.FrameTab(t, "/pod/"+testTenantSlug+"/")
		pod.WaitVisible("#pod-main")
		pod.WaitText("#contact-name", "Pat Pod")
		return pod
	}
	pod := open()
	pod.WaitText(`#routes-list li[data-method="workstation_prompt"]`, "no Windows user bound")

	// Pat (mirrored from ConnectWise by the pod) logs on to a computer of
	// Fabrikam's with the agent; an admin binds that Windows user to Pat.
	status, body := s.API.do("GET", "/contacts?q=Pat%20Pod", nil)
	require.Equal(t, http.StatusOK, status, body)
	contacts := body["contacts"].([]any)
	require.Len(t, contacts, 1)
	pat := contacts[0].(map[string]any)
	status, body = s.API.do("GET", "/clients/"+pat["client_id"].(string)+"/activation-key", nil)
	require.Equal(t, http.StatusOK, status, body)
	const sidPat = "S-1-5-21-3623811015-3361044348-30300820-1191"
	device := map[string]any{"name": "FABRIKAM-PC3", "os": "Windows 11 Pro 24H2", "domain": "FABRIKAM", "agent_version": "1.0.0",
		"users": []map[string]any{{"sid": sidPat, "account": `FABRIKAM\ppod`, "display_name": "Pat Pod", "logged_on": true}}}
	status, body = s.agentPost(t, "/agent/v1/activate", "", map[string]any{"activation_key": body["activation_key"], "device": device})
	require.Equal(t, http.StatusCreated, status, body)
	cred, deviceID := body["credential"].(string), body["device_id"].(string)
	status, body = s.API.do("POST", "/agents/"+deviceID+"/users/"+sidPat+"/assign", map[string]any{"contact_id": pat["id"]})
	require.Equal(t, http.StatusOK, status, body)

	// The pod, opened again, offers the prompt.
	pod = open()
	pod.WaitText(`#routes-list li[data-method="workstation_prompt"]`, "FABRIKAM-PC3")
	tasks := s.pollPrompt(t, cred)
	pod.Click(`button[data-route="workstation_prompt"]`)
	pod.WaitVisible("#techcode")
	var number string
	pod.Eval(`document.getElementById("techcode-value").textContent`, &number)
	require.NotEmpty(t, number, "the pod shows the number to read out")
	pod.WaitText("#active-status", "Workstation prompt")
	var pt promptTask
	select {
	case pt = <-tasks:
	case <-time.After(waitTimeout):
		t.Fatal("the agent's long-poll got no prompt")
	}
	assert.Equal(t, "Jamie Tech", pt.TechnicianName)
	assert.Equal(t, testTenantName, pt.MSPName)
	assert.Equal(t, cwBrowserTicket, pt.TicketRef)
	require.Len(t, pt.Choices, 3)
	assert.True(t, slices.Contains(pt.Choices, number), "the tray offers the number the technician reads out")
	tab.Screenshot("cw-pod-prompt-waiting")

	// The user picks it on the workstation: the pod turns green by itself.
	status, body = s.agentPost(t, "/agent/v1/prompts/"+pt.VerificationID+"/answer", cred, map[string]any{"sid": sidPat, "choice": number})
	require.Equal(t, http.StatusOK, status, body)
	pod.WaitClass("#shield", "green")
	pod.WaitText("#shield", "via Workstation prompt")
	pod.WaitText("#active-status", "Verified")
	tab.Screenshot("cw-pod-prompt-verified")

	// A second prompt, which the person at the keyboard disowns.
	tasks = s.pollPrompt(t, cred)
	pod.Click(`#routes-list button[data-route="workstation_prompt"]`)
	select {
	case pt = <-tasks:
	case <-time.After(waitTimeout):
		t.Fatal("the agent's long-poll got no second prompt")
	}
	pod.WaitVisible("#techcode")
	status, body = s.agentPost(t, "/agent/v1/prompts/"+pt.VerificationID+"/answer", cred, map[string]any{"sid": sidPat, "not_me": true})
	require.Equal(t, http.StatusOK, status, body)
	pod.WaitText("#active-status", "Failed")
	pod.WaitClass("#shield", "red")
	pod.WaitText("#msg", `pressed "This is not me"`)
	pod.WaitText("#msg", "the caller is not verified")
	var codeHidden bool
	pod.Eval(`document.getElementById("techcode").hidden`, &codeHidden)
	assert.True(t, codeHidden, "no number to read out once the prompt has ended")
	pod.CheckA11y("connectwise pod, prompt denied")
	tab.Screenshot("cw-pod-prompt-denied")

	// The MSP is alerted (no on-call group is set up: every admin, by
	// e-mail through the real SMTP sender).
	alert := s.waitMail(t, "Countersign alert: workstation prompt denied by Pat Pod", techEmail)
	s.waitMail(t, alert.Subject, opsEmail)
	assert.Contains(t, alert.Text, `Pat Pod pressed "This is not me" on a workstation prompt sent by Jamie Tech on ticket `+cwBrowserTicket)

	deadline := time.Now().Add(waitTimeout)
	for len(cw.NoteRecords(cwBrowserTicket)) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	notes := cw.NoteRecords(cwBrowserTicket)
	require.Len(t, notes, 2, "both results are written to the ConnectWise ticket")
	assert.Contains(t, notes[0].Text, "Pat Pod was VERIFIED by workstation prompt")
	assert.Contains(t, notes[1].Text, "This is not me")

	// Pat then asks the tray "Who's calling me?": Jamie is listed, and Pat
	// answers that the person on the phone is not Jamie — audited, an
	// alert, and a note on Jamie's ConnectWise ticket.
	status, raw := s.agentGet(t, "/agent/v1/users/"+sidPat+"/technicians", cred)
	require.Equal(t, http.StatusOK, status, "%s", raw)
	var listed struct {
		Technicians []struct{ ID, Name string } `json:"technicians"`
	}
	require.NoError(t, json.Unmarshal(raw, &listed))
	require.Len(t, listed.Technicians, 1)
	assert.Equal(t, "Jamie Tech", listed.Technicians[0].Name)
	status, body = s.agentPost(t, "/agent/v1/users/"+sidPat+"/tech-checks", cred,
		map[string]any{"technician_id": listed.Technicians[0].ID, "answer": "not_the_person"})
	require.Equal(t, http.StatusCreated, status, body)
	assert.Equal(t, cwBrowserTicket, body["ticket"])
	// Jamie's open pod is told at once, without a reload.
	pod.WaitText("#techcheck", "Pat Pod (Company 1101) said from the Countersign tray on FABRIKAM-PC3")
	pod.WaitText("#techcheck", "that you are NOT the person on the phone with them")
	pod.WaitClass("#techcheck", "not_the_person")
	pod.CheckA11y("connectwise pod, tray says not the person")
	tab.Screenshot("cw-pod-techcheck-not-the-person")
	alert = s.waitMail(t, "Countersign alert: Pat Pod says the caller is not Jamie Tech", opsEmail)
	assert.Contains(t, alert.Text, "is NOT the person on the phone with them")
	for len(cw.NoteRecords(cwBrowserTicket)) < 3 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	notes = cw.NoteRecords(cwBrowserTicket)
	require.Len(t, notes, 3)
	assert.Contains(t, notes[2].Text, "Jamie Tech is NOT the person on the phone with them")
}

// waitMail waits for an e-mail with subject to to and returns it.
func (s *testServer) waitMail(t *testing.T, subject, to string) smtptest.Message {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		for _, m := range s.Mail.Messages() {
			if m.Subject == subject && slices.Contains(m.To, to) {
				return m
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no e-mail %q arrived for %s", subject, to)
	return smtptest.Message{}
}
