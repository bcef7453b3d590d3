// Package superops will hold the SuperOps plugin: the GraphQL client
// implementing the core/psa capabilities, per-ticket deep links to our
// console (SuperOps has no embedding), and its Descriptor. Its fake server
// will live in superops/superopstest. Facts: shared/reference/superops.md.
package superops
