package autotask

import (
	"github.com/countersign/countersign/core/psa"
)

// Setup implements [psa.SetupGuide]: the Insight on the ticket detail page
// (podURL is its referenceUrl; Autotask appends the ticket and the viewer),
// a LiveLink to the same page for MSPs who cannot add an Insight, and the
// API user's security level.
func (c *Client) Setup(podURL, origin string) psa.Setup {
	return psa.Setup{
		Where: "Admin › Features & Settings › Service Desk (Tickets) › Ticket Categories › (each category) › Insights",
		Pods: []psa.PodEntry{
			{Screen: psa.ScreenTicket, ScreenName: "Ticket detail", Description: "Countersign", URL: podURL, Origin: origin, Type: "Insight"},
			{Screen: psa.ScreenTicket, ScreenName: "Ticket (LiveLink)", Description: "Verify caller (Countersign)",
				URL: podURL + "?entityid=", Origin: origin, Type: "LiveLink"},
		},
		Notes: []string{
			"Create the Insight with referenceUrl set to the Insight URL above (Autotask adds the ticket and the viewing resource to it), then enable it on the Insights tab of each ticket category that should show it.",
			"The Insight does not trust the resource Autotask names: technicians sign in to Countersign once in the pop-out, and the Insight remembers them in this browser.",
			"If you cannot add an Insight, create a LiveLink (Admin › Automation › AutoForms & LiveLinks › LiveLinks Designer) that opens the LiveLink URL above with the ticket's ID appended, in a new window.",
			"With the Windows agent, pick the queue of tickets users log from the tray; they get your default status and priority. A ticket category that requires more fields (issue type, billing code) makes Countersign refuse the ticket and say which field.",
			"The note that an SMS opt-in form was sent is a company note naming the contact (it shows on the contact's Notes), of the contact note type you pick.",
			"Notes and contacts are written as the API user; a technician mapped to a resource (same email) is written as that resource when the API user may impersonate it.",
			"Autotask allows 10,000 API requests an hour per database, shared by every integration: Countersign uses about 3 per verification and pauses background work above 75 %.",
		},
		Permissions: []psa.Permission{
			{Area: "Security level", Access: "API User (API-only)", Why: "the only level Autotask lets an integration use"},
			{Area: "Contacts", Access: "View, Add", Why: "find the caller by email or phone; create a contact from the Insight or for a first ticket from the Windows tray"},
			{Area: "Contacts", Access: "Edit", Why: "only if end users may correct their mobile number on the SMS opt-in form: it is written back to Autotask"},
			{Area: "Tickets, Ticket notes", Access: "View, Add notes", Why: "read the ticket's contact; write the verification result"},
			{Area: "Tickets", Access: "Add, Edit", Why: "only for the Windows agent's tray tickets (Add) and for setting a ticket's contact from the Insight (Edit)"},
			{Area: "CRM notes", Access: "Add", Why: "only for the note on a contact that an SMS opt-in form was sent"},
			{Area: "Resources", Access: "View", Why: "map technicians to resources; copy a resource into an on-call group"},
			{Area: "Resource impersonation (optional)", Access: "Allowed", Why: "write notes as the technician who verified"},
		},
	}
}
