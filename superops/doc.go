// Package superops is the SuperOps plugin: a client of SuperOps' MSP
// GraphQL API that implements the core/psa capabilities, and its
// [Descriptor].
//
// SuperOps has no embed point that passes a verifiable technician
// identity, so there is no pod: technicians verify from Countersign's own
// console, starting from a ticket's display id ([Client.FindTicketByNumber])
// or a requester search, and the result is written back to the ticket as
// a private note.
//
// Every call is a POST of a GraphQL document to /msp with the API token
// and the customer subdomain. Failures other than a bad token (401) or a
// bad subdomain (400) come as HTTP 200 with errors[], whose
// extensions.clientError codes the client maps to core error kinds; the
// client always reads errors before data. Association fields (client,
// site, requester, customFields…) are the JSON scalar: they are selected
// as leaves and decoded by hand, with ids that may be unquoted 19-digit
// numbers ([FlexID]).
//
// # The mobile number
//
// A requester's mobile number is a custom field whose key is a generated
// column name ("udf7text"). [Client.DiscoverMobileField] finds it by its
// label (mobile phone, mobile number, cell phone, cell number, cell,
// mobile; whole label, any case); the integration stores the one match,
// or lets the admin choose among several, or take one by hand. The number
// is returned labelled with the column it came from.
//
// The fake server in package superopstest holds the client to the MSP
// API reference. Facts: shared/reference/superops.md.
package superops
