package superops

import (
	"encoding/json"

	"github.com/countersign/countersign/core/psa"
)

// ID is the descriptor id of the SuperOps PSA.
const ID = "superops"

// Descriptor returns the SuperOps PSA's descriptor, for psa.NewRegistry.
func Descriptor() psa.Descriptor {
	return psa.Descriptor{
		ID:   ID,
		Name: "SuperOps",
		Fields: []psa.Field{
			{Name: "subdomain", Label: "Subdomain", Kind: psa.FieldText, Required: true,
				Help: "Shown under Settings › MSP Information (My MSP)."},
			{Name: "api_token", Label: "API token", Kind: psa.FieldSecret, Required: true,
				Help: "From Settings › My Profile › API token of a technician account kept for Countersign: regenerating it invalidates the old one."},
			{Name: "region", Label: "Region", Kind: psa.FieldText,
				Help: "us (default) or eu: the data centre of your SuperOps account."},
			{Name: "mobile_field", Label: "Mobile-number field", Kind: psa.FieldText,
				Help: "The column name of the requesters' mobile-number custom field (e.g. udf7text): choose it from SuperOps once the integration is saved.", Choosable: true},
			{Name: "requester_role_id", Label: "Requester role id", Kind: psa.FieldText,
				Help: "The role id of new requesters Countersign creates (callers technicians add, users of a first ticket from the Windows tray); empty disables creating requesters."},
			{Name: "phone_region", Label: "Phone region", Kind: psa.FieldText,
				Help: "Two-letter country for phone numbers stored without a country code; empty means US."},
			{Name: "ticket_url", Label: "Ticket URL", Kind: psa.FieldURL,
				Help: "Optional: the address of a ticket in SuperOps with {id} where its id goes, so the console links back to it."},
			{Name: "closed_statuses", Label: "Closed statuses", Kind: psa.FieldText,
				Help: "Status names of closed tickets, comma separated; empty means Resolved, Closed."},
			{Name: "calls_per_minute", Label: "Calls per minute", Kind: psa.FieldText,
				Help: "Countersign's own budget of SuperOps calls; empty means 100."},
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
	_ psa.ContactFinder    = (*Client)(nil)
	_ psa.ContactGetter    = (*Client)(nil)
	_ psa.ContactCreator   = (*Client)(nil)
	_ psa.TicketGetter     = (*Client)(nil)
	_ psa.TicketNoter      = (*Client)(nil)
	_ psa.CompanyLister    = (*Client)(nil)
	_ psa.Checker          = (*Client)(nil)
	_ psa.TicketFinder     = (*Client)(nil)
	_ psa.TicketOnlyGetter = (*Client)(nil)
	// Tray tickets, on-call groups, a ticket's requester, the client's
	// primary contact and opt-in corrections. No psa.ContactNoter:
	// SuperOps has no requester notes (writes.go).
	_ psa.TicketCreator        = (*Client)(nil)
	_ psa.TicketContactSetter  = (*Client)(nil)
	_ psa.DefaultContactGetter = (*Client)(nil)
	_ psa.ContactPhoneSetter   = (*Client)(nil)
	_ psa.MemberLister         = (*Client)(nil)
)
