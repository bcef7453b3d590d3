package live_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/live"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func event(tenant, contact, ticket string) core.Event {
	return core.Event{Type: core.EventVerificationVerified, TenantID: tenant, ContactID: contact, TicketRef: ticket,
		VerificationID: core.NewID("ver"), Status: core.StatusVerified, At: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
}

func subscribe(t *testing.T, h *live.Hub, tenant string, w live.Watch) *live.Subscription {
	t.Helper()
	s, err := h.Subscribe(tenant, w)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// drain returns what s holds now, without waiting.
func drain(s *live.Subscription) []live.Message {
	var out []live.Message
	for {
		select {
		case m, ok := <-s.C():
			if !ok {
				return out
			}
			out = append(out, m)
		default:
			return out
		}
	}
}

func TestFanOut(t *testing.T) {
	h := live.NewHub(0)
	byContact := []*live.Subscription{
		subscribe(t, h, "ten_a", live.Watch{ContactID: "con_1"}),
		subscribe(t, h, "ten_a", live.Watch{ContactID: "con_1"}),
	}
	byTicket := subscribe(t, h, "ten_a", live.Watch{TicketRef: "T-42"})
	both := subscribe(t, h, "ten_a", live.Watch{ContactID: "con_1", TicketRef: "T-42"})
	otherContact := subscribe(t, h, "ten_a", live.Watch{ContactID: "con_2"})
	otherTicket := subscribe(t, h, "ten_a", live.Watch{TicketRef: "T-43"})
	ticketOtherContact := subscribe(t, h, "ten_a", live.Watch{ContactID: "con_2", TicketRef: "T-42"})

	e := event("ten_a", "con_1", "T-42")
	h.Publish(t.Context(), e)

	for _, s := range append(byContact, byTicket, both, ticketOtherContact) {
		got := drain(s)
		require.Len(t, got, 1, "watch %+v gets the event exactly once", s.Watch())
		require.False(t, got[0].Resync())
		assert.Equal(t, e, *got[0].Event)
	}
	assert.Empty(t, drain(otherContact))
	assert.Empty(t, drain(otherTicket))

	// An event without a ticket reaches contact watchers only.
	h.Publish(t.Context(), event("ten_a", "con_2", ""))
	assert.Len(t, drain(otherContact), 1)
	assert.Len(t, drain(ticketOtherContact), 1)
	assert.Empty(t, drain(byTicket))
}

func TestTenantIsolation(t *testing.T) {
	h := live.NewHub(0)
	a := subscribe(t, h, "ten_a", live.Watch{ContactID: "con_same", TicketRef: "1001"})
	bContact := subscribe(t, h, "ten_b", live.Watch{ContactID: "con_same"})
	bTicket := subscribe(t, h, "ten_b", live.Watch{TicketRef: "1001"})

	h.Publish(t.Context(), event("ten_a", "con_same", "1001"))
	assert.Len(t, drain(a), 1)
	assert.Empty(t, drain(bContact), "tenant B must not see tenant A's contact event")
	assert.Empty(t, drain(bTicket), "tenant B must not see tenant A's ticket event")

	h.Publish(t.Context(), event("ten_b", "con_same", "1001"))
	assert.Empty(t, drain(a))
	assert.Len(t, drain(bContact), 1)
	assert.Len(t, drain(bTicket), 1)

	// An event without a tenant goes nowhere rather than anywhere.
	h.Publish(t.Context(), event("", "con_same", "1001"))
	assert.Empty(t, drain(a))
	assert.Empty(t, drain(bContact))
}

func TestMessageJSON(t *testing.T) {
	h := live.NewHub(0)
	s := subscribe(t, h, "ten_a", live.Watch{ContactID: "con_1"})
	e := event("ten_a", "con_1", "T-42")
	h.Publish(t.Context(), e)
	got := drain(s)
	require.Len(t, got, 1)
	var m map[string]any
	require.NoError(t, json.Unmarshal(got[0].JSON(), &m))
	assert.Equal(t, map[string]any{"type": "verification.verified", "contact_id": "con_1", "ticket_ref": "T-42",
		"verification_id": e.VerificationID, "status": "verified", "at": "2026-11-02T09:00:00Z"}, m, "no tenant_id on the wire")
	assert.JSONEq(t, `{"type":"resync"}`, string(live.Message{}.JSON()))
}

func TestOverflowResync(t *testing.T) {
	h := live.NewHub(3)
	slow := subscribe(t, h, "ten_a", live.Watch{ContactID: "con_1"})
	fast := subscribe(t, h, "ten_a", live.Watch{ContactID: "con_1"})
	var fastGot []live.Message
	for i := range 10 {
		h.Publish(t.Context(), event("ten_a", "con_1", fmt.Sprint(i)))
		fastGot = append(fastGot, drain(fast)...)
	}
	got := drain(slow)
	require.Len(t, got, 4, "three events, then the reserved resync")
	for i, m := range got[:3] {
		require.False(t, m.Resync())
		assert.Equal(t, fmt.Sprint(i), m.Event.TicketRef, "in order")
	}
	assert.True(t, got[3].Resync())
	assert.True(t, slow.Lagged())

	h.Publish(t.Context(), event("ten_a", "con_1", "late"))
	assert.Empty(t, drain(slow), "a lagged subscription gets nothing after its resync")
	assert.Len(t, fastGot, 10, "a subscriber that keeps up is not affected")
	assert.False(t, fast.Lagged())
	assert.Len(t, drain(fast), 1)
}

func TestUnsubscribe(t *testing.T) {
	h := live.NewHub(0)
	s := subscribe(t, h, "ten_a", live.Watch{ContactID: "con_1", TicketRef: "T-1"})
	keep := subscribe(t, h, "ten_a", live.Watch{ContactID: "con_1"})
	require.Equal(t, 2, h.Subscribers())
	s.Close()
	s.Close() // twice is fine
	assert.Equal(t, 1, h.Subscribers())
	_, open := <-s.C()
	assert.False(t, open, "C is closed")
	h.Publish(t.Context(), event("ten_a", "con_1", "T-1"))
	assert.Len(t, drain(keep), 1)
	keep.Close()
	assert.Equal(t, 0, h.Subscribers())
	h.Publish(t.Context(), event("ten_a", "con_1", "T-1")) // nobody left: no panic
}

func TestResyncAll(t *testing.T) {
	h := live.NewHub(0)
	a := subscribe(t, h, "ten_a", live.Watch{ContactID: "con_1"})
	b := subscribe(t, h, "ten_b", live.Watch{TicketRef: "7"})
	h.ResyncAll()
	for _, s := range []*live.Subscription{a, b} {
		got := drain(s)
		require.Len(t, got, 1)
		assert.True(t, got[0].Resync())
		assert.False(t, s.Lagged(), "a resync alone does not end the subscription")
	}
	h.Publish(t.Context(), event("ten_a", "con_1", ""))
	assert.Len(t, drain(a), 1)
}

func TestHubClose(t *testing.T) {
	h := live.NewHub(0)
	s := subscribe(t, h, "ten_a", live.Watch{ContactID: "con_1"})
	h.Close()
	_, open := <-s.C()
	assert.False(t, open)
	s.Close()
	_, err := h.Subscribe("ten_a", live.Watch{ContactID: "con_1"})
	require.Error(t, err)
	assert.Equal(t, core.KindUnavailable, core.ErrorKind(err))
	h.Publish(t.Context(), event("ten_a", "con_1", ""))
}

func TestSubscribeValidation(t *testing.T) {
	h := live.NewHub(0)
	for _, tc := range []struct {
		name, tenant string
		w            live.Watch
	}{
		{"no tenant", "", live.Watch{ContactID: "con_1"}},
		{"no topic", "ten_a", live.Watch{}},
		{"blank topic", "ten_a", live.Watch{ContactID: " ", TicketRef: "\t"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.Subscribe(tc.tenant, tc.w)
			require.Error(t, err)
			assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
		})
	}
	assert.Equal(t, 0, h.Subscribers())
}

// TestConcurrency publishes, subscribes and unsubscribes at once; run with
// -race. Every subscriber that stays open and keeps reading sees every
// event of its contact.
func TestConcurrency(t *testing.T) {
	h := live.NewHub(1024)
	const (
		readers    = 20
		publishers = 4
		perPub     = 200
	)
	var wg sync.WaitGroup
	counts := make([]int, readers)
	subs := make([]*live.Subscription, readers)
	for i := range subs {
		subs[i] = subscribe(t, h, "ten_a", live.Watch{ContactID: "con_1"})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range subs[i].C() {
				if !m.Resync() {
					counts[i]++
				}
			}
		}()
	}
	var churn sync.WaitGroup
	stop := make(chan struct{})
	churn.Add(1)
	go func() { // subscribers coming and going, in both tenants
		defer churn.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			s, err := h.Subscribe([]string{"ten_a", "ten_b"}[i%2], live.Watch{ContactID: "con_1", TicketRef: "T"})
			if err == nil {
				drain(s)
				s.Close()
			}
		}
	}()
	var pubs sync.WaitGroup
	for range publishers {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			for range perPub {
				h.Publish(t.Context(), event("ten_a", "con_1", "T"))
				h.Publish(t.Context(), event("ten_b", "con_1", "T"))
			}
		}()
	}
	pubs.Wait()
	close(stop)
	churn.Wait()
	for _, s := range subs {
		s.Close()
	}
	wg.Wait()
	for i, n := range counts {
		assert.Equal(t, publishers*perPub, n, "reader %d", i)
	}
}

