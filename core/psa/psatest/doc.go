// Package psatest is the conformance suite every PSA plugin runs against
// its client and its fake server, so that the contract written once in
// package psa holds for all of them.
//
// # Running it
//
// A plugin's test calls [Run] with a [Harness] whose New builds a fresh fake
// server and a client of it:
//
//	func TestConformance(t *testing.T) {
//		psatest.Run(t, psatest.Harness{
//			New: func(t *testing.T, deps psa.Deps) (psa.Client, psatest.Fake) {
//				srv := cwtest.NewServer(t)
//				c, err := connectwise.New(srv.Config(), deps)
//				require.NoError(t, err)
//				return c, srv
//			},
//		})
//	}
//
// The client must be built with the deps it is given: the suite injects a
// [psa.RetryPolicy] whose Sleep records delays instead of waiting, which is
// how it checks that Retry-After is honoured and still runs in well under a
// second.
//
// # What it checks
//
// Each capability the client implements ([psa.ContactFinder],
// [psa.TicketGetter], …) is exercised; the ones it lacks are skipped with a
// log line, as libdnstest does. The cases: an empty result is an empty slice
// and no error; paging visits every company and contact exactly once, and follows
// next-page URLs in the shapes real PSAs write them (a trailing slash
// before the query, a double slash, an upper-case host: [LinkShaper]) while
// refusing one to another host or resource; 401,
// 404, 429 (with and without Retry-After, once and forever), 503 once and
// 5xx forever map to the right core kinds with the right retries; notes are
// never retried after a 5xx; keys revoked in the PSA (the fake of a
// TicketNoter must be a [CredentialRejecter], which psafake.Faults
// provides) fail a note as a
// misconfiguration (psa.Misconfiguration: the plugin's fix, the 401, the
// PSA's words) after a few requests at most, and the note lands once they
// work again; a cancelled context ends a call promptly;
// malformed JSON is an error of kind core.ErrUnavailable, not a panic;
// contacts are found by email (case-insensitively), by E.164 phone against
// the PSA's own format, and by name; a ticket comes with its contact; notes
// land, internal unless asked otherwise; IdentifyMember names the
// credential's member; and concurrent calls are safe (run with -race).
//
// Beyond reads and notes, each further capability has its case, run when
// the client implements it: Descriptor (New decodes strictly, refuses an
// unknown or missing field without echoing a secret, and makes no
// request: set [Harness.Descriptor] and [Harness.Settings]), CallsCounted
// (every request, retries included, reaches Deps.Calls under an op name
// without ids), Checker (passes, and maps 401, 403 and 503), TicketOnly,
// Embedder (plain frame origins; the PSA's pod query read, hostile values
// refused without a panic), MemberProver (fails closed on garbage, on a
// tampered proof and on every PSA error), SetupGuide, PodInstaller and
// CallbackRegistrar (idempotent), and CallbackVerifier (good, tampered,
// replayed, another event's signature, oversize). The fakes' optional
// interfaces [PodFake], [MemberFake] and [EventFake] (with [SharedSecretEvents]
// for PSAs that authenticate events by a shared secret) let those cases make
// a valid pod URL, member proof or signed event; the fake of a client with
// the capability must implement its interface, or the case fails (a
// CallbackRegistrar's callbacks are registered before its events are
// signed, as the PSA signs with what the registration gave it). The contact and ticket
// writes of opt-in forms and tray tickets have theirs: AddContactNote
// (written once, not retried after a 5xx), SetContactPhone (the number
// that reads as Old replaced, else New added, a number already there
// changing nothing), SetTicketContact and DefaultContact, each read back
// through the fake ([ContactNoteFake], [ContactPhoneFake],
// [TicketContactFake], [DefaultContactFake], required of the fake of a
// client with the capability), missing records not found; and
// ContactWriteErrors holds the writes to the reads' error contract (429
// retried after Retry-After, 429, 401 and 5xx forever of their kind with
// nothing written, a cancelled context making no request). DefaultContact
// is a read, so every read case runs it too. The suite's own tests run
// each case against a memory PSA client broken in the way the case
// catches, and require it to fail.
//
// # The fake
//
// A [Fake] is the knobs the suite needs on a plugin's fake server. Refs the
// suite seeds are decimal numbers ("1001"), which every PSA's ids can be.
package psatest
