// Package autotask is the Autotask PSA (Datto/Kaseya) plugin: a REST client
// ([Client]) implementing the core/psa capabilities within Autotask's shared
// API budget, the ticket Insight embedding, and its [Descriptor]. Its fake
// server, held to the vendor's contract, lives in autotask/autotasktest.
// Facts: shared/reference/autotask.md.
//
// # Connecting
//
// An integration is a [Config]: an API-only user's username and secret and
// the API tracking identifier (integration code). Nothing is fetched until
// the first call, which discovers the user's zone (GET
// https://webservices.autotask.net/atservicesrest/v1.0/zoneInformation?user=…,
// unauthenticated, no credentials sent) and caches it for a day. Calls then
// go to the zone's own API URL with the headers ApiIntegrationCode,
// UserName and Secret — credentials are only ever sent to that zone's host,
// which must be an https host under autotask.net, and a nextPageUrl on any
// other origin is refused. A zone stored with the integration
// ([Config].ZoneURL, learned at setup through [Client.LearnedSettings])
// spares a cold client the discovery; a 401 from it discovers the zone
// again once, in case the database moved.
//
// # Calls and budget
//
// Every call goes through [psa.Doer] (429 after Retry-After, 5xx with
// backoff, never a note POST after a 5xx) and is counted through
// [psa.Deps].Calls under names without ids ("POST /V1.0/Contacts/query").
// Autotask allows 10,000 requests per rolling hour per database, shared
// with every other integration the MSP runs, and 3 concurrent requests per
// tracking identifier and endpoint. Clients made by one [Descriptor] share,
// per database, a count of their own calls, the last ThresholdInformation
// reading, and a limit of 3 requests in flight per endpoint. Non-essential
// work (company lists, resource lists, picklist refreshes) polls
// ThresholdInformation at most every five minutes, slows above 50 % of the
// threshold and stops above 75 %; the calls a technician waits for
// (ticket, contact, note) are never held back by the budget. Companies are
// cached for an hour and picklists for a day.
//
// # Errors
//
// Autotask answers failures with {"errors":[…]}, often as HTTP 500 even for
// bad credentials or validation, and sometimes inside a 2xx. Failures are
// [*Error]s of a core kind whose message says what to fix ("Autotask
// rejected the API integration code …", "… the API user's security level
// does not allow …") and never holds the secret or the integration code.
//
// # Technicians
//
// Autotask lets an API user act as a resource (ImpersonationResourceId).
// [Client.AsResource] does so only for a resource id the caller mapped to a
// technician it authenticated itself — never for the resourceid an Insight
// URL carries — and falls back to the API user when Autotask refuses the
// impersonation.
package autotask
