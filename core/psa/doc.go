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
// server. Package memory is a complete, small PSA (server and client) with
// every capability that passes the suite, serves the demo and the host's
// tests, and shows how a plugin is laid out; it is never registered in a
// production server.
//
// # Seam
//
// Besides its client, a plugin brings through its descriptor the files it
// ships ([Assets]: the pod script that speaks the PSA's embedding
// protocol, a setup help page), served at /static/psa/{id}/, and how its
// PSA posts events ([Inbound]). Events arrive at one generic route,
// /webhooks/psa/{tenant}/{integration}: the host reads at most
// [MaxInboundBody] bytes, the client's [CallbackVerifier] authenticates
// and parses them, the host drops a replayed [Callback].ID and acts on the
// rest. Nothing outside the plugin's folder names the PSA.
//
// # A new PSA, step by step
//
//  1. Make <psa>/ with the package doc and Descriptor (<psa>.go), Config
//     (strict, validated; New makes no request), client.go on [Doer], one
//     file per capability, and interface guards for each capability
//     claimed. Map statuses by code; a 401 or 403 to the integration's keys
//     says in the error's message what the admin must fix (the host turns
//     it into a core.MisconfiguredError with [Misconfiguration], parks the
//     work and shows the words in its banner); name the missing permission
//     in 403s. Keep the fake's HTTPError body: its words are shown too.
//  2. Make <psa>/<psa>test/: a fake built on core/psa/psafake (embed
//     psafake.Faults; a psafake.Contract from testdata/ extracted by
//     internal/extract with go generate from shared/contracts/; never read
//     shared/ in a test), implementing psatest.Fake and, per capability,
//     psatest.PodFake, MemberFake and EventFake.
//  3. Run psatest.Run with Harness{New, Descriptor, Settings}; add a case
//     to psatest when the PSA shows a behaviour the suite lacks.
//  4. Embedding: [Embedder] (frame origins, pod context from the URL) and,
//     where the PSA can prove who is looking, [MemberProver]; ship the pod
//     script in Assets.PodScripts. Setup: [SetupGuide], Assets.SetupHelp,
//     [PodInstaller] and [CallbackRegistrar] where the API allows.
//  5. Events: [CallbackVerifier] (constant-time check, replay-bounded,
//     oversize refused, a Go fuzz target); Inbound.Query if the PSA
//     appends to the URL.
//  6. Add one line to cmd/countersign's psaRegistry, a call-budget test, a
//     browser test with a page playing the PSA, and a README section.
//     Nothing else outside the folder changes: cmd/countersign's seam test
//     (seam_test.go) proves it with a PSA written for the test alone.
package psa
