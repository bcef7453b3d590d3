package kaseya

import (
	"encoding/json"

	"github.com/countersign/countersign/core/psa"
)

// ID is the descriptor id of the Kaseya BMS PSA.
const ID = "kaseya"

// Descriptor returns the Kaseya BMS PSA's descriptor, for psa.NewRegistry.
func Descriptor() psa.Descriptor {
	return psa.Descriptor{
		ID:   ID,
		Name: "Kaseya BMS",
		Fields: []psa.Field{
			{Name: "gateway_url", Label: "Gateway URL", Kind: psa.FieldURL, Required: true,
				Help: "Shown under My Settings in BMS, e.g. https://bmsemea.kaseya.com/."},
			{Name: "tenant", Label: "Company (tenant) name", Kind: psa.FieldText, Required: true,
				Help: "The company name shown under My Settings, as typed on the BMS login page."},
			{Name: "username", Label: "User name", Kind: psa.FieldText, Required: true,
				Help: "A BMS user for Countersign, with a role that may read CRM contacts and accounts and add ticket notes."},
			{Name: "password", Label: "Password", Kind: psa.FieldSecret, Required: true},
			{Name: "totp_secret", Label: "TOTP secret", Kind: psa.FieldSecret,
				Help: "Only when the user has MFA: the secret (base32) of the authenticator enrolment."},
			{Name: "note_type_id", Label: "Note type id", Kind: psa.FieldText,
				Help: "The BMS note type of verification notes; empty means 1. Choose it from BMS once the integration is saved.", Choosable: true},
			{Name: "ticket_type_id", Label: "Ticket type id", Kind: psa.FieldText,
				Help: "The BMS ticket type of tickets users log from the Windows tray; empty means 1."},
			{Name: "ticket_source_id", Label: "Ticket source id", Kind: psa.FieldText,
				Help: "The BMS ticket source of tickets users log from the Windows tray; empty means 1."},
			{Name: "api_url", Label: "API URL", Kind: psa.FieldURL,
				Help: "Leave empty: it is derived from the gateway URL (bmsemea → api.bmsemea)."},
			{Name: "phone_region", Label: "Phone region", Kind: psa.FieldText,
				Help: "Two-letter country for phone numbers stored without a country code; empty means US."},
			{Name: "ticket_url", Label: "Ticket URL", Kind: psa.FieldURL,
				Help: "Optional: the address of a ticket in BMS with {id} where its id goes, so the console links back to it."},
			{Name: "calls_per_hour", Label: "Calls per hour per endpoint", Kind: psa.FieldText,
				Help: "Countersign's own budget of BMS calls; empty means 400. BMS allows 1,500 an hour per endpoint for all your integrations together."},
		},
		Assets: psa.Assets{FS: assets(), SetupHelp: "setup.html"},
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
	_ psa.TicketNoter         = (*Client)(nil)
	_ psa.CompanyLister       = (*Client)(nil)
	_ psa.MemberIdentifier    = (*Client)(nil)
	_ psa.Checker             = (*Client)(nil)
	_ psa.SetupGuide          = (*Client)(nil)
	_ psa.TicketLinker        = (*Client)(nil)
	_ psa.ContactTicketLister = (*Client)(nil)
	_ psa.TicketFinder        = (*Client)(nil)
	_ psa.TicketOnlyGetter    = (*Client)(nil)
	// Tray tickets, on-call groups, pods' ticket contact and opt-in
	// corrections. No psa.ContactNoter: BMS has no contact notes
	// (contact_writes.go).
	_ psa.TicketCreator        = (*Client)(nil)
	_ psa.TicketContactSetter  = (*Client)(nil)
	_ psa.DefaultContactGetter = (*Client)(nil)
	_ psa.ContactPhoneSetter   = (*Client)(nil)
	_ psa.MemberLister         = (*Client)(nil)
)
