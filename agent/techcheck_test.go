package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/agent"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCallingBox walks the "Who's calling me?" box: an answer names a
// technician of the last list shown, once, while the list is fresh, and
// is one of the two answers.
func TestCallingBox(t *testing.T) {
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	b := &agent.CallingBox{Now: func() time.Time { return now }}
	jane, joe := agent.Technician{ID: "tec_jane", Name: "Jane Tech"}, agent.Technician{ID: "tec_joe", Name: "Joe Tech"}
	_, _, err := b.Answer(jane.ID, agent.AnswerConfirm)
	assert.ErrorIs(t, err, agent.ErrNotListed, "nothing shown yet")
	b.Show([]agent.Technician{jane, joe})
	_, _, err = b.Answer(jane.ID, "yes")
	assert.ErrorIs(t, err, agent.ErrNotAnAnswer)
	_, _, err = b.Answer("tec_mallory", agent.AnswerConfirm)
	assert.ErrorIs(t, err, agent.ErrNotListed)
	tc, tech, err := b.Answer(jane.ID, agent.AnswerConfirm)
	require.NoError(t, err)
	assert.Equal(t, agent.TechCheck{TechnicianID: "tec_jane", Answer: "confirm"}, tc)
	assert.Equal(t, jane, tech)
	_, _, err = b.Answer(jane.ID, agent.AnswerNotThePerson)
	assert.ErrorIs(t, err, agent.ErrAnswered, "one answer per technician per list")
	now = now.Add(10 * time.Minute)
	_, _, err = b.Answer(joe.ID, agent.AnswerNotThePerson)
	assert.ErrorIs(t, err, agent.ErrListStale)
	b.Show([]agent.Technician{joe})
	_, _, err = b.Answer(jane.ID, agent.AnswerConfirm)
	assert.ErrorIs(t, err, agent.ErrNotListed, "a new list replaces the old one")
	_, _, err = b.Answer(joe.ID, agent.AnswerNotThePerson)
	assert.NoError(t, err)

	assert.Contains(t, agent.CallingText(nil), "hang up and call your IT provider's usual number")
	assert.Equal(t, "Working with you now: Jane Tech, Joe Tech.", agent.CallingText([]agent.Technician{jane, joe}))
	q := agent.Question(jane)
	assert.Contains(t, q, "Is Jane Tech the person on the phone with you?")
	assert.Contains(t, q, "Yes: it is Jane Tech")
	assert.Contains(t, q, "No: it is not the person")
	assert.Equal(t, "Thank you. Jane Tech is working with you. Your answer is noted on ticket 900.", agent.ResultText(agent.AnswerConfirm, jane, "900"))
	assert.Contains(t, agent.ResultText(agent.AnswerNotThePerson, jane, ""), "Your IT provider has been alerted. Do not give the caller")
}

