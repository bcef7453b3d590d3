package core_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

// TestTicketNoteSurvivesPSAOutage checks that a verification started from a
// PSA ticket writes its result to the ticket through the outbox, that the
// note waits out a PSA that is down, and that it is written once.
func TestTicketNoteSurvivesPSAOutage(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := t.Context()
		in, err := f.eng.PutIntegration(ctx, f.tenant.ID, "test", core.Integration{Kind: "memory", Name: "PSA", Config: []byte(`{}`)})
		require.NoError(t, err)

		_, err = f.eng.Start(ctx, core.StartRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID, ContactID: f.contact.ID,
			Method: core.MethodSMSCode, IntegrationID: in.ID})
		assert.Equal(t, core.KindInvalid, kindOf(err), "an integration needs a ticket")
		_, err = f.eng.Start(ctx, core.StartRequest{TenantID: f.tenant.ID, TechnicianID: f.tech.ID, ContactID: f.contact.ID,
			Method: core.MethodSMSCode, TicketRef: "900", IntegrationID: "int_other"})
		assert.Equal(t, core.KindNotFound, kindOf(err), "an unknown integration is refused")

		started := f.start(t, core.MethodSMSCode, func(r *core.StartRequest) { r.TicketRef, r.IntegrationID = "900", in.ID })
		f.deliver(t)
		code := codeRE.FindStringSubmatch(f.sms.last(t).Text)
		require.NotNil(t, code)

		// The PSA is down when the note is due: the outbox keeps it.
		down := errors.New("connectwise: 503 Service Unavailable")
		f.notes.fail = []error{down, down, down}
		v, err := f.eng.CheckCode(ctx, f.tenant.ID, f.tech.ID, started.Verification.ID, code[1]+code[2])
		require.NoError(t, err)
		require.Equal(t, core.StatusVerified, v.Status)
		for range 3 {
			f.deliver(t)
			f.clk.Add(15 * time.Minute) // past the backoff
		}
		assert.Empty(t, f.notes.fail, "every outage answer was used")
		f.deliver(t)
		require.Len(t, f.notes.msgs, 1, "the note landed once the PSA was back")
		n := f.notes.msgs[0]
		assert.Equal(t, core.OutboxTicketNote, n.Kind)
		assert.Equal(t, "900", n.To)
		assert.Equal(t, in.ID, n.Integration)
		assert.Equal(t, f.tenant.ID, n.Tenant)
		assert.Contains(t, n.Text, "VERIFIED by SMS code")
		assert.NotContains(t, n.Text, code[1]+code[2], "the code never reaches the ticket")
		f.deliver(t)
		assert.Len(t, f.notes.msgs, 1, "written once")

		// A cancelled verification is noted too; one without a ticket is not.
		c := f.start(t, core.MethodSMSCode, func(r *core.StartRequest) { r.TicketRef, r.IntegrationID = "900", in.ID })
		_, err = f.eng.Cancel(ctx, f.tenant.ID, f.tech.ID, c.Verification.ID)
		require.NoError(t, err)
		plain := f.start(t, core.MethodSMSCode)
		_, err = f.eng.Cancel(ctx, f.tenant.ID, f.tech.ID, plain.Verification.ID)
		require.NoError(t, err)
		f.deliver(t)
		require.Len(t, f.notes.msgs, 2)
		assert.Contains(t, f.notes.msgs[1].Text, "was CANCELLED")

		// Notes outlast delivery retries: a weekend outage does not kill them.
		f.notes.fail = make([]error, 40)
		for i := range f.notes.fail {
			f.notes.fail[i] = down
		}
		d := f.start(t, core.MethodSMSCode, func(r *core.StartRequest) { r.TicketRef, r.IntegrationID = "900", in.ID })
		_, err = f.eng.Cancel(ctx, f.tenant.ID, f.tech.ID, d.Verification.ID)
		require.NoError(t, err)
		for range 41 {
			f.deliver(t)
			f.clk.Add(11 * time.Minute)
		}
		require.Len(t, f.notes.msgs, 3, "the note landed after 40 failed attempts")
	})
}
