// Package agent will hold the endpoint agent's platform-neutral logic:
// activation with a client's key, inventory and directory-user reports,
// the task long-poll, and the binding of Windows users to PSA contacts.
// Windows specifics (service, tray, named pipe) sit behind build tags, and
// agent/harvest will hold the AD harvester. Facts:
// shared/reference/agent-and-ad.md.
package agent
