package web

import (
	"context"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/gorilla/mux"
)

// ConnectWise callbacks (reference connectwise.md §10): ConnectWise posts
// ticket events to the URL the integrations page registered,
// /webhooks/connectwise/{tenant slug}/{integration id}?recordId=. The
// tenant and integration come from that path, never from the payload; the
// plugin verifies the signature (its key fetched only from the tenant's
// own ConnectWise) before anything else happens, and the ticket is read
// again through the API before the policy acts on it.

// callbackKind is the PSA whose callbacks the route takes.
const callbackKind = "connectwise"

const (
	// maxCallbackBody caps a callback body (reference §10.4: 1 MiB).
	maxCallbackBody = 1 << 20
	// callbackBudget is how long acting on a callback may take:
	// ConnectWise waits about 5 s for an answer (reference §10.2).
	callbackBudget = 4500 * time.Millisecond
)

func (s *Server) registerConnectWiseWebhookRoutes(r *mux.Router) {
	r.HandleFunc("/webhooks/connectwise/{tenant}/{integration}", s.handleConnectWiseCallback).Methods(http.MethodPost)
}

// callbackOut is the answer to a callback that was signed: what we did.
type callbackOut struct {
	Result string `json:"result"`
}

// handleConnectWiseCallback handles "POST
// /webhooks/connectwise/{tenant}/{integration}". A missing or bad
// signature gets 401, one log line with path and source, and nothing else:
// no database write, and no key fetch unless the key URL is the tenant's
// own ConnectWise. A body that is not JSON gets 400; a signed event we do
// not act on gets 200.
func (s *Server) handleConnectWiseCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCallbackBody))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	tenant, in, cl, err := s.callbackTarget(ctx, pathVar(r, "tenant"), pathVar(r, "integration"))
	if err != nil {
		s.log.InfoContext(ctx, "connectwise callback: no such integration", "path", r.URL.Path, "source_ip", ip, "reason", core.ErrorMessage(err))
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	v, ok := cl.(psa.CallbackVerifier)
	if !ok {
		s.log.InfoContext(ctx, "connectwise callback: integration takes no callbacks", "path", r.URL.Path, "source_ip", ip)
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	cb, err := v.VerifyCallback(ctx, r.Header, body)
	switch {
	case err == nil:
	case core.ErrorKind(err) == core.KindUnauthorized:
		s.log.WarnContext(ctx, "connectwise callback: bad signature", "path", r.URL.Path, "source_ip", ip, "reason", core.ErrorMessage(err))
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	case core.ErrorKind(err) == core.KindInvalid:
		s.log.InfoContext(ctx, "connectwise callback: malformed", "path", r.URL.Path, "source_ip", ip, "reason", core.ErrorMessage(err))
		http.Error(w, "malformed callback", http.StatusBadRequest)
		return
	default:
		// The signing key could not be fetched: we cannot tell a real
		// callback from a forged one, so nothing happens.
		s.log.WarnContext(ctx, "connectwise callback: signature not checked", "path", r.URL.Path, "source_ip", ip, "err", err)
		http.Error(w, "signature cannot be checked now", http.StatusServiceUnavailable)
		return
	}
	if cb.Type == "ticket" && cb.Action == psa.CallbackAdded {
		actx, cancel := context.WithTimeout(ctx, callbackBudget)
		defer cancel()
		writeJSON(w, http.StatusOK, callbackOut{Result: s.onNewTicket(actx, tenant, in, cl, cb.Ref)})
		return
	}
	s.log.DebugContext(ctx, "connectwise callback ignored", "integration", in.ID, "type", cb.Type, "action", cb.Action)
	writeJSON(w, http.StatusOK, callbackOut{Result: "ignored"})
}

// callbackTarget loads the tenant and integration a callback path names,
// and the integration's client.
func (s *Server) callbackTarget(ctx context.Context, slug, integrationID string) (core.Tenant, core.Integration, psa.Client, error) {
	var tenant core.Tenant
	if len(slug) > 100 || len(integrationID) > 64 {
		return tenant, core.Integration{}, nil, core.Errorf(core.KindNotFound, "no such integration")
	}
	err := s.store.View(ctx, func(tx core.Tx) error {
		var err error
		tenant, err = tx.TenantBySlug(ctx, slug)
		return err
	})
	if err != nil {
		return tenant, core.Integration{}, nil, err
	}
	in, err := s.engine.Integration(ctx, tenant.ID, integrationID)
	if err != nil {
		return tenant, in, nil, err
	}
	if in.Kind != callbackKind {
		return tenant, in, nil, core.Errorf(core.KindNotFound, "integration %s is not a %s integration", in.ID, callbackKind)
	}
	cl, err := s.psaClient(in)
	return tenant, in, cl, err
}

// onNewTicket acts on a verified "ticket added" callback as the policy of
// the ticket's client says (core.Policy.OnNewTicket), once per ticket, and
// returns what it did. The ticket is read again through the API: the
// callback only said that something happened.
func (s *Server) onNewTicket(ctx context.Context, tenant core.Tenant, in core.Integration, cl psa.Client, ref string) string {
	tg, ok := cl.(psa.TicketGetter)
	if !ok {
		return "ignored: this integration cannot read tickets"
	}
	t, err := tg.GetTicket(ctx, ref)
	if err != nil {
		if core.ErrorKind(err) == core.KindNotFound {
			return "ignored: the ticket is gone"
		}
		s.log.WarnContext(ctx, "connectwise callback: cannot read the new ticket", "integration", in.ID, "ticket", ref, "err", err)
		return "failed: the ticket could not be read"
	}
	clientID, err := s.mirroredClient(ctx, tenant.ID, in.Kind, t.CompanyRef)
	if err != nil {
		s.log.ErrorContext(ctx, "connectwise callback: client lookup", "integration", in.ID, "err", err)
		return "failed"
	}
	policy, err := s.engine.Policy(ctx, tenant.ID, clientID)
	if err != nil {
		s.log.ErrorContext(ctx, "connectwise callback: policy", "integration", in.ID, "err", err)
		return "failed"
	}
	if policy.OnNewTicket == "" {
		return "ignored: the policy does nothing on new tickets"
	}
	subject := "ticket:" + in.ID + ":" + t.Ref
	var seen []core.AuditEvent
	err = s.store.View(ctx, func(tx core.Tx) error {
		var err error
		seen, err = tx.AuditEvents(ctx, tenant.ID, core.AuditQuery{Action: string(core.EventTicketAdded), Subject: subject, Limit: 1})
		return err
	})
	if err != nil {
		s.log.ErrorContext(ctx, "connectwise callback: audit lookup", "integration", in.ID, "err", err)
		return "failed"
	}
	if len(seen) > 0 {
		return "ignored: the ticket was handled already"
	}
	var contact core.Contact
	if t.Contact != nil {
		emb, _ := cl.(psa.Embedder)
		if contact, err = s.mirrorContact(ctx, emb, in, t.ContactRef, t.Contact); err != nil {
			s.log.WarnContext(ctx, "connectwise callback: cannot mirror the ticket's contact", "integration", in.ID, "ticket", t.Ref, "err", err)
		}
	}
	actor := "psa:" + in.Kind
	detail := map[string]string{"integration": in.ID, "ticket": t.Ref, "on_new_ticket": policy.OnNewTicket}
	if contact.ID != "" {
		detail["contact"] = contact.ID
	}
	if err := s.engine.Audit(ctx, tenant.ID, actor, string(core.EventTicketAdded), subject, detail); err != nil {
		s.log.ErrorContext(ctx, "connectwise callback: audit", "integration", in.ID, "err", err)
		return "failed"
	}
	result := "recorded"
	if policy.OnNewTicket == core.OnNewTicketAutoSend {
		result = s.autoSend(ctx, tenant, in, policy, contact, t.Ref, subject)
	}
	s.engine.Publish(ctx, core.Event{Type: core.EventTicketAdded, TenantID: tenant.ID, ContactID: contact.ID, TicketRef: t.Ref, At: s.engine.Now()})
	return result
}

// autoSend starts a verification to the new ticket's contact on no
// technician's behalf; its result is written to the ticket like any other.
func (s *Server) autoSend(ctx context.Context, tenant core.Tenant, in core.Integration, policy core.Policy, contact core.Contact, ticketRef, subject string) string {
	reason := ""
	if contact.ID == "" {
		reason = "the ticket has no contact"
	} else {
		_, err := s.engine.Start(ctx, core.StartRequest{TenantID: tenant.ID, ContactID: contact.ID, Method: policy.AutoSendMethod,
			TicketRef: ticketRef, IntegrationID: in.ID, System: "integration:" + in.ID})
		if err == nil {
			return "verification sent"
		}
		if reason = core.ErrorMessage(err); reason == "" {
			s.log.ErrorContext(ctx, "connectwise callback: automatic send", "integration", in.ID, "ticket", ticketRef, "err", err)
			reason = "internal error"
		}
	}
	_ = s.engine.Audit(ctx, tenant.ID, "psa:"+in.Kind, "ticket.auto_send_failed", subject, map[string]string{"reason": truncateText(reason, 300)})
	return "recorded; no verification sent: " + reason
}

// mirroredClient returns the id of the local client mirroring a PSA
// company, or "" (the tenant default's policy) when there is none yet.
func (s *Server) mirroredClient(ctx context.Context, tenantID, kind, companyRef string) (string, error) {
	if companyRef == "" {
		return "", nil
	}
	var id string
	err := s.store.View(ctx, func(tx core.Tx) error {
		clients, err := tx.ListClients(ctx, tenantID)
		for _, c := range clients {
			if c.PSAKind == kind && c.PSARef == companyRef {
				id = c.ID
			}
		}
		return err
	})
	return id, err
}
