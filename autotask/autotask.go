package autotask

import (
	"encoding/json"

	"github.com/countersign/countersign/core/psa"
)

// ID is the descriptor id of the Autotask PSA.
const ID = "autotask"

// Descriptor returns the Autotask PSA's descriptor, for psa.NewRegistry.
// The clients it makes share one [Budget] per Autotask database, so that
// the rebuilt client of a re-saved integration, and several integrations
// on one database, stay within Autotask's limits together.
func Descriptor() psa.Descriptor {
	budgets := NewBudgets()
	return psa.Descriptor{
		ID:   ID,
		Name: "Autotask PSA",
		Fields: []psa.Field{
			{Name: "username", Label: "API username", Kind: psa.FieldText, Required: true,
				Help: "The API user's username (it looks like an email address); its security level must be API User (API-only)."},
			{Name: "secret", Label: "API secret", Kind: psa.FieldSecret, Required: true,
				Help: "The API user's secret (password)."},
			{Name: "integration_code", Label: "Integration code", Kind: psa.FieldSecret, Required: true,
				Help: "The API tracking identifier on the API user's page: Custom (Internal Integration)."},
			{Name: "phone_region", Label: "Phone region", Kind: psa.FieldText,
				Help: "Two-letter country for phone numbers stored without a country code; empty means US."},
			{Name: "note_type", Label: "Note type", Kind: psa.FieldText,
				Help: "The ticket note type for verification notes, by its value: choose it from Autotask once the integration is saved.", Choosable: true},
			{Name: "note_publish", Label: "Note visibility", Kind: psa.FieldText,
				Help: "The publish value for internal notes: choose it from Autotask once the integration is saved.", Choosable: true},
			{Name: "ticket_queue", Label: "Ticket queue", Kind: psa.FieldText,
				Help: "The queue of tickets users log from the Windows tray: choose it from Autotask once the integration is saved; empty means your default queue.", Choosable: true},
			{Name: "contact_note_type", Label: "Contact note type", Kind: psa.FieldText,
				Help: "The action type of notes written on contacts (that an SMS opt-in form was sent): choose it from Autotask once the integration is saved; empty means your default.", Choosable: true},
			{Name: "zone_url", Label: "Zone API URL", Kind: psa.FieldURL,
				Help: "Leave empty: found from the username and stored after the live check."},
			{Name: "web_url", Label: "Autotask web URL", Kind: psa.FieldURL,
				Help: "Leave empty: found with the zone; the Insight may only be shown there."},
		},
		Assets: psa.Assets{FS: assets(), PodScripts: []string{"pod.js"}, SetupHelp: "setup.html"},
		New: func(raw json.RawMessage, deps psa.Deps) (psa.Client, error) {
			var cfg Config
			if err := psa.DecodeConfig(raw, &cfg); err != nil {
				return nil, err
			}
			return newClient(cfg, deps, budgets)
		},
	}
}

// Interface guards: the compiler checks every capability this client claims.
var (
	_ psa.ContactFinder     = (*Client)(nil)
	_ psa.ContactGetter     = (*Client)(nil)
	_ psa.ContactCreator    = (*Client)(nil)
	_ psa.TicketGetter      = (*Client)(nil)
	_ psa.TicketOnlyGetter  = (*Client)(nil)
	_ psa.TicketNoter       = (*Client)(nil)
	_ psa.CompanyLister     = (*Client)(nil)
	_ psa.Checker           = (*Client)(nil)
	_ psa.FieldChooser      = (*Client)(nil)
	_ psa.SettingsLearner   = (*Client)(nil)
	_ psa.Embedder          = (*Client)(nil)
	_ psa.SetupGuide        = (*Client)(nil)
	_ psa.CallbackRegistrar = (*Client)(nil)
	_ psa.CallbackVerifier  = (*Client)(nil)
	// Tray tickets, a pod's ticket contact, the default caller, opt-in
	// corrections and notes (company notes naming the contact), on-call
	// members. No psa.MemberIdentifier: the credential is the API user's,
	// an integration account, never a technician's (see APIUser).
	_ psa.TicketCreator        = (*Client)(nil)
	_ psa.TicketContactSetter  = (*Client)(nil)
	_ psa.DefaultContactGetter = (*Client)(nil)
	_ psa.ContactPhoneSetter   = (*Client)(nil)
	_ psa.ContactNoter         = (*Client)(nil)
	_ psa.MemberLister         = (*Client)(nil)
)
