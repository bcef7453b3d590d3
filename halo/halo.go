package halo

import (
	"encoding/json"

	"github.com/countersign/countersign/core/psa"
)

// ID is the descriptor id of HaloPSA.
const ID = "halo"

// Descriptor returns HaloPSA's descriptor, for psa.NewRegistry.
func Descriptor() psa.Descriptor {
	return psa.Descriptor{
		ID:   ID,
		Name: "HaloPSA",
		Fields: []psa.Field{
			{Name: "instance_url", Label: "Instance URL", Kind: psa.FieldURL, Required: true,
				Help: "The address you open Halo at, e.g. https://acme.halopsa.com."},
			{Name: "tenant", Label: "Tenant", Kind: psa.FieldText,
				Help: "Hosted Halo only, from Configuration › Integrations › HaloPSA API; leave empty to have it found."},
			{Name: "client_id", Label: "Client ID", Kind: psa.FieldText, Required: true,
				Help: "Of an API application with Client ID and Secret (Services), Login Type Agent."},
			{Name: "client_secret", Label: "Client secret", Kind: psa.FieldSecret, Required: true},
			{Name: "scope", Label: "Scope", Kind: psa.FieldText,
				Help: "Empty means all; narrower: read:customers read:tickets edit:tickets (and edit:customers to create or correct users, edit:crm for opt-in notes)."},
			{Name: "note_outcome", Label: "Note outcome", Kind: psa.FieldText,
				Help: "The action type verification notes are written as: an outcome id or name; empty means 7 (Internal Note on a stock Halo). Choose it from Halo once the integration is saved.", Choosable: true},
			{Name: "ticket_type_id", Label: "Ticket type id", Kind: psa.FieldText,
				Help: "The Halo ticket type of tickets users log from the Windows tray; empty means your default ticket type."},
			{Name: "phone_region", Label: "Phone region", Kind: psa.FieldText,
				Help: "Two-letter country for phone numbers stored without a country code; empty means US."},
			{Name: "tab_variable", Label: "Custom tab ticket variable", Kind: psa.FieldText,
				Help: "What Halo's Custom Tab editor replaces with the ticket id; empty means $FAULTID."},
			{Name: "agent_client_id", Label: "Agent sign-in client ID", Kind: psa.FieldText,
				Help: "Optional: an application with Authorisation Code (Native Application) and agent logins allowed, so technicians sign in to the tab with Halo."},
			{Name: "webhook_user", Label: "Webhook user", Kind: psa.FieldText, Generated: true,
				Help: "Leave blank: Countersign makes it at setup. It goes into the Halo webhook's Basic authentication."},
			{Name: "webhook_password", Label: "Webhook password", Kind: psa.FieldSecret, Generated: true,
				Help: "Leave blank: Countersign makes it and shows it once, after saving; keep it only in Halo."},
			{Name: "auth_url", Label: "Authorisation server", Kind: psa.FieldURL,
				Help: "Leave empty: found through the instance's authinfo and stored after the first check."},
		},
		Assets: psa.Assets{FS: assets(), PodScripts: []string{"tab.js"}, SetupHelp: "setup.html"},
		New: func(raw json.RawMessage, deps psa.Deps) (psa.Client, error) {
			var cfg Config
			if err := psa.DecodeConfig(raw, &cfg); err != nil {
				return nil, err
			}
			return New(cfg, deps)
		},
	}
}

// Interface guards: the compiler checks every capability this client claims.
var (
	_ psa.ContactFinder       = (*Client)(nil)
	_ psa.ContactGetter       = (*Client)(nil)
	_ psa.ContactCreator      = (*Client)(nil)
	_ psa.TicketGetter        = (*Client)(nil)
	_ psa.TicketOnlyGetter    = (*Client)(nil)
	_ psa.TicketNoter         = (*Client)(nil)
	_ psa.CompanyLister       = (*Client)(nil)
	_ psa.MemberIdentifier    = (*Client)(nil)
	_ psa.Checker             = (*Client)(nil)
	_ psa.FieldChooser        = (*Client)(nil)
	_ psa.SettingsLearner     = (*Client)(nil)
	_ psa.PodScriptConfigurer = (*Client)(nil)
	// Tray tickets, a ticket's user, the client's main contact, opt-in
	// corrections and their CRM note, on-call members.
	_ psa.TicketCreator        = (*Client)(nil)
	_ psa.TicketContactSetter  = (*Client)(nil)
	_ psa.DefaultContactGetter = (*Client)(nil)
	_ psa.ContactPhoneSetter   = (*Client)(nil)
	_ psa.ContactNoter         = (*Client)(nil)
	_ psa.MemberLister         = (*Client)(nil)
)