// TestTrayVerifyMyTechnician runs "Verify my technician" from a tray over
// a real Unix socket through the service to the real server: the list,
// "it is them" and "not the person" taken for the pipe's user, a message
// claiming another user's SID refused by the service, a technician the
// list did not show refused by the tray, the server's refusals shown, and
// the fourth answer within the hour refused by the server's limit.
func TestTrayVerifyMyTechnician(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		srv := newServer(t, st)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		mySID := fmt.Sprintf("S-1-22-1-%d", os.Getuid())
		otherSID := "S-1-22-1-4242424"
		logs := &syncLog{}
		svc, err := agent.NewService(agent.ServiceConfig{ServerURL: srv.url, ActivationKey: srv.key, Credentials: &memCreds{},
			Machine: machine{users: []agent.User{{SID: mySID, Account: `CONTOSO\sam`, LoggedOn: true},
				{SID: otherSID, Account: `CONTOSO\alex`, LoggedOn: true}}},
			PollWait: 5 * time.Second, RetryAfter: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil))})
		require.NoError(t, err)
		sock := filepath.Join(t.TempDir(), "countersign.sock")
		ln, err := net.Listen("unix", sock)
		require.NoError(t, err)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); _ = svc.Run(ctx) }()
		go func() { defer wg.Done(); _ = svc.ServePipe(ctx, ln, agent.IdentifyUnix) }()
		t.Cleanup(func() { cancel(); wg.Wait() })
		var dev core.Device
		require.Eventually(t, func() bool {
			ds, err := srv.eng.Devices(ctx, srv.tenant.ID, srv.client.ID)
			if err != nil || len(ds) != 1 {
				return false
			}
			dev = ds[0]
			_, users, err := srv.eng.DeviceDetail(ctx, srv.tenant.ID, dev.ID)
			return err == nil && len(users) == 2 && svc.Online()
		}, 20*time.Second, 20*time.Millisecond, "the service did not activate and report")

		conn, err := net.DialTimeout("unix", sock, agent.DialTimeout)
		require.NoError(t, err)
		tray := agent.NewTray(conn, &recUI{})
		go func() { _ = tray.Run(ctx) }()

		// Not bound yet: the box says so and lists no one.
		techs, text, err := tray.Technicians(ctx)
		require.NoError(t, err)
		assert.Empty(t, techs)
		assert.Contains(t, text, "not bound")

		for sid, c := range map[string]core.Contact{mySID: srv.contact, otherSID: srv.other} {
			_, err = srv.eng.AssignUser(ctx, srv.tenant.ID, "test", dev.ID, sid, c.ID)
			require.NoError(t, err)
		}
		techs, text, err = tray.Technicians(ctx)
		require.NoError(t, err)
		assert.Empty(t, text)
		assert.Empty(t, techs, "no technician is working with the user yet")
		// Jane sends a prompt to the other user, and one to us.
		for _, c := range []core.Contact{srv.other, srv.contact} {
			_, err = srv.eng.StartPrompt(ctx, core.PromptRequest{TenantID: srv.tenant.ID, TechnicianID: srv.tech.ID, ContactID: c.ID, TicketRef: "T-7"})
			require.NoError(t, err)
		}
		techs, _, err = tray.Technicians(ctx)
		require.NoError(t, err)
		require.Equal(t, []agent.Technician{{ID: srv.tech.ID, Name: "Jane Tech"}}, techs)

		audited := func(sid, action string) int {
			evs, err := srv.eng.AuditEvents(ctx, srv.tenant.ID, core.AuditQuery{Action: action, Subject: sid})
			require.NoError(t, err)
			return len(evs)
		}
		// A tray that claims to be the other user is refused by the service
		// and the server never hears of it.
		raw, err := net.DialTimeout("unix", sock, agent.DialTimeout)
		require.NoError(t, err)
		defer raw.Close()
		require.NoError(t, agent.WriteMessage(raw, agent.Message{Type: agent.MsgTechCheck, ID: "1", SID: otherSID,
			TechCheck: &agent.TechCheck{TechnicianID: srv.tech.ID, Answer: agent.AnswerNotThePerson}}))
		// readReply skips what the service pushes to every tray of the user
		// (the prompt may arrive now) and returns the reply to id.
		readReply := func(id string) agent.Message {
			t.Helper()
			for {
				m, err := agent.ReadMessage(raw)
				require.NoError(t, err)
				if m.ID == id {
					return m
				}
			}
		}
		reply := readReply("1")
		assert.Contains(t, reply.Error, "refused")
		assert.Contains(t, logs.String(), "claims another user's SID")
		assert.Zero(t, audited(otherSID, core.AuditTechCheckNotThePerson))
		require.NoError(t, agent.WriteMessage(raw, agent.Message{Type: agent.MsgTechCheck, ID: "2"}))
		reply = readReply("2")
		assert.Contains(t, reply.Error, "needs the technician")

		// The tray refuses a technician it did not list; a raw message
		// naming one reaches the server, which refuses it for this user.
		_, err = tray.CheckTechnician(ctx, "tec_mallory", agent.AnswerConfirm)
		assert.ErrorIs(t, err, agent.ErrNotListed)
		require.NoError(t, agent.WriteMessage(raw, agent.Message{Type: agent.MsgTechCheck, ID: "3",
			TechCheck: &agent.TechCheck{TechnicianID: "tec_mallory", Answer: agent.AnswerConfirm}}))
		reply = readReply("3")
		assert.Contains(t, reply.Error, "not working with you now")
		assert.Equal(t, 1, audited(mySID, core.AuditTechCheckRefused), "the refusal is the pipe caller's")

		res, err := tray.CheckTechnician(ctx, srv.tech.ID, agent.AnswerConfirm)
		require.NoError(t, err)
		assert.Equal(t, "Thank you. Jane Tech is working with you.", res, "no PSA integration: no ticket is noted")
		assert.Equal(t, 1, audited(mySID, core.AuditTechCheckConfirmed))
		_, err = tray.CheckTechnician(ctx, srv.tech.ID, agent.AnswerNotThePerson)
		assert.ErrorIs(t, err, agent.ErrAnswered)

		// Asked again, the user may answer again — but this is the fourth
		// answer in the hour, so the server refuses it, and it can be
		// given again later.
		_, _, err = tray.Technicians(ctx)
		require.NoError(t, err)
		require.NoError(t, agent.WriteMessage(raw, agent.Message{Type: agent.MsgTechCheck, ID: "4",
			TechCheck: &agent.TechCheck{TechnicianID: srv.tech.ID, Answer: agent.AnswerConfirm}}))
		reply = readReply("4")
		assert.Empty(t, reply.Error, "the third answer is taken")
		_, err = tray.CheckTechnician(ctx, srv.tech.ID, agent.AnswerNotThePerson)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "the limit")
		assert.Equal(t, 1, audited(mySID, core.AuditTechCheckRateLimited))
		assert.Zero(t, audited(mySID, core.AuditTechCheckNotThePerson))
		assert.Zero(t, audited(otherSID, core.AuditTechCheckNotThePerson)+audited(otherSID, core.AuditTechCheckConfirmed))
	})
}
