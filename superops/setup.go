package superops

import (
	"embed"
	"io/fs"

	"github.com/countersign/countersign/core/psa"
)

// Setup tells the admin what SuperOps needs. SuperOps has no embed point,
// so there are no pods: technicians verify from the console's "Verify
// from a ticket" box.
func (c *Client) Setup(podURL, origin string) psa.Setup {
	return psa.Setup{
		Where: "SuperOps has no place for a pod: technicians verify from Countersign's console (Verify from a ticket), and the result is written to the ticket as a private note.",
		Notes: []string{
			"Create a technician in SuperOps for Countersign, with a role that grants only the permissions below, and generate its API token under Settings › My Profile › API token. Regenerating the token invalidates the old one: keep this account for Countersign alone.",
			"Copy the subdomain from Settings › MSP Information.",
			"Mobile numbers: requesters keep them in a custom field whose key is a column name such as udf7text. Enter that column under Mobile-number field; Countersign recognises fields labelled Mobile, Mobile phone, Mobile number, Cell, Cell phone or Cell number.",
			"Requester role id: the id of the Requester role, needed if technicians may create a caller who is not in SuperOps yet, or users log a first ticket from the Windows tray (without it, that ticket is logged with no requester and the user's name and address in its description).",
			"Countersign keeps to 100 calls a minute unless you set another budget.",
			"SuperOps has no notes on requesters: the note that an SMS opt-in form was sent is not written to SuperOps (the audit log keeps it).",
		},
		Permissions: []psa.Permission{
			{Area: "Clients › Requesters", Access: "View", Why: "find the caller by e-mail or phone and read their mobile-number field"},
			{Area: "Clients", Access: "View", Why: "list the client companies"},
			{Area: "Tickets", Access: "View", Why: "open a ticket from its display id"},
			{Area: "Tickets › Notes", Access: "Add", Why: "write the verification result as a private note"},
			{Area: "Clients › Requesters", Access: "Add", Why: "only if technicians may create a caller who is not in SuperOps yet, or users log a first ticket from the Windows tray"},
			{Area: "Clients › Requesters", Access: "Edit", Why: "only if end users may correct their mobile number on the SMS opt-in form: it is written back to SuperOps"},
			{Area: "Tickets", Access: "Add", Why: "only for the Windows agent: tickets users log from the tray (status Open, source Integration)"},
			{Area: "Technicians", Access: "View", Why: "only to copy a technician into an on-call group"},
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
