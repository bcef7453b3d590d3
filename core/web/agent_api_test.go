package web_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testSID = "S-1-5-21-1004336348-1177238915-682003330-1104"

// makeAdmin gives tenant d's technician the admin role.
func (e *env) makeAdmin(t *testing.T, d tenantData) {
	t.Helper()
	ctx := t.Context()
	require.NoError(t, e.st.Update(ctx, func(tx core.Tx) error {
		tech, err := tx.Technician(ctx, d.tenant.ID, d.tech.ID)
		if err != nil {
			return err
		}
		tech.Role = core.RoleAdmin
		return tx.UpdateTechnician(ctx, &tech)
	}))
}

// agentDo sends an agent API request with a device credential ("" for none).
func (e *env) agentDo(t *testing.T, method, path, cred string, body any) response {
	t.Helper()
	hdr := map[string]string{}
	if cred != "" {
		hdr["Authorization"] = "Bearer " + cred
	}
	ct := ""
	if body != nil {
		ct = "application/json"
	}
	return e.do(t, http.DefaultClient, method, path, ct, body, hdr)
}

func deviceBody(sid string) map[string]any {
	return map[string]any{"name": "CONTOSO-PC1", "os": "Windows 11 Pro 24H2", "domain": "CONTOSO", "agent_version": "1.0.0",
		"users": []map[string]any{{"sid": sid, "account": `CONTOSO\sam`, "upn": "sam@contoso.example", "display_name": "Sam Caller", "logged_on": true},
			{"sid": "S-1-5-21-1-2-3-500", "account": `CONTOSO-PC1\Administrator`, "local": true}}}
}

