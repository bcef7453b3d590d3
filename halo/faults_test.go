package halo_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/halo"
)

// Faults as the outbox's note sender (psa.NoteSender) meets them. A Halo
// that is down or throttling makes a note wait (an error the outbox
// retries), never fail for good or land twice; a setup Halo refuses (the
// outcome, the secret) is a permanent, explained failure.

func send(t *testing.T, f *fixture, text string) error {
	t.Helper()
	return f.c.AddTicketNote(t.Context(), ticket.Ref, psa.Note{Text: text})
}

func TestFaults(t *testing.T) {
	t.Run("outage: the note waits and lands once", func(t *testing.T) {
		f := newFixture(t, nil)
		_, err := f.c.GetTicketOnly(t.Context(), ticket.Ref) // a warm client, token cached
		require.NoError(t, err)
		f.srv.SetDown(true)
		err = send(t, f, "ver_outage")
		require.ErrorIs(t, err, core.ErrUnavailable, "retried by the outbox")
		var pe *core.PermanentError
		assert.False(t, errors.As(err, &pe))
		assert.Contains(t, core.ErrorMessage(err), "try again later")
		assert.Empty(t, f.srv.Actions(ticket.Ref))
		f.srv.SetDown(false)
		require.NoError(t, send(t, f, "ver_outage"))
		assert.Len(t, f.srv.Actions(ticket.Ref), 1, "written once")
	})
	t.Run("5xx on the note: not repeated blindly", func(t *testing.T) {
		f := newFixture(t, nil)
		_, err := f.c.GetTicketOnly(t.Context(), ticket.Ref)
		require.NoError(t, err)
		f.srv.FailNext(1, http.StatusInternalServerError, "")
		require.ErrorIs(t, send(t, f, "ver_5xx"), core.ErrUnavailable)
		assert.Empty(t, f.srv.Actions(ticket.Ref), "the POST that failed is not sent again by the client")
	})
	t.Run("429 on the note: retried after Retry-After", func(t *testing.T) {
		f := newFixture(t, nil)
		f.srv.FailNext(1, http.StatusTooManyRequests, "3")
		require.NoError(t, send(t, f, "ver_429"))
		assert.Len(t, f.srv.Actions(ticket.Ref), 1)
		assert.Contains(t, f.sleep.d, 3*time.Second)
	})
	t.Run("token expired mid-flow", func(t *testing.T) {
		f := newFixture(t, nil)
		_, err := f.c.GetTicketOnly(t.Context(), ticket.Ref)
		require.NoError(t, err)
		f.srv.RevokeTokens()
		require.NoError(t, send(t, f, "ver_expired"), "one new token, the note sent once")
		assert.Len(t, f.srv.Actions(ticket.Ref), 1)
	})
	t.Run("secret regenerated: misconfigured, said plainly", func(t *testing.T) {
		f := newFixture(t, nil)
		f.srv.RejectKeys(true)
		err := send(t, f, "ver_secret")
		require.ErrorIs(t, err, core.ErrUnauthorized)
		require.ErrorIs(t, psa.Misconfiguration(err), core.ErrMisconfigured, "psa.NoteSender parks the note until the admin's fix")
		assert.Contains(t, core.ErrorMessage(err), "refused the client id and secret")
		assert.NotContains(t, err.Error(), f.srv.Config().ClientSecret)
	})
	t.Run("outcome the agent may not use: permanent", func(t *testing.T) {
		f := newFixture(t, func(c *halo.Config) { c.NoteOutcome = "32" })
		f.srv.DenyOutcome(32)
		err := send(t, f, "ver_outcome")
		require.ErrorIs(t, err, core.ErrInvalid, "psa.NoteSender makes ErrInvalid permanent: no retry for days")
		assert.Contains(t, core.ErrorMessage(err), "do not have access to this Action")
	})
	t.Run("ticket deleted: not found", func(t *testing.T) {
		f := newFixture(t, nil)
		err := f.c.AddTicketNote(t.Context(), "3999", psa.Note{Text: "x"})
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}
