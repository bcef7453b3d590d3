// Package psa is the seam between Countersign and the PSAs its customers run
// (ConnectWise PSA, Autotask, HaloPSA, Kaseya BMS, SuperOps): the
// PSA-neutral types every plugin returns, the small capability interfaces a
// plugin implements, the [Descriptor] each plugin exports, the [Registry]
// that cmd/countersign builds from an explicit list of descriptors, and the
// HTTP helpers ([Doer], [RetryAfter], [StatusError], [DecodeJSON]) that give
// every plugin the same retry and error behaviour.
//
// # Types
//
// Plugins translate their API's records into [Company], [Contact], [Ticket],
// [Note] and [Member] and never return their own DTOs. A Ref is the record's
// id in the PSA, as a string ("250" in ConnectWise, "29684215" in Autotask);
// callers keep it opaque. Phone numbers are returned as the PSA gave them
// ([Phone].Number): normalising to E.164 is core's job
// ([github.com/countersign/countersign/core.NormalizePhone]), because it needs
// the tenant's region.
//
// # Capabilities
//
// Each ability is its own one-method interface, in the manner of libdns:
// [ContactFinder], [ContactGetter], [ContactCreator], [TicketGetter],
// [TicketNoter], [CompanyLister], [MemberIdentifier] and [Checker]. A plugin's
// client implements the ones its API supports; callers hold a [Client] and
// type-assert, degrading gracefully (hiding a button, skipping a step) when a
// capability is missing:
//
//	if f, ok := client.(psa.ContactFinder); ok {
//		contacts, err := f.FindContacts(ctx, companyRef, psa.ContactSearch{Email: email})
//		…
//	}
//
// # Contract
//
// Every method of every capability interface obeys the same contract,
// written here once; implementations document only their deviations.
//
//   - Safe for concurrent use by multiple goroutines.
//   - Honours ctx: a cancelled or expired context ends the call promptly,
//     including any wait between retries, with an error for which
//     errors.Is(err, context.Canceled) (or context.DeadlineExceeded) holds.
//   - Retries a 429 after the delay in its Retry-After header, and a 5xx or
//     network error with exponential backoff, a few times ([RetryPolicy]).
//     Requests that are not idempotent (POST, PATCH) are retried only on 429,
//     which means the PSA did not process them: a retried timeout must never
//     duplicate a ticket note.
//   - Returns errors of a [github.com/countersign/countersign/core.Kind], wrapped with %w:
//     401 is core.ErrUnauthorized, 403 core.ErrForbidden, 404 core.ErrNotFound,
//     400 and 422 core.ErrInvalid, 409 core.ErrConflict, 429 after its
//     retries core.ErrRateLimited, 5xx or a network failure after its
//     retries core.ErrUnavailable, and a response body that is not the
//     expected JSON core.ErrUnavailable wrapping the parse error.
//   - An empty result is not an error: a search that matches nothing returns
//     an empty slice and a nil error. A lookup by Ref that finds nothing
//     returns core.ErrNotFound, never a zero value and nil.
//   - Counts every HTTP request it makes through [Deps].Calls, because PSA
//     API budgets are shared with the MSP's other integrations (Autotask
//     allows 10,000 requests per hour per database).
//
// [Doer] implements the retry and status mapping rules so that plugins only
// build requests and decode bodies.
//
// # Plugins
//
// A plugin package exports a func Descriptor() [Descriptor]: an id, a display
// name, the settings [Field]s the console draws as a form, and New, which
// decodes the integration's JSON config strictly ([DecodeConfig]), validates
// it and returns a [Client] without touching the network. Dependencies arrive
// in [Deps], whose zero value works. cmd/countersign passes every descriptor
// to [NewRegistry]; there is no init-time registration.
//
// Every plugin runs the conformance suite in package psatest against its fake
// server. Package memory is a complete, small PSA (server and client) that
// passes the suite, serves the demo, and shows how a plugin is laid out.
package psa
