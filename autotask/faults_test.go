package autotask_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/autotask"
	"github.com/countersign/countersign/autotask/autotasktest"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// noteEnv is the path a verification's note takes: the outbox's
// psa.NoteSender, one cached client per integration, the fake Autotask.
type noteEnv struct {
	fake   *autotasktest.Server
	sender *psa.NoteSender
	cfg    *autotask.Config
}

func newNoteEnv(t *testing.T) *noteEnv {
	t.Helper()
	f := autotasktest.NewServer(t)
	f.Seed([]psa.Company{acme}, []psa.Contact{alice}, []psa.Ticket{ticket})
	reg, err := psa.NewRegistry(autotask.Descriptor())
	require.NoError(t, err)
	cfg := f.Config()
	cfg.ZoneURL, cfg.WebURL = f.ZoneURL(), f.WebURL()
	e := &noteEnv{fake: f, cfg: &cfg}
	clients := psa.NewClients(reg, func(core.Integration) psa.Deps { return f.Deps(psa.Deps{Retry: quickRetry}) })
	updated := time.Now()
	e.sender = &psa.NoteSender{Clients: clients, Load: func(_ context.Context, tenant, id string) (core.Integration, error) {
		raw, err := json.Marshal(*e.cfg)
		if err != nil {
			return core.Integration{}, err
		}
		return core.Integration{ID: id, TenantID: tenant, Kind: autotask.ID, Config: raw, UpdatedAt: updated}, nil
	}}
	return e
}

func (e *noteEnv) send(t *testing.T, text string) error {
	t.Helper()
	_, err := e.sender.Send(t.Context(), core.Outbound{Kind: core.OutboxTicketNote, To: ticket.Ref, Text: text, Tenant: "t1", Integration: "int_1"})
	return err
}

func permanent(err error) bool {
	var pe *core.PermanentError
	return errors.As(err, &pe)
}

// TestNoteFaults: an outage or a 5xx makes a note wait (a retryable
// error, nothing written); a 429 is waited out; an answer lost after
// Autotask wrote the note is not written twice; keys or permissions that
// are wrong are errors an admin can act on, and a note Autotask refuses to
// write is not retried forever.
func TestNoteFaults(t *testing.T) {
	t.Run("outage for an hour", func(t *testing.T) {
		e := newNoteEnv(t)
		e.fake.SetDown(true)
		for range 6 { // the outbox's retries over the hour
			err := e.send(t, "Alice Smith was VERIFIED by SMS code (ver_o1)")
			require.Error(t, err)
			assert.ErrorIs(t, err, core.ErrUnavailable)
			assert.False(t, permanent(err), "kept in the outbox")
		}
		assert.Empty(t, e.fake.NoteRecords(ticket.Ref))
		e.fake.SetDown(false)
		require.NoError(t, e.send(t, "Alice Smith was VERIFIED by SMS code (ver_o1)"))
		assert.Len(t, e.fake.NoteRecords(ticket.Ref), 1, "written once Autotask is back, exactly once")
	})
	t.Run("500 with errors", func(t *testing.T) {
		e := newNoteEnv(t)
		e.fake.FailNext(1, 500, "")
		err := e.send(t, "note (ver_f1)")
		require.ErrorIs(t, err, core.ErrUnavailable)
		assert.False(t, permanent(err))
		assert.Contains(t, core.ErrorMessage(err), "An unexpected error has occurred", "Autotask's errors[] are shown")
		require.NoError(t, e.send(t, "note (ver_f1)"))
		assert.Len(t, e.fake.NoteRecords(ticket.Ref), 1)
	})
	t.Run("429 with Retry-After", func(t *testing.T) {
		e := newNoteEnv(t)
		e.fake.FailNext(1, 429, "2")
		require.NoError(t, e.send(t, "note (ver_r1)"))
		assert.Len(t, e.fake.NoteRecords(ticket.Ref), 1)
	})
	t.Run("answer lost after the write", func(t *testing.T) {
		e := newNoteEnv(t)
		e.fake.LoseAnswers(1)
		err := e.send(t, "note (ver_l1)")
		require.Error(t, err)
		assert.False(t, permanent(err))
		assert.Len(t, e.fake.NoteRecords(ticket.Ref), 1, "Autotask wrote it")
		require.NoError(t, e.send(t, "note (ver_l1)"), "the retry finds it")
		assert.Len(t, e.fake.NoteRecords(ticket.Ref), 1, "never twice")
		require.NoError(t, e.send(t, "another note (ver_l2)"))
		assert.Len(t, e.fake.NoteRecords(ticket.Ref), 2)
	})
	t.Run("database moved zones", func(t *testing.T) {
		e := newNoteEnv(t)
		e.fake.MoveZone(12)
		require.NoError(t, e.send(t, "note (ver_z1)"))
		assert.Len(t, e.fake.NoteRecords(ticket.Ref), 1)
	})
	t.Run("wrong integration code", func(t *testing.T) {
		e := newNoteEnv(t)
		e.fake.RejectIntegrationCode(true)
		err := e.send(t, "note (ver_c1)")
		require.ErrorIs(t, err, core.ErrUnauthorized)
		require.ErrorIs(t, err, core.ErrMisconfigured)
		assert.Contains(t, core.ErrorMessage(err), "rejected the API integration code")
		assert.Empty(t, e.fake.NoteRecords(ticket.Ref))
	})
	t.Run("security level without notes", func(t *testing.T) {
		e := newNoteEnv(t)
		e.fake.Forbid("Tickets", true)
		err := e.send(t, "note (ver_p1)")
		require.ErrorIs(t, err, core.ErrForbidden)
		require.ErrorIs(t, err, core.ErrMisconfigured, "parked until an admin fixes the rights, not retried like an outage")
		assert.False(t, permanent(err), "not dropped either")
		assert.Contains(t, core.ErrorMessage(err), "security level does not allow adding ticket notes")
	})
	t.Run("ticket deleted", func(t *testing.T) {
		e := newNoteEnv(t)
		_, err := e.sender.Send(t.Context(), core.Outbound{Kind: core.OutboxTicketNote, To: "999999", Text: "note", Tenant: "t1", Integration: "int_1"})
		require.ErrorIs(t, err, core.ErrNotFound)
		assert.True(t, permanent(err))
	})
}
