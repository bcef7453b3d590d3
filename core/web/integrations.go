package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/gorilla/mux"
)

// The integrations admin page's API (/api/v1/admin/integrations): PSA
// connections whose form is drawn from the plugin's descriptor, checked
// live against the PSA before anything is stored, and the PSA-side setup
// that follows — the pod entries to add (or to have created through the
// API), the API user's permissions, and the callbacks that report new
// tickets. Secret settings are write-only: no answer ever holds one.

func (s *Server) registerAdminIntegrationRoutes(r *mux.Router) {
	r.HandleFunc("/integrations", s.handleAdminIntegrations).Methods(http.MethodGet)
	r.HandleFunc("/integrations", s.handleAdminCreateIntegration).Methods(http.MethodPost)
	r.HandleFunc("/integrations/{id}", s.handleAdminGetIntegration).Methods(http.MethodGet)
	r.HandleFunc("/integrations/{id}", s.handleAdminPutIntegration).Methods(http.MethodPut)
	r.HandleFunc("/integrations/{id}/check", s.handleAdminCheckIntegration).Methods(http.MethodPost)
	r.HandleFunc("/integrations/{id}/choices", s.handleAdminFieldChoices).Methods(http.MethodGet)
	r.HandleFunc("/integrations/{id}/callbacks", s.handleAdminRegisterCallbacks).Methods(http.MethodPost)
	r.HandleFunc("/integrations/{id}/pod-screens", s.handleAdminPodScreens).Methods(http.MethodGet)
	r.HandleFunc("/integrations/{id}/pods", s.handleAdminInstallPods).Methods(http.MethodPost)
}

// Limits of the integration form.
const (
	maxIntegrationName = 100
	// psaCheckTimeout bounds a live check: a plugin's may take a few
	// calls, each retried on 5xx.
	psaCheckTimeout = 30 * time.Second
)

type psaFieldOut struct {
	Name     string `json:"name"`
	Label    string `json:"label"`
	Kind     string `json:"kind"` // text, url, secret
	Required bool   `json:"required"`
	Help     string `json:"help,omitempty"`
	// Choosable: the console offers the setting's values from the PSA
	// (GET …/integrations/{id}/choices?field=).
	Choosable bool `json:"choosable,omitempty"`
	// Generated: the server makes the value when it is left blank (and
	// anew when the form asks), shown once after saving.
	Generated bool `json:"generated,omitempty"`
}

type psaKindOut struct {
	ID     string        `json:"id"`
	Name   string        `json:"name"`
	Fields []psaFieldOut `json:"fields"`
}

type podEntryOut struct {
	Screen      string `json:"screen"`
	ScreenName  string `json:"screen_name"`
	Description string `json:"description"`
	URL         string `json:"url"`
	Origin      string `json:"origin"`
	Type        string `json:"type"`
}

type permissionOut struct {
	Area   string `json:"area"`
	Access string `json:"access"`
	Why    string `json:"why"`
}

type setupOut struct {
	Where       string          `json:"where"`
	Pods        []podEntryOut   `json:"pods"`
	Notes       []string        `json:"notes"`
	Permissions []permissionOut `json:"permissions"`
}

