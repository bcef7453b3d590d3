package connectwise

import (
	"encoding/json"

	"github.com/countersign/countersign/core/psa"
)

// ID is the descriptor id of the ConnectWise PSA.
const ID = "connectwise"

// Descriptor returns the ConnectWise PSA's descriptor, for psa.NewRegistry.
func Descriptor() psa.Descriptor {
	return psa.Descriptor{
		ID:   ID,
		Name: "ConnectWise PSA",
		Fields: []psa.Field{
			{Name: "site", Label: "Site", Kind: psa.FieldText, Required: true,
				Help: "The host you sign in to ConnectWise at, e.g. na.myconnectwise.net, or your own server's host."},
			{Name: "company_id", Label: "Company ID", Kind: psa.FieldText, Required: true,
				Help: "The company you type on the ConnectWise login page."},
			{Name: "public_key", Label: "Public key", Kind: psa.FieldText, Required: true,
				Help: "From the API member's API Keys tab (System › Members › API Members)."},
			{Name: "private_key", Label: "Private key", Kind: psa.FieldSecret, Required: true},
			{Name: "client_id", Label: "Client ID", Kind: psa.FieldSecret, Required: true,
				Help: "The integration's clientId from developer.connectwise.com."},
			{Name: "api_host", Label: "API host", Kind: psa.FieldText,
				Help: "Leave empty: cloud sites use api- plus the site, servers of your own the site itself."},
			{Name: "phone_region", Label: "Phone region", Kind: psa.FieldText,
				Help: "Two-letter country for phone numbers stored without a country code; empty means US."},
			{Name: "codebase", Label: "Codebase", Kind: psa.FieldText,
				Help: "Leave empty to have it discovered (e.g. v2025_1/); once stored, it saves a call whenever the server starts."},
			{Name: "origins", Label: "Other ConnectWise addresses", Kind: psa.FieldText,
				Help: "Other hosts technicians open ConnectWise at (another region, your own server's names), separated by spaces; the pod works inside these too."},
			{Name: "note_visibility", Label: "Note visibility", Kind: psa.FieldText,
				Help: "Where verification notes show on the ticket: internal (technicians only; the default), discussion (the customer sees it) or resolution."},
			{Name: "note_email", Label: "ConnectWise e-mail for notes", Kind: psa.FieldText,
				Help: "off (the default): ConnectWise sends no e-mail notification for Countersign's notes; on: it follows the ticket's own e-mail settings."},
		},
		New: func(raw json.RawMessage, deps psa.Deps) (psa.Client, error) {
			var cfg Config
			if err := psa.DecodeConfig(raw, &cfg); err != nil {
				return nil, err
			}
			return New(cfg, deps)
		},
		Assets: psa.Assets{FS: assets(), PodScripts: []string{"pod.js"}, SetupHelp: "setup.html"},
		Inbound: psa.Inbound{
			// ConnectWise appends the record id to the URL it was given
			// (reference §10.1).
			Query: "?recordId=",
			// Callbacks registered before the generic route.
			LegacyPaths: []string{legacyInboundPrefix + "{tenant}/{integration}"},
		},
	}
}

// Interface guards: the compiler checks every capability this client claims.
var (
	_ psa.ContactFinder        = (*Client)(nil)
	_ psa.ContactGetter        = (*Client)(nil)
	_ psa.ContactCreator       = (*Client)(nil)
	_ psa.TicketGetter         = (*Client)(nil)
	_ psa.TicketNoter          = (*Client)(nil)
	_ psa.TicketCreator        = (*Client)(nil)
	_ psa.CompanyLister        = (*Client)(nil)
	_ psa.MemberIdentifier     = (*Client)(nil)
	_ psa.MemberLister         = (*Client)(nil)
	_ psa.Checker              = (*Client)(nil)
	_ psa.Embedder             = (*Client)(nil)
	_ psa.MemberProver         = (*Client)(nil)
	_ psa.MemberReader         = (*Client)(nil)
	_ psa.TicketContactSetter  = (*Client)(nil)
	_ psa.DefaultContactGetter = (*Client)(nil)
	_ psa.TicketOnlyGetter     = (*Client)(nil)
	_ psa.ContactNoter         = (*Client)(nil)
	_ psa.ContactPhoneSetter   = (*Client)(nil)
)
