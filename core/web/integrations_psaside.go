// Setup done on the PSA's side from our console: registering callbacks
// (psa.CallbackRegistrar) and installing the pods (psa.PodInstaller).

package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// handleAdminRegisterCallbacks handles "POST
// /api/v1/admin/integrations/{id}/callbacks": (re-)register the PSA's
// ticket callbacks, idempotently.
func (s *Server) handleAdminRegisterCallbacks(w http.ResponseWriter, r *http.Request) {
	tenant, in, err := s.adminIntegration(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cl, err := s.psaClient(in)
	if err != nil {
		s.writeError(w, r, settingsRefused(err))
		return
	}
	cr, ok := cl.(psa.CallbackRegistrar)
	if !ok {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "%s integrations take no callbacks", in.Kind))
		return
	}
	res, err := s.registerCallbacks(r, tenant, in, cr)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// registerCallbacks registers in's callbacks and audits the outcome. On
// failure it also returns the error to answer with.
func (s *Server) registerCallbacks(r *http.Request, tenant core.Tenant, in core.Integration, cr psa.CallbackRegistrar) (actionOut, error) {
	ctx, cancel := context.WithTimeout(r.Context(), psaCheckTimeout)
	defer cancel()
	tech := techFrom(r)
	regs, err := cr.RegisterCallbacks(ctx, s.callbackURL(tenant, in))
	if err != nil {
		ferr := s.psaFailure(r, in.Kind, "Registering the ticket callbacks failed", err)
		msg := core.ErrorMessage(ferr) + ". New tickets are not reported until this works; use Register callbacks to try again."
		if aerr := s.engine.Audit(r.Context(), tenant.ID, "tech:"+tech.ID, core.AuditIntegrationCallbacksFailed, in.ID,
			map[string]string{"reason": core.ClipRunes(msg, 300, core.Ellipsis)}); aerr != nil {
			s.log.ErrorContext(r.Context(), "integration: callbacks failure not audited", "integration", in.ID, "err", aerr)
		}
		return actionOut{Message: msg}, core.Errorf(core.ErrorKind(ferr), "%s", msg)
	}
	created, reenabled := 0, 0
	var refs []string
	for _, reg := range regs {
		refs = append(refs, reg.Ref)
		if reg.Created {
			created++
		}
		if reg.Reenabled {
			reenabled++
		}
	}
	if err := s.engine.Audit(r.Context(), tenant.ID, "tech:"+tech.ID, core.AuditIntegrationCallbacksRegistered, in.ID,
		map[string]string{"callbacks": strings.Join(refs, ","), "created": strconv.Itoa(created), "reenabled": strconv.Itoa(reenabled)}); err != nil {
		// Registering again is harmless (the PSA keeps one of each).
		return actionOut{Message: "The callbacks were registered, but recording it failed; register them again."}, err
	}
	switch {
	case created > 0:
		return actionOut{OK: true, Message: "Ticket callbacks registered: the PSA reports new tickets to Countersign."}, nil
	case reenabled > 0:
		return actionOut{OK: true, Message: "The ticket callbacks were registered but disabled by the PSA; they are enabled again."}, nil
	}
	return actionOut{OK: true, Message: "The ticket callbacks were already registered."}, nil
}

// podInstaller loads {id} and its client as a PodInstaller.
func (s *Server) podInstaller(r *http.Request) (core.Tenant, core.Integration, psa.PodInstaller, error) {
	tenant, in, err := s.adminIntegration(r)
	if err != nil {
		return tenant, in, nil, err
	}
	cl, err := s.psaClient(in)
	if err != nil {
		return tenant, in, nil, settingsRefused(err)
	}
	pi, ok := cl.(psa.PodInstaller)
	if !ok {
		return tenant, in, nil, core.Errorf(core.KindInvalid, "%s integrations cannot create their pod entries; add them by hand", in.Kind)
	}
	return tenant, in, pi, nil
}

// handleAdminPodScreens handles "GET
// /api/v1/admin/integrations/{id}/pod-screens": the screens the PSA can
// host pods on, with the ones that look like ours suggested, for the admin
// to confirm before the entries are created.
func (s *Server) handleAdminPodScreens(w http.ResponseWriter, r *http.Request) {
	_, in, pi, err := s.podInstaller(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), psaCheckTimeout)
	defer cancel()
	screens, err := pi.PodScreens(ctx)
	if err != nil {
		s.writeError(w, r, s.psaFailure(r, in.Kind, "Listing the PSA's screens failed", err))
		return
	}
	out := []podScreenOut{}
	suggested := map[string]int{}
	count := map[psa.Screen]int{}
	for _, sc := range screens {
		out = append(out, podScreenOut{ID: sc.ID, Key: sc.Key, Name: sc.Name, Screen: string(sc.Screen)})
		if sc.Screen != "" {
			count[sc.Screen]++
			suggested[string(sc.Screen)] = sc.ID
		}
	}
	for sc, n := range count {
		if n != 1 {
			delete(suggested, string(sc)) // ambiguous: the admin chooses
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"screens": out, "suggested": suggested})
}

// handleAdminInstallPods handles "POST
// /api/v1/admin/integrations/{id}/pods": create the pod entries in the PSA
// (psa.PodInstaller), skipping those that exist.
func (s *Server) handleAdminInstallPods(w http.ResponseWriter, r *http.Request) {
	var req installPodsIn
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tenant, in, pi, err := s.podInstaller(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	g, ok := pi.(psa.SetupGuide)
	if !ok {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "%s integrations do not say which pod entries they need", in.Kind))
		return
	}
	screens := map[psa.Screen]int{}
	for k, v := range req.Screens {
		sc := psa.Screen(k)
		if sc != psa.ScreenContact && sc != psa.ScreenTicket {
			s.writeError(w, r, core.Errorf(core.KindInvalid, "screens are \"contact\" and \"ticket\", not %q", core.ClipRunes(k, 40, core.Ellipsis)))
			return
		}
		if v < 0 || v > 1<<30 {
			s.writeError(w, r, core.Errorf(core.KindInvalid, "the PSA's screen id for %s must be a positive number", k))
			return
		}
		screens[sc] = v
	}
	entries := g.Setup(s.podBase(tenant, in), s.origin).Pods
	ctx, cancel := context.WithTimeout(r.Context(), psaCheckTimeout)
	defer cancel()
	done, err := pi.InstallPods(ctx, entries, screens)
	tech := techFrom(r)
	detail := map[string]string{}
	for _, p := range done {
		state := "existed"
		if p.Created {
			state = "created"
		}
		detail[string(p.Screen)] = p.Ref + " " + state
	}
	if len(done) > 0 {
		if aerr := s.engine.Audit(r.Context(), tenant.ID, "tech:"+tech.ID, core.AuditIntegrationPodsInstalled, in.ID, detail); aerr != nil {
			// Installing again finds the entries made and makes no more.
			s.writeError(w, r, fmt.Errorf("the pod entries were created, but recording it failed; install them again: %w", aerr))
			return
		}
	}
	if err != nil {
		s.writeError(w, r, s.psaFailure(r, in.Kind, "Creating the pod entries failed", err))
		return
	}
	out := []installedPodOut{}
	for _, p := range done {
		out = append(out, installedPodOut{Screen: string(p.Screen), Ref: p.Ref, ScreenID: p.ScreenID, Created: p.Created})
	}
	writeJSON(w, http.StatusOK, map[string]any{"pods": out})
}