func TestTechnicianEvents(t *testing.T) {
	h := live.NewHub(0)
	mine := subscribe(t, h, "ten_a", live.Watch{ContactID: "con_1", TechnicianID: "tec_1"})
	colleague := subscribe(t, h, "ten_a", live.Watch{ContactID: "con_1", TechnicianID: "tec_2"})
	anonymous := subscribe(t, h, "ten_a", live.Watch{ContactID: "con_1"})
	otherTenant := subscribe(t, h, "ten_b", live.Watch{ContactID: "con_1", TechnicianID: "tec_1"})

	e := core.Event{Type: core.EventTechnicianSignedOut, TenantID: "ten_a", TechnicianID: "tec_1",
		Reason: "An admin disabled your account", At: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	h.Publish(t.Context(), e)
	got := drain(mine)
	require.Len(t, got, 1)
	assert.Equal(t, e, *got[0].Event)
	var m map[string]any
	require.NoError(t, json.Unmarshal(got[0].JSON(), &m))
	assert.Equal(t, "An admin disabled your account", m["reason"])
	assert.NotContains(t, m, "technician_id", "a socket only ever hears about its own technician")
	assert.Empty(t, drain(colleague), "another technician's sign-out is not this one's")
	assert.Empty(t, drain(anonymous), "a technician event goes only to that technician's sockets")
	assert.Empty(t, drain(otherTenant), "tenant B's technician with the same id hears nothing of tenant A")

	// Contact events still reach a socket that also watches its technician, once.
	h.Publish(t.Context(), event("ten_a", "con_1", ""))
	assert.Len(t, drain(mine), 1)
	assert.Len(t, drain(anonymous), 1)
}

// The hooks of a cache of technicians hear every technician event (before
// subscribers do) and "everything" on a resync; a changed row reaches no
// page.
func TestOnTechnicianChange(t *testing.T) {
	h := live.NewHub(0)
	var heard []string
	remove := h.OnTechnicianChange(func(tenant, tech string) { heard = append(heard, tenant+"/"+tech) })
	page := subscribe(t, h, "ten_a", live.Watch{ContactID: "con_1", TechnicianID: "tec_1"})
	require.True(t, h.InSync(), "a hub on its own hears everything")

	h.Publish(t.Context(), core.Event{Type: core.EventTechnicianChanged, TenantID: "ten_a", TechnicianID: "tec_1"})
	assert.Empty(t, drain(page), "a changed row is for caches only")
	h.Publish(t.Context(), core.Event{Type: core.EventTechnicianSignedOut, TenantID: "ten_a", TechnicianID: "tec_1"})
	assert.Len(t, drain(page), 1, "the page hears that its session ended")
	h.Publish(t.Context(), event("ten_a", "con_1", ""))
	h.ResyncAll()
	assert.Equal(t, []string{"ten_a/tec_1", "ten_a/tec_1", "/"}, heard)

	remove()
	h.ResyncAll()
	assert.Len(t, heard, 3)
}

// TestTechVerifyInbox: a tech-verify event reaches the inbox watchers of
// its tenant only, once each, and no contact or ticket watcher; a contact
// event does not reach an inbox-only watcher.
func TestTechVerifyInbox(t *testing.T) {
	h := live.NewHub(0)
	inbox := subscribe(t, h, "ten_a", live.Watch{TechVerify: true, TechnicianID: "tec_1"})
	inboxAndContact := subscribe(t, h, "ten_a", live.Watch{TechVerify: true, ContactID: "con_1"})
	contact := subscribe(t, h, "ten_a", live.Watch{ContactID: "con_1", TicketRef: "T-1"})
	otherTenant := subscribe(t, h, "ten_b", live.Watch{TechVerify: true})

	e := core.Event{Type: core.EventTechVerifyChanged, TenantID: "ten_a", At: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}
	h.Publish(t.Context(), e)
	for _, s := range []*live.Subscription{inbox, inboxAndContact} {
		got := drain(s)
		require.Len(t, got, 1, "watch %+v gets the event exactly once", s.Watch())
		assert.JSONEq(t, `{"type":"techverify.changed","contact_id":"","verification_id":"","status":"","at":"2026-12-03T09:00:00Z"}`, string(got[0].JSON()))
	}
	assert.Empty(t, drain(contact), "a contact or ticket watcher has no inbox")
	assert.Empty(t, drain(otherTenant), "tenant B's inbox hears nothing of tenant A")

	h.Publish(t.Context(), event("ten_a", "con_1", "T-1"))
	assert.Empty(t, drain(inbox), "an inbox-only watcher hears no verification")
	assert.Len(t, drain(inboxAndContact), 1)
	assert.Len(t, drain(contact), 1)
}

// TestDevOutboxWatch: a dev outbox event reaches the outbox watchers of its
// tenant only, and neither inbox nor contact watchers; an inbox event does
// not reach an outbox-only watcher.
func TestDevOutboxWatch(t *testing.T) {
	h := live.NewHub(0)
	outbox := subscribe(t, h, "ten_a", live.Watch{Outbox: true, TechnicianID: "tec_1"})
	inbox := subscribe(t, h, "ten_a", live.Watch{TechVerify: true})
	contact := subscribe(t, h, "ten_a", live.Watch{ContactID: "con_1"})
	otherTenant := subscribe(t, h, "ten_b", live.Watch{Outbox: true})

	h.Publish(t.Context(), core.Event{Type: core.EventOutboxChanged, TenantID: "ten_a", At: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)})
	got := drain(outbox)
	require.Len(t, got, 1, "the outbox watcher gets the event once")
	assert.JSONEq(t, `{"type":"outbox.changed","contact_id":"","verification_id":"","status":"","at":"2026-12-03T09:00:00Z"}`, string(got[0].JSON()))
	assert.Empty(t, drain(inbox), "the tech-verify inbox is another topic")
	assert.Empty(t, drain(contact), "a contact watcher has no outbox")
	assert.Empty(t, drain(otherTenant), "tenant B's outbox hears nothing of tenant A")

	h.Publish(t.Context(), core.Event{Type: core.EventTechVerifyChanged, TenantID: "ten_a"})
	assert.Empty(t, drain(outbox), "an outbox-only watcher hears no inbox change")
	_, err := h.Subscribe("ten_a", live.Watch{})
	assert.Error(t, err, "a watch of nothing is refused")
}

