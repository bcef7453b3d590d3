package psatest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// The cases of the writes an SMS opt-in form and a tray ticket make on
// contacts and tickets (psa.ContactNoter, psa.ContactPhoneSetter,
// psa.TicketContactSetter) and of the default contact they read
// (psa.DefaultContactGetter, which also joins the reads every error case
// runs). Each write is read back through the fake, which a client with
// the capability must let the suite do: its fake implements the matching
// interface below, or the case fails.

// ContactNoteFake is implemented by fakes of PSAs whose client is a
// [psa.ContactNoter].
type ContactNoteFake interface {
	// ContactNotes returns the texts of the notes on the contact with
	// ref, oldest first.
	ContactNotes(contactRef string) []string
}

// ContactPhoneFake is implemented by fakes of PSAs whose client is a
// [psa.ContactPhoneSetter].
type ContactPhoneFake interface {
	// ContactPhones returns the phone numbers of the contact with ref as
	// the PSA stores them (nil for no such contact).
	ContactPhones(contactRef string) []psa.Phone
}

// TicketContactFake is implemented by fakes of PSAs whose client is a
// [psa.TicketContactSetter].
type TicketContactFake interface {
	// TicketContact returns the contact ref of the ticket with ref; ""
	// for none.
	TicketContact(ticketRef string) string
}

// DefaultContactFake is implemented by fakes of PSAs whose client is a
// [psa.DefaultContactGetter].
type DefaultContactFake interface {
	// SetDefaultContact makes the contact with contactRef the one the
	// company with companyRef names as its default; "" names none.
	SetDefaultContact(companyRef, contactRef string)
}

// WriteFaulter is implemented by fakes of PSAs whose client reads before
// it writes a contact note (Halo reads the user for the client its CRM
// note belongs to): FailNextWrite is [Fake.FailNext] for requests that
// write (any method but GET) only, so that a case about a failed write
// fails the write and not the read before it, which may be retried.
type WriteFaulter interface {
	FailNextWrite(n, status int, retryAfter string)
}

// fakeAs returns e's fake as F, failing the test when the fake of a
// client with capability does not implement it.
func fakeAs[F any](t *testing.T, e env, capability, iface string) F {
	t.Helper()
	f, ok := e.fake.(F)
	require.True(t, ok, "the client implements psa.%s: its fake must implement psatest.%s", capability, iface)
	return f
}

// phoneSet is the digits of each of phones, sorted: PSAs keep the format
// they were given, and the order of a contact's numbers is theirs.
func phoneSet(phones []psa.Phone) []string {
	out := []string{}
	for _, p := range phones {
		out = append(out, digits(p.Number))
	}
	slices.Sort(out)
	return out
}

func testAddContactNote(t *testing.T, h Harness) {
	e := newEnv(t, h)
	n, ok := e.client.(psa.ContactNoter)
	if !ok {
		t.Skip("client does not implement psa.ContactNoter")
	}
	f := fakeAs[ContactNoteFake](t, e, "ContactNoter", "ContactNoteFake")
	seedStandard(e.fake)
	require.NoError(t, n.AddContactNote(t.Context(), alice.Ref, "SMS opt-in form sent (ver_psatestc1)."))
	require.NoError(t, n.AddContactNote(t.Context(), alice.Ref, "SMS opt-in form sent again (ver_psatestc2)."))
	notes := f.ContactNotes(alice.Ref)
	require.Len(t, notes, 2, "each note once, on the contact")
	assert.Contains(t, notes[0], "ver_psatestc1")
	assert.Contains(t, notes[1], "ver_psatestc2")
	assert.Empty(t, f.ContactNotes(bob.Ref), "another contact has none")
	assert.Empty(t, e.fake.Notes(ticketAlice.Ref), "a contact note is not a ticket note")

	err := n.AddContactNote(t.Context(), missingRef, "psatest: nobody")
	assert.ErrorIs(t, err, core.ErrNotFound, "%v", err)

	// Not idempotent: a 5xx may have been processed, so it is not retried.
	// The 503 must hit the write itself, not a read the client makes first.
	failWrite := e.fake.FailNext
	if wf, ok := e.fake.(WriteFaulter); ok {
		failWrite = wf.FailNextWrite
	}
	failWrite(1, 503, "")
	err = n.AddContactNote(t.Context(), bob.Ref, "psatest: after a 503")
	failWrite(0, 0, "")
	require.Error(t, err, "a contact note POST that may have been processed is never retried blindly")
	assert.ErrorIs(t, err, core.ErrUnavailable, "%v", err)
	assert.Empty(t, f.ContactNotes(bob.Ref))
}

