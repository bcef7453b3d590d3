package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/gorilla/mux"
)

// Inbound PSA events (callbacks, webhooks): every PSA posts to one route,
// /webhooks/psa/{tenant slug}/{integration id} (plus the legacy routes a
// plugin's descriptor declares, psa.Inbound.LegacyPaths, for registrations
// made before it). The tenant and integration come from that path, never
// from the payload; the integration's plugin verifies the event
// (psa.CallbackVerifier: a signature, a shared secret) before anything else
// happens. A verified event is then recorded durably, once per event id
// and record (core.Engine.RecordInboundEvent), and acknowledged at once:
// PSAs wait only a few seconds (5 s is common) and retry or
// disable a registration that does not answer in time. Acting on it —
// reading the record again through the API, applying the policy — runs
// from the outbox (ActOnInboundEvent), with its retries, and its outcome
// is shown with the integration.

func (s *Server) registerPSAWebhookRoutes(r *mux.Router) {
	r.HandleFunc("/webhooks/psa/{tenant}/{integration}", s.handlePSAEvent("")).Methods(http.MethodPost)
	if s.cfg.PSA == nil {
		return
	}
	for _, d := range s.cfg.PSA.Registry().List() {
		for _, p := range d.Inbound.LegacyPaths {
			r.HandleFunc(p, s.handlePSAEvent(d.ID)).Methods(http.MethodPost)
		}
	}
}

// inboundOut is the answer to an event that was verified: what we did.
type inboundOut struct {
	Result string `json:"result"`
	Event  string `json:"event,omitempty"` // the recorded event's id
}

