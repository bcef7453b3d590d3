// Package halo is the HaloPSA plugin (the same API serves HaloITSM and
// HaloServiceDesk): a REST client ([Client]) implementing the core/psa
// capabilities over Halo's end users, clients, tickets, actions and agents,
// and its [Descriptor]. Its fake instance, held to Halo's OpenAPI contract
// (an extract in halo/testdata), lives in halo/halotest. Facts:
// shared/reference/halo.md.
//
// # Connecting
//
// An integration is a [Config]: the instance URL, the tenant on hosted
// Halo, and an API application's client id and secret ("Client ID and
// Secret (Services)", Login Type Agent). Nothing is fetched until the
// first call, which asks /api/authinfo for the authorisation server and
// tenant (stored with the integration after a check, see
// [Client.LearnedSettings]) and fetches an OAuth2 client-credentials token
// with golang.org/x/oauth2/clientcredentials. The token is cached until a
// minute before it expires, one fetch at a time; a 401 to a cached token
// fetches one new token and repeats the call once.
//
// # Calls
//
// Every call goes through [psa.Doer]: retried on 429 after Retry-After and
// on 5xx with backoff (never a POST after a 5xx), counted per integration
// through [psa.Deps].Calls under names without ids ("GET
// /api/Users/{id}"); token requests are counted too ("POST /auth/token").
// Lists page with pageinate/page_size/page_no until record_count records
// are in; /api/Agent is a bare array. Users are searched with Halo's like
// match and filtered exactly here. Notes are actions: the outcome chosen
// at setup, hiddenfromuser true, sendemail false, the status untouched.
// Writes are POSTs of one-element arrays, an update naming the record's id
// and only the fields it changes: tray tickets and a ticket's user
// (/api/Tickets, always with the user's site, which Halo wants with a
// user), a corrected number (/api/Users) and the opt-in note, a CRM note
// (/api/CRMNote). A ticket's, user's or client's record is read first
// where the write needs its client or site, so that an id Halo does not
// have is never sent as an update.
//
// A warm client reads a ticket in one call and writes a note in one; a
// ticket with its user is two; a cold one adds a token fetch.
//
// # Errors
//
// Failures are [*Error]s of a core kind whose message says what to fix
// ("Halo at … refused the client id and secret …", "… does not allow
// reading users (permission read:customers)") and never holds a secret.
package halo
