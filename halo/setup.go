package halo

import (
	"github.com/countersign/countersign/core/psa"
)

// Setup implements [psa.SetupGuide]: the custom tab to add in Halo (its
// URL ends in the tab variable Halo fills with the ticket id), the agent
// sign-in application's redirect URL, the webhook, and what the API
// application and its agent need.
func (c *Client) Setup(podURL, origin string) psa.Setup {
	s := psa.Setup{Where: "Configuration › Custom Tabs › New (Entity Ticket, type Iframe), then enable it on the ticket types that should show it"}
	s.Pods = []psa.PodEntry{{Screen: psa.ScreenTicket, ScreenName: "Ticket", Description: "Countersign",
		URL: podURL + c.TabQuery(), Origin: origin, Type: "Iframe custom tab"}}
	s.Notes = []string{
		"The tab URL ends in " + c.TabQuery() + ": if Halo's Custom Tab editor names its ticket-id variable differently, change the integration's tab variable setting to that name and paste the URL again.",
		"Only " + c.FrameOrigins()[0] + " may frame the tab: open tickets at that address.",
		"Technicians sign in to the tab with Countersign, or with their Halo account when an agent-login application is set: Authorisation Code (Native Application), Allow Agent Logins, Login Redirect URL " + origin + AgentCallbackPath + ".",
		"The webhook (Configuration › Integrations › Webhooks): Countersign creates it with the webhook user and password when it can; open it in Halo, tick the New Ticket Logged event, and check that Authentication is Basic.",
		"Halo passes the tab no proof of who is looking at it, and reads and notes go through the API application: its agent's rights apply to everyone using the tab.",
		"With the Windows agent, tickets users log from the tray go under the user's own site (or the client's main site) with the ticket type id you set, else your default ticket type.",
		"A ticket without a user shows the main contact of its client's main site, when the site names one.",
		"The note that an SMS opt-in form was sent is written as a CRM note on the user's client, naming the user.",
	}
	s.Permissions = []psa.Permission{
		{Area: "API application › Permissions", Access: "read:customers", Why: "find and read the caller among Halo's users, and their client"},
		{Area: "API application › Permissions", Access: "read:tickets", Why: "read the ticket a tab is open on, and new tickets reported by the webhook; list your agents to copy one into an on-call group (with their e-mail and SMS number)"},
		{Area: "API application › Permissions", Access: "edit:tickets", Why: "write the verification result as a private action (the note outcome must be one the agent may use); log the tickets users send from the Windows tray; set a ticket's user when a technician creates the caller from the tab"},
		{Area: "API application › Permissions", Access: "edit:customers", Why: "only to create users from Countersign (or for a first ticket from the Windows tray), and to write back a mobile number an end user corrects on the SMS opt-in form"},
		{Area: "API application › Permissions", Access: "edit:crm (or all)", Why: "only for the CRM note that an SMS opt-in form was sent"},
		{Area: "API application › Permissions", Access: "admin (or all)", Why: "only to create the webhook from Countersign"},
		{Area: "Agent to log in as", Access: "an API-only agent", Why: "its rights cap the application's; it needs no licence"},
	}
	return s
}

// Interface guard.
var _ psa.SetupGuide = (*Client)(nil)