// handlePSAEvent handles "POST /webhooks/psa/{tenant}/{integration}" (kind
// "") and a plugin's legacy routes (kind: the plugin, whose integrations
// alone they serve). A missing or bad signature gets 401, one log line with
// path and source, and nothing else: no database write, and no key fetch
// the plugin has not pinned to the tenant's own PSA. A body that is not
// the PSA's JSON gets 400, one over psa.MaxInboundBody 413; a verified
// event we do not act on, or have seen already, gets 200.
func (s *Server) handlePSAEvent(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ip, _, _ := net.SplitHostPort(r.RemoteAddr)
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, psa.MaxInboundBody))
		if err != nil {
			s.log.InfoContext(ctx, "psa event: body too large", "path", r.URL.Path, "source_ip", ip)
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		tenant, in, cl, err := s.inboundTarget(ctx, pathVar(r, "tenant"), pathVar(r, "integration"), kind)
		if err != nil {
			s.log.InfoContext(ctx, "psa event: no such integration", "path", r.URL.Path, "source_ip", ip, "reason", core.ErrorMessage(err))
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		v, ok := cl.(psa.CallbackVerifier)
		if !ok {
			s.log.InfoContext(ctx, "psa event: integration takes no events", "path", r.URL.Path, "kind", in.Kind, "source_ip", ip)
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		cb, err := v.VerifyCallback(ctx, r.Header, body)
		switch {
		case err == nil:
		case core.ErrorKind(err) == core.KindUnauthorized:
			s.log.WarnContext(ctx, "psa event: bad signature", "path", r.URL.Path, "kind", in.Kind, "source_ip", ip, "reason", core.ErrorMessage(err))
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		case core.ErrorKind(err) == core.KindInvalid:
			s.log.InfoContext(ctx, "psa event: malformed", "path", r.URL.Path, "kind", in.Kind, "source_ip", ip, "reason", core.ErrorMessage(err))
			http.Error(w, "malformed event", http.StatusBadRequest)
			return
		default:
			// The signing key could not be fetched: we cannot tell a real
			// event from a forged one, so nothing happens.
			s.log.WarnContext(ctx, "psa event: signature not checked", "path", r.URL.Path, "kind", in.Kind, "source_ip", ip, "err", err)
			http.Error(w, "signature cannot be checked now", http.StatusServiceUnavailable)
			return
		}
		ev, created, err := s.engine.RecordInboundEvent(ctx, tenant.ID, core.InboundEvent{
			IntegrationID: in.ID, Key: inboundKey(cb, body), Type: cb.Type, Action: cb.Action, Ref: cb.Ref})
		if err != nil {
			// Not recorded: the PSA's retry may get through.
			s.log.ErrorContext(ctx, "psa event: cannot record", "integration", in.ID, "type", cb.Type, "action", cb.Action, "err", err)
			http.Error(w, "the event could not be recorded; try again", http.StatusServiceUnavailable)
			return
		}
		if !created {
			s.log.InfoContext(ctx, "psa event: delivered already", "integration", in.ID, "event", cb.ID, "source_ip", ip)
			writeJSON(w, http.StatusOK, inboundOut{Result: "ignored: this event was delivered already"})
			return
		}
		writeJSON(w, http.StatusOK, inboundOut{Result: "accepted", Event: ev.ID})
	}
}

// inboundKey identifies a verified event for de-duplication: the PSA's
// event id with the record it is about, or, when the PSA sends no id, a
// digest of the body (a retried delivery sends the same bytes).
func inboundKey(cb psa.Callback, body []byte) string {
	if cb.ID != "" && len(cb.ID) <= 100 {
		return "id:" + cb.ID + "|" + cb.Type + "|" + cb.Ref
	}
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ActOnInboundEvent acts on a recorded inbound event: it is the
// core.Sender of outbox items of kind core.OutboxInboundEvent, so that a
// slow or failing PSA or provider is retried by the outbox rather than
// timing the PSA's request out. A new ticket gets what its client's policy
// says; anything else is ignored. The outcome is recorded on the event
// (core.Engine.FinishInboundEvent); a failure is an error, for the
// outbox's next try.
func (s *Server) ActOnInboundEvent(ctx context.Context, m core.Outbound) (string, error) {
	ev, err := s.engine.InboundEvent(ctx, m.Tenant, m.To)
	if err != nil {
		if core.ErrorKind(err) == core.KindNotFound {
			return "", &core.PermanentError{Code: "event", Reason: "the inbound event is gone", Err: err}
		}
		return "", err
	}
	if ev.Status == core.InboundDone || ev.Status == core.InboundIgnored {
		return "event:" + ev.ID, nil
	}
	tenant, err := s.engine.Tenant(ctx, m.Tenant)
	if err != nil {
		return "", err
	}
	in, err := s.engine.Integration(ctx, tenant.ID, ev.IntegrationID)
	if err != nil {
		if core.ErrorKind(err) == core.KindNotFound {
			return "", &core.PermanentError{Code: "integration", Reason: "the PSA integration was removed", Err: err}
		}
		return "", err
	}
	outcome := "ignored"
	if ev.Type == "ticket" && ev.Action == psa.CallbackAdded {
		cl, err := s.psaClient(in)
		if err != nil {
			return "", &core.PermanentError{Code: "integration", Reason: "the PSA integration's settings are invalid", Err: err}
		}
		var refused error
		if outcome, refused = s.onNewTicket(ctx, tenant, in, cl, ev.Ref); refused != nil {
			// The PSA refuses the integration's keys: the event waits in
			// the outbox, unfinished, until an admin fixes them.
			return "", psa.Misconfiguration(refused)
		}
	}
	status := core.InboundDone
	switch {
	case strings.HasPrefix(outcome, "ignored"):
		status = core.InboundIgnored
	case strings.HasPrefix(outcome, "failed"):
		status = core.InboundFailed
	}
	if err := s.engine.FinishInboundEvent(ctx, tenant.ID, ev.ID, status, outcome); err != nil {
		return "", err
	}
	if status == core.InboundFailed {
		return "", fmt.Errorf("psa event %s: %s", ev.ID, outcome)
	}
	return "event:" + ev.ID, nil
}

// inboundTarget loads the tenant and integration an event path names, and
// the integration's client. kind, when not "", is the only PSA the route
// serves.
func (s *Server) inboundTarget(ctx context.Context, slug, integrationID, kind string) (core.Tenant, core.Integration, psa.Client, error) {
	if len(slug) > 100 || len(integrationID) > 64 {
		return core.Tenant{}, core.Integration{}, nil, core.Errorf(core.KindNotFound, "no such integration")
	}
	tenant, err := s.engine.TenantBySlug(ctx, slug)
	if err != nil {
		return tenant, core.Integration{}, nil, err
	}
	in, err := s.engine.Integration(ctx, tenant.ID, integrationID)
	if err != nil {
		return tenant, in, nil, err
	}
	if kind != "" && in.Kind != kind {
		return tenant, in, nil, core.Errorf(core.KindNotFound, "integration %s is not a %s integration", in.ID, kind)
	}
	cl, err := s.psaClient(in)
	return tenant, in, cl, err
}

// onNewTicket acts on a verified "ticket added" callback as the policy of
// the ticket's client says (core.Policy.OnNewTicket), once per ticket, and
// returns what it did. The ticket is read again through the API: the
// callback only said that something happened.
//
// The error is not nil only when the PSA refused the integration's keys
// (401 or 403): the event is then not finished but waits for the fix.
func (s *Server) onNewTicket(ctx context.Context, tenant core.Tenant, in core.Integration, cl psa.Client, ref string) (string, error) {
	tg, ok := cl.(psa.TicketGetter)
	if !ok {
		return "ignored: this integration cannot read tickets", nil
	}
	t, err := tg.GetTicket(ctx, ref)
	if err != nil {
		if core.ErrorKind(err) == core.KindNotFound {
			// Genuine (its credentials or signature checked) but about a
			// ticket the PSA does not have: deleted since, or a hand-made
			// delivery. Dropped, and said so for whoever reads the log.
			s.log.InfoContext(ctx, "psa event dropped: the ticket is not in the PSA", "integration", in.ID, "psa", in.Kind, "ticket", ref)
			return "ignored: the ticket is gone", nil
		}
		if k := core.ErrorKind(err); k == core.KindUnauthorized || k == core.KindForbidden {
			s.log.WarnContext(ctx, "psa event waits: the PSA refuses the integration's keys", "integration", in.ID, "ticket", ref, "err", err)
			return "", err
		}
		s.log.WarnContext(ctx, "psa event: cannot read the new ticket", "integration", in.ID, "ticket", ref, "err", err)
		return "failed: the ticket could not be read", nil
	}
	clientID, err := s.engine.MirroredClient(ctx, tenant.ID, in.Kind, t.CompanyRef)
	if err != nil {
		s.log.ErrorContext(ctx, "psa event: client lookup", "integration", in.ID, "err", err)
		return "failed", nil
	}
	policy, err := s.engine.Policy(ctx, tenant.ID, clientID)
	if err != nil {
		s.log.ErrorContext(ctx, "psa event: policy", "integration", in.ID, "err", err)
		return "failed", nil
	}
	if policy.OnNewTicket == "" {
		return "ignored: the policy does nothing on new tickets", nil
	}
	nt := core.NewTicket{IntegrationID: in.ID, Kind: in.Kind, TicketRef: t.Ref, OnNewTicket: policy.OnNewTicket}
	if handled, err := s.engine.TicketHandled(ctx, tenant.ID, nt); err != nil || handled {
		if err != nil {
			s.log.ErrorContext(ctx, "psa event: audit lookup", "integration", in.ID, "err", err)
			return "failed", nil
		}
		return "ignored: the ticket was handled already", nil
	}
	if t.Contact != nil {
		emb, _ := cl.(psa.Embedder)
		contact, err := s.mirrorContact(ctx, emb, in, t.ContactRef, t.Contact)
		if err != nil {
			s.log.WarnContext(ctx, "psa event: cannot mirror the ticket's contact", "integration", in.ID, "ticket", t.Ref, "err", err)
		}
		nt.ContactID = contact.ID
	}
	// The claim is the check that counts: of deliveries racing past the
	// one above, one records the ticket and acts.
	claimed, err := s.engine.ClaimNewTicket(ctx, tenant.ID, nt)
	if err != nil {
		s.log.ErrorContext(ctx, "psa event: audit", "integration", in.ID, "err", err)
		return "failed", nil
	}
	if !claimed {
		return "ignored: the ticket was handled already", nil
	}
	result := "recorded"
	if policy.OnNewTicket == core.OnNewTicketAutoSend {
		if result, err = s.autoSend(ctx, tenant, policy, nt); err != nil {
			s.log.ErrorContext(ctx, "psa event: audit", "integration", in.ID, "err", err)
			result = "failed: " + result
		}
	}
	s.engine.Publish(ctx, core.Event{Type: core.EventTicketAdded, TenantID: tenant.ID, ContactID: nt.ContactID, TicketRef: t.Ref, At: s.engine.Now()})
	return result, nil
}

// autoSend starts a verification to the new ticket's contact on no
// technician's behalf; its result is written to the ticket like any other.
// A verification that cannot start is audited with its reason; an error
// is that audit failing.
func (s *Server) autoSend(ctx context.Context, tenant core.Tenant, policy core.Policy, nt core.NewTicket) (string, error) {
	reason := ""
	if nt.ContactID == "" {
		reason = "the ticket has no contact"
	} else {
		_, err := s.engine.Start(ctx, core.StartRequest{TenantID: tenant.ID, ContactID: nt.ContactID, Method: policy.AutoSendMethod,
			TicketRef: nt.TicketRef, IntegrationID: nt.IntegrationID, System: "integration:" + nt.IntegrationID})
		if err == nil {
			return "verification sent", nil
		}
		if reason = core.ErrorMessage(err); reason == "" {
			s.log.ErrorContext(ctx, "psa event: automatic send", "integration", nt.IntegrationID, "ticket", nt.TicketRef, "err", err)
			reason = "internal error"
		}
	}
	result := "recorded; no verification sent: " + reason
	return result, s.engine.NewTicketAutoSendFailed(ctx, tenant.ID, nt, core.ClipRunes(reason, 300, core.Ellipsis))
}
