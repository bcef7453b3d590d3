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
			"With the Windows agent, set the ticket type and source ids of tickets users log from the tray; empty means 1. They get the account's main location, your default priority and your first status.",
			"BMS has no notes on contacts: the note that an SMS opt-in form was sent is not written to BMS (the audit log keeps it).",
			"Countersign keeps to its own budget of calls per endpoint (400 an hour unless you set another): BMS allows 1,500 an hour per endpoint for all your integrations together.",
		},
		Permissions: []psa.Permission{
			{Area: "CRM › Contacts", Access: "View", Why: "find the caller by e-mail or phone and read their numbers"},
			{Area: "CRM › Accounts", Access: "View", Why: "list the client companies and their locations"},
			{Area: "Service Desk › Tickets", Access: "View", Why: "open a ticket from its number"},
			{Area: "Service Desk › Ticket notes", Access: "Add", Why: "write the verification result as an internal note"},
			{Area: "CRM › Contacts", Access: "Add", Why: "only if technicians may create a caller who is not in BMS yet, or users log a first ticket from the Windows tray"},
			{Area: "CRM › Contacts", Access: "Edit", Why: "only if end users may correct their mobile number on the SMS opt-in form: it is written back to BMS"},
			{Area: "Service Desk › Tickets", Access: "Add", Why: "only for the Windows agent: tickets users log from the tray"},
			{Area: "HR › Employees", Access: "View", Why: "only to copy an employee into an on-call group (BMS lists their e-mail, not their phone)"},
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
