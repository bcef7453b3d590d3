// Package halo will hold the HaloPSA plugin: the OAuth2 client-credentials
// REST client implementing the core/psa capabilities (users, clients,
// tickets, notes as actions, agents), the ticket custom-tab embedding,
// Basic-auth webhooks, and its Descriptor. Its fake server will live in
// halo/halotest. Facts: shared/reference/halo.md.
package halo
