// Package connectwise is the ConnectWise PSA (formerly ConnectWise Manage)
// plugin: a REST client ([Client]) implementing the core/psa capabilities,
// and its [Descriptor]. Its fake server, held to the vendor's contract,
// lives in connectwise/cwtest. Facts: shared/reference/connectwise.md.
//
// # Connecting
//
// An integration is a [Config]: the site technicians sign in to, the
// company id, an API member's public and private key, and the
// integration's clientId. Nothing is fetched until the first call, which
// discovers the tenant's codebase (GET /login/companyinfo/{company} on the
// site, unauthenticated) and caches it. REST calls then go to
// https://{api host}/{codebase}apis/3.0, where the API host of a cloud site
// is its "api-" sibling (na.myconnectwise.net → api-na.myconnectwise.net),
// with Basic auth companyId+publicKey:privateKey, the clientId header, and
// Accept pinned to [APIVersion]. When ConnectWise cannot route a request —
// the codebase changed under the cache — the client discovers it again and
// retries once.
//
// # Calls
//
// Every call goes through [psa.Doer]: retried on 429 after Retry-After and
// on 5xx with backoff (never a note POST after a 5xx), counted per
// integration through [psa.Deps].Calls under names without ids
// ("GET /company/contacts/{id}"). Lists page with page/pageSize and the
// Link header, or forward-only with pageId for company syncs, and refuse
// oversized pages and endless lists. Contacts are found by email or phone
// through childConditions on their communication items; values that could
// break out of a condition string are refused, never escaped. The
// tenant's communication types are cached for an hour, and only read when
// a contact is created or an item lacks its type.
//
// A warm client reads a contact in one call and writes a note in one;
// a ticket with its contact is two.
//
// # Errors
//
// Failures are [*Error]s of a core kind, whose message says what to fix
// ("ConnectWise rejected the API keys for company …", "… security role does
// not allow reading contacts (Companies › Contacts, inquire)") and never
// holds a key, a member hash or the clientId.
//
// # Technicians
//
// A Hosted API pod hands the server the signed-in technician's member
// credentials ([MemberAuth]). [Client.VerifyMember] asks ConnectWise whose
// they are; [Client.WithMember] makes calls as that technician, under
// their own security role.
package connectwise
