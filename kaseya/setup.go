package kaseya

import (
	"embed"
	"io/fs"

	"github.com/countersign/countersign/core/psa"
)

// Setup tells the admin what BMS needs. BMS has no embed point, so there
// are no pods to install: technicians verify from the console's "Verify
// from a ticket" box.
func (c *Client) Setup(podURL, origin string) psa.Setup {
	return psa.Setup{
		Where: "Kaseya BMS has no place for a pod: technicians verify from Countersign's console (Verify from a ticket), and the result is written to the ticket as an internal note.",
		Notes: []string{
			"Create a BMS user for Countersign (Admin › HR › Employees) with a security role of its own that grants only the permissions below.",
			"Copy the Gateway URL and the Company (tenant) name from My Settings in BMS.",
			"If the user has MFA, paste its authenticator secret (base32) as the TOTP secret: Countersign makes the code at each sign-in.",
			"Set the note type id to the BMS note type verification notes should have (Service Desk › Setup › Note types); empty means 1.",
			"Countersign keeps to its own budget of calls per endpoint (400 an hour unless you set another): BMS allows 1,500 an hour per endpoint for all your integrations together.",
		},
		Permissions: []psa.Permission{
			{Area: "CRM › Contacts", Access: "View", Why: "find the caller by e-mail or phone and read their numbers"},
			{Area: "CRM › Accounts", Access: "View", Why: "list the client companies and their locations"},
			{Area: "Service Desk › Tickets", Access: "View", Why: "open a ticket from its number"},
			{Area: "Service Desk › Ticket notes", Access: "Add", Why: "write the verification result as an internal note"},
			{Area: "CRM › Contacts", Access: "Add", Why: "only if technicians may create a caller who is not in BMS yet"},
		},
	}
}

// The setup help page the plugin ships (psa.Assets).
//
//go:embed assets/setup.html
var assetFiles embed.FS

func assets() fs.FS {
	sub, err := fs.Sub(assetFiles, "assets")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}