func testSetContactPhone(t *testing.T, h Harness) {
	e := newEnv(t, h)
	s, ok := e.client.(psa.ContactPhoneSetter)
	if !ok {
		t.Skip("client does not implement psa.ContactPhoneSetter")
	}
	f := fakeAs[ContactPhoneFake](t, e, "ContactPhoneSetter", "ContactPhoneFake")
	seedStandard(e.fake)
	ctx := t.Context()

	// Old in E.164, the PSA's copy in national format: replaced, the
	// contact's other number kept.
	require.NoError(t, s.SetContactPhone(ctx, alice.Ref, psa.PhoneChange{Old: "+15550100142", New: "+447700900123"}))
	assert.Equal(t, []string{"447700900123", "5550100100"}, phoneSet(f.ContactPhones(alice.Ref)), "alice's mobile replaced, her direct line kept")
	// Old as the PSA wrote it.
	require.NoError(t, s.SetContactPhone(ctx, bob.Ref, psa.PhoneChange{Old: bob.Phones[0].Number, New: "+15550100188"}))
	assert.Equal(t, []string{"15550100188"}, phoneSet(f.ContactPhones(bob.Ref)), "bob's number replaced")
	// A contact's only number, not a mobile: replaced, not added beside.
	require.NoError(t, s.SetContactPhone(ctx, carol.Ref, psa.PhoneChange{Old: "+15550100199", New: "+447700900998"}))
	assert.Equal(t, []string{"447700900998"}, phoneSet(f.ContactPhones(carol.Ref)), "carol's one number replaced")
	// No number reading as Old: New is added.
	require.NoError(t, s.SetContactPhone(ctx, carol.Ref, psa.PhoneChange{Old: "+15550100111", New: "+447700900999"}))
	assert.Equal(t, []string{"447700900998", "447700900999"}, phoneSet(f.ContactPhones(carol.Ref)), "carol's new number added beside her own")
	// A number the contact has already changes nothing.
	before := f.ContactPhones(alice.Ref)
	require.NoError(t, s.SetContactPhone(ctx, alice.Ref, psa.PhoneChange{Old: "+15550100142", New: "+447700900123"}))
	assert.Equal(t, before, f.ContactPhones(alice.Ref), "setting a number the contact has changes nothing")
	if g, ok := e.client.(psa.ContactGetter); ok {
		got, err := g.GetContact(ctx, alice.Ref)
		require.NoError(t, err)
		assert.Equal(t, []string{"447700900123", "5550100100"}, phoneSet(got.Phones), "GetContact after the change reads the new number")
	}

	err := s.SetContactPhone(ctx, missingRef, psa.PhoneChange{New: "+447700900555"})
	assert.ErrorIs(t, err, core.ErrNotFound, "%v", err)
}

func testSetTicketContact(t *testing.T, h Harness) {
	e := newEnv(t, h)
	s, ok := e.client.(psa.TicketContactSetter)
	if !ok {
		t.Skip("client does not implement psa.TicketContactSetter")
	}
	f := fakeAs[TicketContactFake](t, e, "TicketContactSetter", "TicketContactFake")
	seedStandard(e.fake)
	ctx := t.Context()

	require.NoError(t, s.SetTicketContact(ctx, ticketNobody.Ref, carol.Ref), "a ticket without a contact")
	assert.Equal(t, carol.Ref, f.TicketContact(ticketNobody.Ref))
	require.NoError(t, s.SetTicketContact(ctx, ticketAlice.Ref, bob.Ref), "a ticket with another contact")
	assert.Equal(t, bob.Ref, f.TicketContact(ticketAlice.Ref))
	if g, ok := e.client.(psa.TicketGetter); ok {
		got, err := g.GetTicket(ctx, ticketAlice.Ref)
		require.NoError(t, err)
		assert.Equal(t, bob.Ref, got.ContactRef)
		assert.Equal(t, ticketAlice.Summary, got.Summary, "nothing else on the ticket changes")
		assert.Equal(t, ticketAlice.CompanyRef, got.CompanyRef, "nothing else on the ticket changes")
	}

	err := s.SetTicketContact(ctx, missingRef, bob.Ref)
	assert.ErrorIs(t, err, core.ErrNotFound, "no such ticket: %v", err)
	err = s.SetTicketContact(ctx, ticketNobody.Ref, missingRef)
	require.Error(t, err, "no such contact")
	assert.Contains(t, []core.Kind{core.KindNotFound, core.KindInvalid}, core.ErrorKind(err), "no such contact: %v", err)
	assert.Equal(t, carol.Ref, f.TicketContact(ticketNobody.Ref), "a refused contact leaves the ticket's own")
}

func testDefaultContact(t *testing.T, h Harness) {
	e := newEnv(t, h)
	g, ok := e.client.(psa.DefaultContactGetter)
	if !ok {
		t.Skip("client does not implement psa.DefaultContactGetter")
	}
	f := fakeAs[DefaultContactFake](t, e, "DefaultContactGetter", "DefaultContactFake")
	seedStandard(e.fake)
	f.SetDefaultContact(acme.Ref, bob.Ref)
	ctx := t.Context()

	got, err := g.DefaultContact(ctx, acme.Ref)
	require.NoError(t, err)
	assert.Equal(t, bob.Ref, got, "the company's default contact")
	got, err = g.DefaultContact(ctx, globex.Ref)
	require.NoError(t, err)
	assert.Empty(t, got, "a company that names none")
	f.SetDefaultContact(acme.Ref, "")
	got, err = g.DefaultContact(ctx, acme.Ref)
	require.NoError(t, err)
	assert.Empty(t, got, "a default contact unset in the PSA is gone")

	// A company the PSA does not have names no default contact; a PSA that
	// can tell says so.
	got, err = g.DefaultContact(ctx, missingRef)
	if err != nil {
		assert.ErrorIs(t, err, core.ErrNotFound, "%v", err)
	}
	assert.Empty(t, got)
}

