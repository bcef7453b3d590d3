// Package core is Countersign's domain: tenants, clients, contacts,
// technicians, policies, verifications and the audit log, and the
// verification engine that enforces every security rule of
// shared/reference/security.md.
//
// # Dependencies
//
// core imports only the standard library and pure libraries (phone-number
// parsing). Everything outside — the database, Twilio, SMTP, the web, the
// PSAs — reaches the engine through small interfaces declared here:
// [Store] and [Tx] for persistence, [Sender] for delivery, [Publisher] for
// live events, [Renderer] for message texts. Adapters live in core/<dependency>.
//
// # Errors
//
// Errors carry a [Kind] ([ErrNotFound], [ErrInvalid], …). Boundaries translate
// by kind, never by string; core/web maps kinds to HTTP statuses in one table.
package core
