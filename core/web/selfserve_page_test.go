package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/auth"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

var challengeRE = regexp.MustCompile(`name="challenge" value="([^"]+)"`)

// selfServeEnv is a tenant whose client has a harvester (device cred) that
// reported Pat (registered: may use self-serve) and Sam (self-serve on, not
// registered), with the tenant's switch on.
func selfServeEnv(t *testing.T, st *store.Store) (e *env, cred string) {
	t.Helper()
	// The page's throttle counts as usual but does not sleep.
	th := &auth.Throttle{Window: 15 * time.Minute, Free: 5, Max: 40, Delay: time.Second, MaxDelay: time.Second,
		Sleep: func(context.Context, time.Duration) error { return nil }}
	e = newEnv(t, st, envOptions{selfServeThrottle: th})
	e.makeAdmin(t, e.a)
	admin := e.login(t, e.a)
	_, cred = e.activate(t, admin, e.a)
	r := e.agentDo(t, http.MethodPost, "/agent/v1/directory", cred, map[string]any{"full": true, "users": []any{
		dirUser(guidPat, sidPat, "Pat", "Lee", "pat@contoso.example", "(555) 010-0199"),
		dirUser(guidSam, sidSam, "Sam", "Caller", "sam.c@contoso.example", "(555) 010-0111"),
	}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, http.StatusOK, e.api(t, admin, http.MethodPut, "/api/v1/admin/directory/settings", map[string]any{"enabled": true}).status)
	require.Equal(t, http.StatusOK, e.api(t, admin, http.MethodPost, "/api/v1/clients/"+e.a.client.ID+"/directory/selfserve",
		map[string]any{"guids": []string{guidPat, guidSam}, "enabled": true}).status)
	ctx := t.Context()
	require.NoError(t, e.st.Update(ctx, func(tx core.Tx) error {
		return tx.PutSelfServeUser(ctx, &core.SelfServeUser{TenantID: e.a.tenant.ID, ClientID: e.a.client.ID, GUID: guidPat,
			Enabled: true, Status: core.SelfServeRegistered, ChangedBy: "enduser", ChangedAt: e.clk.Now()})
	}))
	return e, cred
}

// selfServeStart opens the page and names account; it returns the code
// form's fields.
func selfServeStart(t *testing.T, e *env, c *http.Client, account string) url.Values {
	t.Helper()
	page := "/r/" + e.a.tenant.Slug
	r := e.do(t, c, http.MethodGet, page, "", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	f := pageFields(r.body, "")
	f.Del("action")
	f.Set("account", account)
	r = e.form(t, c, page, f, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Contains(t, string(r.body), "can use self-service, a 6-digit code is on its way")
	g := challengeRE.FindSubmatch(r.body)
	require.NotNil(t, g, "no challenge in the code form")
	f = pageFields(r.body, "")
	f.Set("challenge", string(g[1]))
	return f
}

type agentTasks struct {
	Tasks []struct {
		ID      string             `json:"id"`
		Kind    string             `json:"kind"`
		Payload core.DirectoryTask `json:"payload"`
	} `json:"tasks"`
}

// fetchTasks is the harvester's long-poll, without waiting.
func fetchTasks(t *testing.T, e *env, cred string) agentTasks {
	t.Helper()
	r := e.agentDo(t, http.MethodGet, "/agent/v1/tasks?wait=0", cred, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var out agentTasks
	require.NoError(t, json.Unmarshal(r.body, &out))
	return out
}

func (e *env) smsCount(t *testing.T) int {
	t.Helper()
	e.deliver(t)
	return e.sms.Len()
}

// TestSelfServeResetPage: the end-user page sends a code only to a
// registered user's mobile on record, and answers an unknown or
// unregistered account the same way with nothing sent; a wrong code, a
// password the page refuses and two different passwords queue nothing (a
// refused password does not burn the code); the right code queues one
// reset for the client's harvester (Accessed Self-Serve, audited), once;
// the harvester's long-poll hands out the password once and the stored
// payload is wiped; only that device reports the result, once, and the
// page shows it; an unlock carries no password and shows the domain's
// refusal; a task not fetched in time reads as failed; 5 wrong entries
// burn a code; 10 failures lock the user out of new codes; nothing of it
// is cross-tenant and no code, password or request id reaches the logs.
// On SQLite and PostgreSQL.
func TestSelfServeResetPage(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e, cred := selfServeEnv(t, st)
		browser := e.client(t)
		page := "/r/" + e.a.tenant.Slug

		r := e.do(t, browser, http.MethodGet, page, "", nil, nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
		assert.Equal(t, http.StatusBadRequest, e.form(t, browser, page, url.Values{"account": {"pat"}, "nonce": {"AAAA"}}, nil).status,
			"a POST without a view's nonce")
		assert.Equal(t, http.StatusNotFound, e.do(t, browser, http.MethodGet, "/r/no-such-tenant", "", nil, nil).status)

		// Unknown and unregistered accounts: the same page, nothing sent.
		before := e.smsCount(t)
		selfServeStart(t, e, browser, "nosuch")
		selfServeStart(t, e, browser, "sam")
		assert.Equal(t, before, e.smsCount(t), "no code to an unknown or unregistered account")

		// Pat, by e-mail address in capitals: the code goes to the mobile on record.
		f := selfServeStart(t, e, browser, "PAT@contoso.example")
		require.Equal(t, before+1, e.smsCount(t))
		m, _ := e.sms.last(t)
		assert.Equal(t, "+15550100199", m.To)
		code := codeIn(t, m)
		challenge := f.Get("challenge")
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		submit := func(f url.Values, code, action, pw, pw2 string) response {
			t.Helper()
			g := url.Values{}
			for k, v := range f {
				g[k] = v
			}
			g.Set("code", code)
			g.Set("action", action)
			g.Set("password", pw)
			g.Set("password2", pw2)
			return e.form(t, browser, page+"/code", g, nil)
		}
		const newPw = "Spring-Tulip-42"
		r = submit(f, wrong, "reset", newPw, newPw)
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Contains(t, string(r.body), "does not match")
		f = pageFields(r.body, "")
		f.Set("challenge", challenge)
		r = submit(f, code, "reset", "short", "short")
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Contains(t, string(r.body), "at least 8 characters")
		r = submit(f, code, "reset", "patlee-Rocks-1", "patlee-Rocks-1")
		assert.Contains(t, string(r.body), "cannot contain")
		r = submit(f, code, "reset", newPw, newPw+"x")
		assert.Contains(t, string(r.body), "not the same")
		f = pageFields(r.body, "")
		f.Set("challenge", challenge)

		r = submit(f, code, "reset", newPw, newPw)
		require.Equal(t, http.StatusSeeOther, r.status, "%s", r.body)
		status := r.header.Get("Location")
		require.True(t, strings.HasPrefix(status, page+"/requests/"), status)
		reqID := strings.TrimPrefix(status, page+"/requests/")
		r = e.do(t, browser, http.MethodGet, status, "", nil, nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.Contains(t, string(r.body), "on its way")
		assert.Equal(t, http.StatusNotFound, e.do(t, browser, http.MethodGet, "/r/"+e.b.tenant.Slug+"/requests/"+reqID, "", nil, nil).status,
			"another tenant's page does not show it")
		r = submit(f, code, "reset", newPw, newPw)
		assert.Equal(t, http.StatusBadRequest, r.status, "a used code")
		actions := auditActions(t, e, e.a.tenant.ID)
		assert.Contains(t, actions, core.AuditSelfServeCodeSent)
		assert.Contains(t, actions, core.AuditSelfServeCodeFailed)
		assert.Contains(t, actions, core.AuditSelfServeResetRequested)
		admin := e.login(t, e.a)
		rows, _ := matchesOf(t, e.api(t, admin, http.MethodGet, "/api/v1/clients/"+e.a.client.ID+"/directory/matches", nil))
		assert.Equal(t, "accessed_self_serve", rows[guidPat]["selfserve"].(map[string]any)["status"])

		// The harvester fetches it: the password once, then the payload is wiped.
		tasks := fetchTasks(t, e, cred)
		require.Len(t, tasks.Tasks, 1)
		task := tasks.Tasks[0]
		assert.Equal(t, string(core.TaskDirectoryReset), task.Kind)
		assert.Equal(t, guidPat, task.Payload.GUID)
		assert.Equal(t, "pat", task.Payload.Account)
		assert.Equal(t, newPw, task.Payload.Password)
		var stored []byte
		q := `SELECT payload FROM agent_tasks WHERE id = ?`
		if st.Dialect() == "postgres" {
			q = `SELECT payload FROM agent_tasks WHERE id = $1`
		}
		require.NoError(t, st.DB().QueryRowContext(t.Context(), q, task.ID).Scan(&stored))
		assert.Empty(t, stored, "the delivered payload is wiped")
		r = e.agentDo(t, http.MethodGet, "/agent/v1/tasks?wait=0", cred, nil)
		assert.NotContains(t, string(r.body), task.ID, "handed out once")

		// Only this device reports, once.
		e.makeAdmin(t, e.b)
		_, credB := e.activate(t, e.login(t, e.b), e.b)
		r = e.agentDo(t, http.MethodPost, "/agent/v1/tasks/"+task.ID+"/result", credB, map[string]any{"ok": true})
		assert.Equal(t, http.StatusNotFound, r.status, "another tenant's harvester")
		r = e.agentDo(t, http.MethodPost, "/agent/v1/tasks/"+task.ID+"/result", cred, map[string]any{"ok": true})
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		r = e.agentDo(t, http.MethodPost, "/agent/v1/tasks/"+task.ID+"/result", cred, map[string]any{"ok": false, "error": "late"})
		assert.Equal(t, http.StatusConflict, r.status)
		r = e.do(t, browser, http.MethodGet, status, "", nil, nil)
		assert.Contains(t, string(r.body), "Your new password is set")
		assert.Contains(t, auditActions(t, e, e.a.tenant.ID), core.AuditSelfServeRequestDone)

		// An unlock: no password; the domain's refusal is shown.
		e.clk.Add(time.Minute) // past the resend cooldown
		f = selfServeStart(t, e, browser, "pat")
		e.deliver(t)
		m, _ = e.sms.last(t)
		r = submit(f, codeIn(t, m), "unlock", "", "")
		require.Equal(t, http.StatusSeeOther, r.status, "%s", r.body)
		status = r.header.Get("Location")
		tasks = fetchTasks(t, e, cred)
		require.Len(t, tasks.Tasks, 1)
		assert.Equal(t, string(core.TaskDirectoryUnlock), tasks.Tasks[0].Kind)
		assert.Empty(t, tasks.Tasks[0].Payload.Password)
		r = e.agentDo(t, http.MethodPost, "/agent/v1/tasks/"+tasks.Tasks[0].ID+"/result", cred,
			map[string]any{"ok": false, "error": "The domain controller could not find your account."})
		require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
		r = e.do(t, browser, http.MethodGet, status, "", nil, nil)
		assert.Contains(t, string(r.body), "could not find your account")

		// Not fetched in time: failed.
		e.clk.Add(time.Minute)
		f = selfServeStart(t, e, browser, "pat")
		e.deliver(t)
		m, _ = e.sms.last(t)
		r = submit(f, codeIn(t, m), "unlock", "", "")
		require.Equal(t, http.StatusSeeOther, r.status, "%s", r.body)
		e.clk.Add(11 * time.Minute)
		r = e.do(t, browser, http.MethodGet, r.header.Get("Location"), "", nil, nil)
		assert.Contains(t, string(r.body), "did not pick up the request in time")
		tasks = fetchTasks(t, e, cred)
		assert.Empty(t, tasks.Tasks, "an expired task is not handed out")

		// 5 wrong entries burn a code, even the right one after them.
		f = selfServeStart(t, e, browser, "pat")
		e.deliver(t)
		m, _ = e.sms.last(t)
		code = codeIn(t, m)
		wrong = "000000"
		if code == wrong {
			wrong = "111111"
		}
		for range 5 {
			assert.Equal(t, http.StatusBadRequest, submit(f, wrong, "unlock", "", "").status)
		}
		assert.Equal(t, http.StatusBadRequest, submit(f, code, "unlock", "", "").status, "a burned code")

		// 10 consecutive failures (5 + 1 since the last success, and 4
		// more) lock out new codes.
		for range 4 {
			submit(f, wrong, "unlock", "", "")
		}
		e.clk.Add(time.Minute)
		n := e.smsCount(t)
		selfServeStart(t, e, browser, "pat")
		assert.Equal(t, n, e.smsCount(t), "no code after 10 failures")

		e.assertLogsClean(t, code, newPw, reqID, challenge)
	})
}

// TestSelfServePasswordPolicy: the page checks a new password against the
// policy the client's harvester reported (here: 14 characters, no
// complexity), not AD's defaults; a policy out of range is refused. On
// SQLite and PostgreSQL.
func TestSelfServePasswordPolicy(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		e, cred := selfServeEnv(t, st)
		users := []any{dirUser(guidPat, sidPat, "Pat", "Lee", "pat@contoso.example", "(555) 010-0199")}
		r := e.agentDo(t, http.MethodPost, "/agent/v1/directory", cred, map[string]any{"full": false, "users": users,
			"policy": map[string]any{"min_password_length": -1}})
		assert.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		r = e.agentDo(t, http.MethodPost, "/agent/v1/directory", cred, map[string]any{"full": false, "users": users,
			"policy": map[string]any{"max_password_age": 3628800000000000, "min_password_age": 0, "min_password_length": 14,
				"history_length": 24, "complexity": false, "lockout_threshold": 5, "lockout_duration": 1800000000000}})
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)

		browser := e.client(t)
		page := "/r/" + e.a.tenant.Slug
		f := selfServeStart(t, e, browser, "pat")
		e.deliver(t)
		m, _ := e.sms.last(t)
		code := codeIn(t, m)
		submit := func(pw string) response {
			g := url.Values{}
			for k, v := range f {
				g[k] = v
			}
			g.Set("code", code)
			g.Set("action", "reset")
			g.Set("password", pw)
			g.Set("password2", pw)
			return e.form(t, browser, page+"/code", g, nil)
		}
		r = submit("Spring-Tul-42")
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Contains(t, string(r.body), "at least 14 characters")
		f = pageFields(r.body, "")
		f.Set("challenge", challengeRE.FindStringSubmatch(string(r.body))[1])
		r = submit("springtulipgarden")
		require.Equal(t, http.StatusSeeOther, r.status, "%s", r.body)
		tasks := fetchTasks(t, e, cred)
		require.Len(t, tasks.Tasks, 1)
		assert.Equal(t, "springtulipgarden", tasks.Tasks[0].Payload.Password)
	})
}