// write is one contact or ticket write of a client, and how to tell
// from the fake that it was made.
type write struct {
	name    string
	fn      func(ctx context.Context) error
	written func() bool
}

// contactWrites returns a write for each of the contact and ticket write
// capabilities of e's client, against the standard seed. Each changes
// something new every time it is made, so that written tells one call
// from the next.
func contactWrites(t *testing.T, e env) []write {
	t.Helper()
	var out []write
	if n, ok := e.client.(psa.ContactNoter); ok {
		f := fakeAs[ContactNoteFake](t, e, "ContactNoter", "ContactNoteFake")
		text := ""
		out = append(out, write{"AddContactNote", func(ctx context.Context) error {
			text = "psatest: opt-in form sent at " + time.Now().Format(time.RFC3339Nano)
			return n.AddContactNote(ctx, alice.Ref, text)
		}, func() bool {
			return slices.ContainsFunc(f.ContactNotes(alice.Ref), func(s string) bool { return s == text })
		}})
	}
	if s, ok := e.client.(psa.ContactPhoneSetter); ok {
		f := fakeAs[ContactPhoneFake](t, e, "ContactPhoneSetter", "ContactPhoneFake")
		n, current, number := 0, bob.Phones[0].Number, ""
		out = append(out, write{"SetContactPhone", func(ctx context.Context) error {
			// bob's one number is replaced by a new one each time.
			n++
			number = fmt.Sprintf("+44770090%04d", n)
			err := s.SetContactPhone(ctx, bob.Ref, psa.PhoneChange{Old: current, New: number})
			if err == nil {
				current = number
			}
			return err
		}, func() bool { return slices.Contains(phoneSet(f.ContactPhones(bob.Ref)), digits(number)) }})
	}
	if s, ok := e.client.(psa.TicketContactSetter); ok {
		f := fakeAs[TicketContactFake](t, e, "TicketContactSetter", "TicketContactFake")
		next := []string{alice.Ref, bob.Ref}
		to := ""
		out = append(out, write{"SetTicketContact", func(ctx context.Context) error {
			// ticketAlice's contact swaps between bob and alice.
			if f.TicketContact(ticketAlice.Ref) == next[1] {
				to = next[0]
			} else {
				to = next[1]
			}
			return s.SetTicketContact(ctx, ticketAlice.Ref, to)
		}, func() bool { return f.TicketContact(ticketAlice.Ref) == to }})
	}
	return out
}

// testContactWriteErrors holds the contact and ticket writes to the error
// contract the reads are held to: a 429 is retried after its Retry-After
// and the write then made once; a PSA that keeps answering 429, 401 or
// 5xx is an error of its kind with nothing written; a cancelled context
// returns at once with nothing written.
func testContactWriteErrors(t *testing.T, h Harness) {
	e := newEnv(t, h)
	seedStandard(e.fake)
	ws := contactWrites(t, e)
	if len(ws) == 0 {
		t.Skip("client implements no contact or ticket write")
	}
	warmUp(t, e.client)
	for _, w := range ws {
		t.Run(w.name, func(t *testing.T) {
			e.fake.FailNext(1, 429, "1")
			before := e.fake.Requests()
			require.NoError(t, w.fn(t.Context()), "after one 429")
			assert.GreaterOrEqual(t, e.fake.Requests()-before, 2, "the 429 was retried")
			assert.Contains(t, e.sleep.Delays(), time.Second, "Retry-After: 1 is honoured")
			assert.True(t, w.written(), "written after the retry")

			for _, tc := range []struct {
				status int
				kind   error
			}{{429, core.ErrRateLimited}, {401, core.ErrUnauthorized}, {500, core.ErrUnavailable}, {503, core.ErrUnavailable}} {
				e.fake.FailNext(forever, tc.status, "")
				before := e.fake.Requests()
				err := w.fn(t.Context())
				e.fake.FailNext(0, 0, "")
				require.Error(t, err, "the PSA answers %d", tc.status)
				assert.ErrorIs(t, err, tc.kind, "%d: %v", tc.status, err)
				assert.LessOrEqual(t, e.fake.Requests()-before, 10, "%d: retries are bounded", tc.status)
				assert.False(t, w.written(), "%d: nothing written", tc.status)
			}

			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			before = e.fake.Requests()
			start := time.Now()
			err := w.fn(ctx)
			assert.ErrorIs(t, err, context.Canceled, "%v", err)
			assert.Less(t, time.Since(start), time.Second, "returns promptly")
			assert.Equal(t, before, e.fake.Requests(), "a cancelled write makes no request")
			assert.False(t, w.written(), "a cancelled write is not made")

			require.NoError(t, w.fn(t.Context()), "the PSA answers again")
			assert.True(t, w.written())
		})
	}
}