// integrationOut is an integration as the admin page shows it: settings
// without secrets, and which secrets hold a value.
type integrationOut struct {
	ID         string            `json:"id"`
	Kind       string            `json:"kind"`
	KindName   string            `json:"kind_name"`
	Name       string            `json:"name"`
	Settings   map[string]string `json:"settings"`
	SecretsSet []string          `json:"secrets_set"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
	// Setup is what to do in the PSA; nil when the plugin has no guide.
	Setup                *setupOut `json:"setup,omitempty"`
	CanInstallPods       bool      `json:"can_install_pods"`
	CanRegisterCallbacks bool      `json:"can_register_callbacks"`
	CallbackURL          string    `json:"callback_url,omitempty"`
	// SetupHelpURL is the plugin's own setup help page (psa.Assets.SetupHelp).
	SetupHelpURL string `json:"setup_help_url,omitempty"`
	// Problem says why the stored settings no longer make a client.
	Problem string `json:"problem,omitempty"`
	// Events are the last events the PSA posted (callbacks), newest
	// first, with what came of them; only on the single integration.
	Events []inboundEventOut `json:"events,omitempty"`
}

// inboundEventOut is one recorded PSA event, without its de-duplication
// key.
type inboundEventOut struct {
	Type     string    `json:"type"`
	Action   string    `json:"action"`
	Ref      string    `json:"ref"`
	Status   string    `json:"status"`
	Outcome  string    `json:"outcome"`
	Attempts int       `json:"attempts"`
	Received time.Time `json:"received"`
	Done     time.Time `json:"done,omitzero"`
}

// recentEvents is how many of an integration's events its page shows.
const recentEvents = 20

// actionOut reports a follow-up step of a save that may fail on its own
// (registering callbacks) without undoing the save.
type actionOut struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

type integrationSaveOut struct {
	Integration integrationOut `json:"integration"`
	Check       string         `json:"check"`
	Callbacks   *actionOut     `json:"callbacks,omitempty"`
	// Generated holds the values the server made for Generated settings
	// in this save, by setting name: shown to the admin this once (secret
	// ones are never shown again).
	Generated map[string]string `json:"generated,omitempty"`
}

type integrationIn struct {
	Kind     string            `json:"kind"`
	Name     string            `json:"name"`
	Settings map[string]string `json:"settings"`
	// Regenerate names Generated settings to make anew even though they
	// have a value (e.g. webhook credentials that leaked).
	Regenerate []string `json:"regenerate,omitempty"`
}

// psaRegistry returns the server's PSA plugins, or why there are none.
func (s *Server) psaRegistry() (*psa.Registry, error) {
	if s.cfg.PSA == nil {
		return nil, core.Errorf(core.KindUnavailable, "no PSA plugins are configured on this server")
	}
	return s.cfg.PSA.Registry(), nil
}

// handleAdminIntegrations handles "GET /api/v1/admin/integrations": the
// PSAs this server can connect to, with their forms, and the tenant's
// integrations.
func (s *Server) handleAdminIntegrations(w http.ResponseWriter, r *http.Request) {
	reg, err := s.psaRegistry()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	tenant, err := s.adminTenant(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ins, err := s.engine.Integrations(ctx, tenant.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	kinds := []psaKindOut{}
	for _, d := range reg.List() {
		k := psaKindOut{ID: d.ID, Name: d.Name, Fields: []psaFieldOut{}}
		for _, f := range d.Fields {
			k.Fields = append(k.Fields, psaFieldOut{Name: f.Name, Label: f.Label, Kind: string(f.Kind), Required: f.Required, Help: f.Help, Choosable: f.Choosable, Generated: f.Generated})
		}
		kinds = append(kinds, k)
	}
	out := []integrationOut{}
	for _, in := range ins {
		out = append(out, s.integrationJSON(tenant, in))
	}
	writeJSON(w, http.StatusOK, map[string]any{"kinds": kinds, "integrations": out})
}

// adminTenant returns the signed-in technician's tenant.
func (s *Server) adminTenant(r *http.Request) (core.Tenant, error) {
	return s.engine.Tenant(r.Context(), techFrom(r).TenantID)
}

// adminIntegration loads {id} of the signed-in tenant.
func (s *Server) adminIntegration(r *http.Request) (core.Tenant, core.Integration, error) {
	tenant, err := s.adminTenant(r)
	if err != nil {
		return tenant, core.Integration{}, err
	}
	id := pathVar(r, "id")
	if len(id) > 64 {
		return tenant, core.Integration{}, core.Errorf(core.KindNotFound, "no such integration")
	}
	in, err := s.engine.Integration(r.Context(), tenant.ID, id)
	if core.ErrorKind(err) == core.KindNotFound {
		err = core.Errorf(core.KindNotFound, "no such integration")
	}
	return tenant, in, err
}

// handleAdminGetIntegration handles "GET /api/v1/admin/integrations/{id}".
func (s *Server) handleAdminGetIntegration(w http.ResponseWriter, r *http.Request) {
	tenant, in, err := s.adminIntegration(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := s.integrationJSON(tenant, in)
	evs, err := s.engine.InboundEvents(r.Context(), tenant.ID, in.ID, recentEvents)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, ev := range evs {
		out.Events = append(out.Events, inboundEventOut{Type: ev.Type, Action: ev.Action, Ref: ev.Ref, Status: string(ev.Status),
			Outcome: ev.Outcome, Attempts: ev.Attempts, Received: ev.ReceivedAt, Done: ev.DoneAt})
	}
	writeJSON(w, http.StatusOK, out)
}

// podBase returns the pod URL of an integration, without the PSA's query.
func (s *Server) podBase(tenant core.Tenant, in core.Integration) string {
	return strings.TrimRight(s.cfg.PublicURL, "/") + "/pod/" + tenant.Slug + "/" + in.ID
}

// callbackURL returns the URL a PSA posts an integration's events to: the
// generic inbound route (webhooks_psa.go), with the query the plugin asks
// for (psa.Inbound.Query).
func (s *Server) callbackURL(tenant core.Tenant, in core.Integration) string {
	u := strings.TrimRight(s.cfg.PublicURL, "/") + "/webhooks/psa/" + tenant.Slug + "/" + in.ID
	if reg, err := s.psaRegistry(); err == nil {
		if d, err := reg.Get(in.Kind); err == nil {
			u += d.Inbound.Query
		}
	}
	return u
}

// integrationJSON describes in (whose Config is open) for the admin page.
func (s *Server) integrationJSON(tenant core.Tenant, in core.Integration) integrationOut {
	out := integrationOut{ID: in.ID, Kind: in.Kind, KindName: in.Kind, Name: in.Name, Settings: map[string]string{},
		SecretsSet: []string{}, CreatedAt: in.CreatedAt, UpdatedAt: in.UpdatedAt}
	reg, err := s.psaRegistry()
	if err != nil {
		out.Problem = core.ErrorMessage(err)
		return out
	}
	d, err := reg.Get(in.Kind)
	if err != nil {
		out.Problem = "this server has no plugin for " + in.Kind + " integrations"
		return out
	}
	out.KindName = d.Name
	out.SetupHelpURL = s.setupHelpURL(d.ID)
	var stored map[string]json.RawMessage
	_ = json.Unmarshal(in.Config, &stored)
	for _, f := range d.Fields {
		v := psa.StoredSetting(stored[f.Name])
		switch {
		case v == "":
		case f.Kind == psa.FieldSecret:
			out.SecretsSet = append(out.SecretsSet, f.Name)
		default:
			out.Settings[f.Name] = v
		}
	}
	cl, err := s.psaClient(in)
	if err != nil {
		out.Problem = core.ErrorMessage(err)
		if out.Problem == "" {
			out.Problem = "the stored settings do not make a working client; save them again"
		}
		return out
	}
	if g, ok := cl.(psa.SetupGuide); ok {
		out.Setup = setupJSON(g.Setup(s.podBase(tenant, in), s.origin))
	}
	_, out.CanInstallPods = cl.(psa.PodInstaller)
	if _, ok := cl.(psa.CallbackRegistrar); ok {
		out.CanRegisterCallbacks = true
		out.CallbackURL = s.callbackURL(tenant, in)
	}
	return out
}

func setupJSON(st psa.Setup) *setupOut {
	out := &setupOut{Where: st.Where, Pods: []podEntryOut{}, Notes: append([]string{}, st.Notes...), Permissions: []permissionOut{}}
	for _, p := range st.Pods {
		out.Pods = append(out.Pods, podEntryOut{Screen: string(p.Screen), ScreenName: p.ScreenName, Description: p.Description,
			URL: p.URL, Origin: p.Origin, Type: p.Type})
	}
	for _, p := range st.Permissions {
		out.Permissions = append(out.Permissions, permissionOut{Area: p.Area, Access: p.Access, Why: p.Why})
	}
	return out
}

// handleAdminCreateIntegration handles "POST /api/v1/admin/integrations".
func (s *Server) handleAdminCreateIntegration(w http.ResponseWriter, r *http.Request) {
	s.saveIntegration(w, r, false)
}

// handleAdminPutIntegration handles "PUT /api/v1/admin/integrations/{id}":
// a secret left blank keeps its stored value.
func (s *Server) handleAdminPutIntegration(w http.ResponseWriter, r *http.Request) {
	s.saveIntegration(w, r, true)
}

// saveIntegration validates the form, builds the client, checks it live
// against the PSA and only then stores the integration (with what the
// check learned, psa.SettingsLearner). A failed check stores
// nothing and says what to fix. Callbacks are registered after the save;
// their failure is reported without undoing it.
func (s *Server) saveIntegration(w http.ResponseWriter, r *http.Request, update bool) {
	var req integrationIn
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	reg, err := s.psaRegistry()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	tech := techFrom(r)
	var (
		tenant core.Tenant
		old    core.Integration
	)
	if update {
		if tenant, old, err = s.adminIntegration(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		if req.Kind != "" && req.Kind != old.Kind {
			s.writeError(w, r, core.Errorf(core.KindInvalid, "an integration's PSA cannot change; add a new integration instead"))
			return
		}
		req.Kind = old.Kind
	} else if tenant, err = s.adminTenant(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Kind == "" {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "choose the PSA to connect"))
		return
	}
	d, err := reg.Get(req.Kind)
	if err != nil {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "this server cannot connect to a PSA called %q", core.ClipRunes(req.Kind, 40, core.Ellipsis)))
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	if err := checkIntegrationName(req.Name); err != nil {
		s.writeError(w, r, err)
		return
	}
	cfg, generated, err := psa.BuildSettings(d, req.Settings, req.Regenerate, old.Config)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	candidate := core.Integration{ID: old.ID, TenantID: tenant.ID, Kind: d.ID, Name: req.Name, Config: cfg, CreatedAt: old.CreatedAt}
	if candidate.ID == "" {
		candidate.ID = core.NewID("int")
	}
	client, err := s.cfg.PSA.New(candidate)
	if err != nil {
		s.writeError(w, r, settingsRefused(err))
		return
	}
	defer func() { _ = psa.Close(client) }()
	checked := "saved without a connection check: " + d.Name + " integrations have none"
	if ch, ok := client.(psa.Checker); ok {
		cctx, cancel := context.WithTimeout(ctx, psaCheckTimeout)
		err := ch.Check(cctx)
		cancel()
		if err != nil {
			s.writeError(w, r, s.psaFailure(r, d.Name, "The connection check failed, so nothing was saved", err))
			return
		}
		checked = "connected to " + d.Name
	}
	if l, ok := client.(psa.SettingsLearner); ok {
		if candidate.Config, err = psa.MergeLearned(d, candidate.Config, l.LearnedSettings()); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	saved, err := s.engine.PutIntegration(ctx, tenant.ID, "tech:"+tech.ID, candidate)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := integrationSaveOut{Check: checked, Generated: generated}
	if cr, ok := client.(psa.CallbackRegistrar); ok {
		res, _ := s.registerCallbacks(r, tenant, saved, cr)
		out.Callbacks = &res
	}
	out.Integration = s.integrationJSON(tenant, saved)
	status := http.StatusOK
	if !update {
		status = http.StatusCreated
	}
	writeJSON(w, status, out)
}

// checkIntegrationName refuses an empty, long or marked-up name. Pages
// show names as text, but an integration's name has no use for markup, so
// a name that holds some is more likely an attack than a name.
func checkIntegrationName(name string) error {
	if name == "" {
		return core.Errorf(core.KindInvalid, "give the integration a name, e.g. the PSA's")
	}
	if err := checkText("the name", name, maxIntegrationName); err != nil {
		return err
	}
	if strings.ContainsAny(name, "<>") {
		return core.Errorf(core.KindInvalid, "the name must not contain < or >")
	}
	return nil
}

// settingsRefused explains settings the plugin would not build a client
// from; its message says which and why, never quoting a secret.
func settingsRefused(err error) error {
	if msg := core.ErrorMessage(err); msg != "" {
		return core.Errorf(core.KindInvalid, "%s", msg)
	}
	return err
}

type podScreenOut struct {
	ID     int    `json:"id"`
	Key    string `json:"key,omitempty"`
	Name   string `json:"name"`
	Screen string `json:"screen,omitempty"`
}

type installPodsIn struct {
	// Screens maps our screens ("contact", "ticket") to the PSA's screen
	// ids; a missing one is looked up by name.
	Screens map[string]int `json:"screens"`
}

type installedPodOut struct {
	Screen   string `json:"screen"`
	Ref      string `json:"ref"`
	ScreenID int    `json:"screen_id"`
	Created  bool   `json:"created"`
}
