// Package autotask will hold the Autotask PSA plugin: the REST client
// implementing the core/psa capabilities within Autotask's shared API
// budget, the ticket Insight embedding, and its Descriptor. Its fake server
// will live in autotask/autotasktest. Facts: shared/reference/autotask.md.
package autotask