// activate activates a device for tenant d's client and returns its credential.
func (e *env) activate(t *testing.T, admin *http.Client, d tenantData) (deviceID, cred string) {
	t.Helper()
	r := e.api(t, admin, http.MethodGet, "/api/v1/clients/"+d.client.ID+"/activation-key", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	key := r.JSON(t)["activation_key"].(string)
	r = e.agentDo(t, http.MethodPost, "/agent/v1/activate", "", map[string]any{"activation_key": key, "device": deviceBody(testSID)})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	m := r.JSON(t)
	return m["device_id"].(string), m["credential"].(string)
}

func auditActions(t *testing.T, e *env, tenantID string) []string {
	t.Helper()
	var out []string
	require.NoError(t, e.st.View(t.Context(), func(tx core.Tx) error {
		evs, err := tx.AuditEvents(t.Context(), tenantID, core.AuditQuery{Limit: 500})
		for _, ev := range evs {
			out = append(out, ev.Action)
		}
		return err
	}))
	return out
}

// TestAgentActivationAndCredentials covers the activation key per client
// (admins only, shown, rotatable), activation, heartbeat, the long-poll,
// tenant scoping and revocation, on SQLite and PostgreSQL.
func TestAgentActivationAndCredentials(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		tech := e.login(t, e.a)
		r := e.api(t, tech, http.MethodGet, "/api/v1/clients/"+e.a.client.ID+"/activation-key", nil)
		assert.Equal(t, http.StatusForbidden, r.status, "a technician without the admin role must not see keys")

		e.makeAdmin(t, e.a)
		admin := e.login(t, e.a)
		r = e.api(t, admin, http.MethodGet, "/api/v1/clients/"+e.a.client.ID+"/activation-key", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		key := r.JSON(t)["activation_key"].(string)
		assert.Contains(t, r.JSON(t)["install"], `ACTIVATIONKEY="`+key+`"`)
		again := e.api(t, admin, http.MethodGet, "/api/v1/clients/"+e.a.client.ID+"/activation-key", nil)
		assert.Equal(t, key, again.JSON(t)["activation_key"], "the key is stable until rotated")
		r = e.api(t, admin, http.MethodGet, "/api/v1/clients/"+e.b.client.ID+"/activation-key", nil)
		assert.Equal(t, http.StatusNotFound, r.status, "another tenant's client reads as missing")

		devID, cred := e.activate(t, admin, e.a)
		require.NotContains(t, e.logs.String(), cred, "the credential must not be logged")
		require.NotContains(t, e.logs.String(), key, "the activation key must not be logged")

		r = e.agentDo(t, http.MethodPost, "/agent/v1/heartbeat", cred, deviceBody(testSID))
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		r = e.agentDo(t, http.MethodGet, "/agent/v1/tasks?wait=0", cred, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Empty(t, r.JSON(t)["tasks"])

		r = e.api(t, admin, http.MethodGet, "/api/v1/agents?client="+e.a.client.ID, nil)
		require.Equal(t, http.StatusOK, r.status)
		agents := r.JSON(t)["agents"].([]any)
		require.Len(t, agents, 1)
		assert.Equal(t, "CONTOSO-PC1", agents[0].(map[string]any)["name"])
		assert.Equal(t, true, agents[0].(map[string]any)["online"])
		r = e.api(t, admin, http.MethodGet, "/api/v1/agents/"+devID, nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.Len(t, r.JSON(t)["users"], 2)

		other := e.login(t, e.b)
		r = e.api(t, other, http.MethodGet, "/api/v1/agents/"+devID, nil)
		assert.Equal(t, http.StatusNotFound, r.status, "another tenant cannot see the device")
		r = e.api(t, other, http.MethodGet, "/api/v1/agents", nil)
		assert.Empty(t, r.JSON(t)["agents"])

		// Bad credentials: all get the same 401.
		for name, c := range map[string]string{
			"none": "", "garbage": "hello", "unknown device": "csd1.dev_nosuchdevice.AAAA",
			"wrong secret": "csd1." + devID + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		} {
			r := e.agentDo(t, http.MethodGet, "/agent/v1/tasks?wait=0", c, nil)
			assert.Equal(t, http.StatusUnauthorized, r.status, name)
			assert.Equal(t, "unauthorized", r.JSON(t)["kind"], name)
		}

		// Rotation: the old key activates nothing, the device keeps working.
		r = e.api(t, admin, http.MethodPost, "/api/v1/clients/"+e.a.client.ID+"/activation-key/rotate", nil)
		require.Equal(t, http.StatusOK, r.status)
		newKey := r.JSON(t)["activation_key"].(string)
		require.NotEqual(t, key, newKey)
		r = e.agentDo(t, http.MethodPost, "/agent/v1/activate", "", map[string]any{"activation_key": key, "device": deviceBody(testSID)})
		assert.Equal(t, http.StatusUnauthorized, r.status)
		r = e.agentDo(t, http.MethodPost, "/agent/v1/heartbeat", cred, deviceBody(testSID))
		assert.Equal(t, http.StatusNoContent, r.status)

		// Revocation: the (stolen or replayed) credential is refused and its use audited.
		r = e.api(t, other, http.MethodPost, "/api/v1/agents/"+devID+"/revoke", nil)
		assert.Equal(t, http.StatusForbidden, r.status, "revoking needs an admin (and then the device is another tenant's)")
		r = e.api(t, admin, http.MethodPost, "/api/v1/agents/"+devID+"/revoke", nil)
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		for _, path := range []string{"/agent/v1/tasks?wait=0", "/agent/v1/users/" + testSID} {
			r = e.agentDo(t, http.MethodGet, path, cred, nil)
			assert.Equal(t, http.StatusUnauthorized, r.status, path)
		}
		r = e.agentDo(t, http.MethodPost, "/agent/v1/heartbeat", cred, deviceBody(testSID))
		assert.Equal(t, http.StatusUnauthorized, r.status)
		actions := auditActions(t, e, e.a.tenant.ID)
		for _, a := range []string{"agent.activation_key.created", "agent.activation_key.rotated", "agent.activated", "agent.revoked", "agent.revoked_credential_used"} {
			assert.Contains(t, actions, a)
		}
	})
}

// TestAgentBadInput sends malformed reports and exhausts the wrong-key
// limit: each gets a clear 4xx and nothing is created.
func TestAgentBadInput(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	e.makeAdmin(t, e.a)
	admin := e.login(t, e.a)
	devID, cred := e.activate(t, admin, e.a)
	_ = devID
	for name, body := range map[string]any{
		"bad sid":      map[string]any{"name": "PC", "users": []map[string]any{{"sid": "not-a-sid"}}},
		"no name":      map[string]any{"name": " "},
		"unknown":      map[string]any{"name": "PC", "evil": true},
		"twice":        map[string]any{"name": "PC", "users": []map[string]any{{"sid": testSID}, {"sid": testSID}}},
		"control name": map[string]any{"name": string(make([]byte, 300))},
	} {
		r := e.agentDo(t, http.MethodPost, "/agent/v1/heartbeat", cred, body)
		assert.Equal(t, http.StatusBadRequest, r.status, "%s: %s", name, r.body)
	}
	r := e.agentDo(t, http.MethodGet, "/agent/v1/tasks?wait=9999", cred, nil)
	assert.Equal(t, http.StatusBadRequest, r.status)
	r = e.agentDo(t, http.MethodGet, "/agent/v1/users/robert'); DROP TABLE", cred, nil)
	assert.Equal(t, http.StatusBadRequest, r.status)

	r = e.api(t, admin, http.MethodGet, "/api/v1/clients/"+e.a.client.ID+"/activation-key", nil)
	key := r.JSON(t)["activation_key"].(string)
	before, _ := e.eng.Devices(t.Context(), e.a.tenant.ID, "")
	for i := range 10 {
		r := e.agentDo(t, http.MethodPost, "/agent/v1/activate", "", map[string]any{"activation_key": "csk_wrong" + string(rune('a'+i)), "device": deviceBody(testSID)})
		require.Equal(t, http.StatusUnauthorized, r.status, "%s", r.body)
	}
	r = e.agentDo(t, http.MethodPost, "/agent/v1/activate", "", map[string]any{"activation_key": key, "device": deviceBody(testSID)})
	assert.Equal(t, http.StatusTooManyRequests, r.status, "after 10 wrong keys even the right one waits: %s", r.body)
	assert.NotEmpty(t, r.header.Get("Retry-After"))
	after, _ := e.eng.Devices(t.Context(), e.a.tenant.ID, "")
	assert.Len(t, after, len(before), "nothing was activated")
	assert.Contains(t, e.logs.String(), "agent activation with a wrong key")
}

// promptEnv is an activated device of tenant a whose logged-on user is
// bound (by hand, in the console) to tenant a's contact.
type promptEnv struct {
	*env
	admin *http.Client
	devID string
	cred  string
}

func newPromptEnv(t *testing.T, st *store.Store) promptEnv {
	t.Helper()
	e := newEnv(t, st)
	e.makeAdmin(t, e.a)
	p := promptEnv{env: e, admin: e.login(t, e.a)}
	p.devID, p.cred = e.activate(t, p.admin, e.a)
	r := e.api(t, p.admin, http.MethodPost, "/api/v1/agents/"+p.devID+"/users/"+testSID+"/assign", map[string]string{"contact_id": e.a.contact.ID})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	return p
}

// prompt starts a prompt and returns the verification id and the number to read.
func (p promptEnv) prompt(t *testing.T) (string, string) {
	t.Helper()
	r := p.api(t, p.admin, http.MethodPost, "/api/v1/prompts", map[string]string{"contact_id": p.a.contact.ID, "ticket_ref": "T-1"})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	m := r.JSON(t)
	return m["id"].(string), m["tech_code"].(string)
}

// task long-polls for the next task and returns its prompt payload.
func (p promptEnv) task(t *testing.T, wait int) (core.PromptTask, string) {
	t.Helper()
	r := p.agentDo(t, http.MethodGet, "/agent/v1/tasks?wait="+itoa(wait), p.cred, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var body struct {
		Tasks []struct {
			Kind    string          `json:"kind"`
			SID     string          `json:"sid"`
			Payload json.RawMessage `json:"payload"`
		} `json:"tasks"`
	}
	require.NoError(t, json.Unmarshal(r.body, &body))
	require.Len(t, body.Tasks, 1)
	var pt core.PromptTask
	require.NoError(t, json.Unmarshal(body.Tasks[0].Payload, &pt))
	return pt, body.Tasks[0].SID
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func (p promptEnv) answer(t *testing.T, id string, body map[string]any) response {
	t.Helper()
	return p.agentDo(t, http.MethodPost, "/agent/v1/prompts/"+id+"/answer", p.cred, body)
}

// TestWorkstationPrompt runs the prompt through the long-poll and every
// answer: the right number, twice, another user's SID, a wrong number,
// expiry, "This is not me", and the push-style limits.
func TestWorkstationPrompt(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		p := newPromptEnv(t, st)
		assert.Contains(t, auditActions(t, p.env, p.a.tenant.ID), "binding.confirmed")
		r := p.agentDo(t, http.MethodGet, "/agent/v1/users/"+testSID, p.cred, nil)
		assert.Equal(t, true, r.JSON(t)["bound"])

		// A long-poll already waiting is woken by the prompt.
		type polled struct {
			pt  core.PromptTask
			sid string
		}
		got := make(chan polled, 1)
		go func() {
			pt, sid := p.task(t, 20)
			got <- polled{pt, sid}
		}()
		require.Eventually(t, func() bool { return p.eng.Waiting() == 1 }, 10*time.Second, 5*time.Millisecond)
		start := time.Now()
		id, number := p.prompt(t)
		var first polled
		select {
		case first = <-got:
		case <-time.After(15 * time.Second):
			t.Fatal("the waiting long-poll did not get the prompt")
		}
		assert.Less(t, time.Since(start), 5*time.Second)
		assert.Equal(t, testSID, first.sid)
		assert.Equal(t, id, first.pt.VerificationID)
		assert.Equal(t, "Jane Tech", first.pt.TechnicianName)
		assert.Len(t, first.pt.Choices, 3)
		assert.True(t, slices.Contains(first.pt.Choices, number), "the number read out is among the choices")

		// One prompt at a time per user.
		r = p.api(t, p.admin, http.MethodPost, "/api/v1/prompts", map[string]string{"contact_id": p.a.contact.ID})
		assert.Equal(t, http.StatusConflict, r.status, "%s", r.body)

		// Another user's SID (a tray lying about who it is) is refused, and the prompt stays open.
		r = p.answer(t, id, map[string]any{"sid": "S-1-5-21-1-2-3-500", "choice": number})
		assert.Equal(t, http.StatusNotFound, r.status)
		assert.Equal(t, core.StatusSent, p.verification(t, p.a, id).Status)

		r = p.answer(t, id, map[string]any{"sid": testSID, "choice": number})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		assert.Equal(t, core.StatusVerified, p.verification(t, p.a, id).Status)
		r = p.answer(t, id, map[string]any{"sid": testSID, "choice": number})
		assert.Equal(t, http.StatusGone, r.status, "answered twice")

		// A wrong number fails at once.
		id, number = p.prompt(t)
		pt, _ := p.task(t, 0)
		wrong := pt.Choices[0]
		if wrong == number {
			wrong = pt.Choices[1]
		}
		r = p.answer(t, id, map[string]any{"sid": testSID, "choice": wrong})
		assert.Equal(t, http.StatusGone, r.status)
		assert.Equal(t, core.StatusFailed, p.verification(t, p.a, id).Status)

		// Expiry.
		id, number = p.prompt(t)
		p.clk.Add(3 * time.Minute)
		r = p.answer(t, id, map[string]any{"sid": testSID, "choice": number})
		assert.Equal(t, http.StatusGone, r.status)
		assert.Equal(t, core.StatusExpired, p.verification(t, p.a, id).Status)

		// Third prompt within 15 minutes since the success → the fourth is refused.
		r = p.agentDo(t, http.MethodPost, "/agent/v1/heartbeat", p.cred, deviceBody(testSID)) // stay online
		require.Equal(t, http.StatusNoContent, r.status)
		id, _ = p.prompt(t)
		p.clk.Add(3 * time.Minute)
		r = p.agentDo(t, http.MethodPost, "/agent/v1/heartbeat", p.cred, deviceBody(testSID))
		require.Equal(t, http.StatusNoContent, r.status)
		r = p.api(t, p.admin, http.MethodPost, "/api/v1/prompts", map[string]string{"contact_id": p.a.contact.ID})
		assert.Equal(t, http.StatusTooManyRequests, r.status, "%s", r.body)

		// "This is not me": failed, alert to admins, note on the ticket, 24 h stop.
		p.clk.Add(16 * time.Minute)
		r = p.agentDo(t, http.MethodPost, "/agent/v1/heartbeat", p.cred, deviceBody(testSID))
		require.Equal(t, http.StatusNoContent, r.status)
		id, _ = p.prompt(t)
		r = p.answer(t, id, map[string]any{"sid": testSID, "not_me": true})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		v := p.verification(t, p.a, id)
		assert.Equal(t, core.StatusFailed, v.Status)
		assert.Contains(t, v.Detail, "This is not me")
		p.deliver(t)
		alert, _ := p.mail.last(t)
		assert.Equal(t, p.a.tech.Email, alert.To)
		assert.Contains(t, alert.Subject, "prompt denied")
		r = p.api(t, p.admin, http.MethodPost, "/api/v1/prompts", map[string]string{"contact_id": p.a.contact.ID})
		assert.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
		assert.Contains(t, auditActions(t, p.env, p.a.tenant.ID), "prompt.denied")
		assert.Contains(t, auditActions(t, p.env, p.a.tenant.ID), "prompt.answer_refused")
	})
}