// TestTechCheckAnswered: a tray's answer about a technician reaches that
// technician's pages in its tenant only — whatever they watch — and no
// other technician's, not even one watching the same contact; the
// technician-change hooks (caches of signed-in technicians) are not told.
func TestTechCheckAnswered(t *testing.T) {
	h := live.NewHub(0)
	var heard []string
	defer h.OnTechnicianChange(func(tenant, tech string) { heard = append(heard, tenant+"/"+tech) })()
	card := subscribe(t, h, "ten_a", live.Watch{ContactID: "con_1", TechnicianID: "tec_1"})
	inbox := subscribe(t, h, "ten_a", live.Watch{TechVerify: true, TechnicianID: "tec_1"})
	colleague := subscribe(t, h, "ten_a", live.Watch{ContactID: "con_1", TechnicianID: "tec_2"})
	anonymous := subscribe(t, h, "ten_a", live.Watch{ContactID: "con_1"})
	otherTenant := subscribe(t, h, "ten_b", live.Watch{ContactID: "con_1", TechnicianID: "tec_1"})

	e := core.Event{Type: core.EventTechCheckAnswered, TenantID: "ten_a", TechnicianID: "tec_1", ContactID: "con_1", TicketRef: "T-1",
		Answer: core.TechCheckNotThePerson, Reason: "Sam said you are NOT the person", At: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)}
	h.Publish(t.Context(), e)
	for _, s := range []*live.Subscription{card, inbox} {
		got := drain(s)
		require.Len(t, got, 1, "watch %+v gets the answer once", s.Watch())
		assert.JSONEq(t, `{"type":"techcheck.answered","contact_id":"con_1","ticket_ref":"T-1","verification_id":"","status":"",
			"answer":"not_the_person","reason":"Sam said you are NOT the person","at":"2026-12-04T09:00:00Z"}`, string(got[0].JSON()))
	}
	assert.Empty(t, drain(colleague), "another technician on the same contact hears nothing")
	assert.Empty(t, drain(anonymous), "a contact watcher without the technician hears nothing")
	assert.Empty(t, drain(otherTenant), "tenant B's technician with the same id hears nothing")
	assert.Empty(t, heard, "the technician's row did not change")

	e.TechnicianID = ""
	h.Publish(t.Context(), e)
	assert.Empty(t, drain(card), "an answer about no one goes nowhere")
	assert.Empty(t, drain(anonymous))
}
