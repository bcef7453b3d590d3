// Package kaseya is the Kaseya BMS plugin: a client of the BMS REST API v2
// that implements the core/psa capabilities, and its [Descriptor].
//
// BMS has no documented embed point that passes a verifiable technician
// identity, so there is no pod: technicians verify from Countersign's own
// console, starting from a BMS ticket number ([Client.FindTicketByNumber])
// or a contact search, and the result is written back to the ticket as an
// internal note.
//
// # Signing in
//
// BMS API calls carry a bearer token from POST /v2/security/authenticate
// (user name, password, the company's tenant name, and a TOTP code when the
// integration account has MFA). The client keeps one token per
// integration, refreshes it shortly before it expires
// (/v2/security/refreshtoken), signs in again when the refresh is refused,
// and never runs two sign-ins at once: every sign-in costs budget, and a
// burst of pod loads must not become a burst of sign-ins. A 401 on a call
// drops the token it was made with and retries the call once with a fresh
// one.
//
// # The envelope
//
// Every answer is {"success", "error", "result", "totalRecords"}; the
// vendor's document declares only HTTP 200, with failures as
// success:false. The client treats success:false as an error whatever the
// HTTP status, mapped to a core error kind by the error's code, and
// decodes field names case-insensitively (the document is PascalCase, the
// wire camelCase).
//
// The fake server in package kaseyatest holds the client to the vendor's
// OpenAPI document. Facts: shared/reference/kaseya-bms.md.
package kaseya
