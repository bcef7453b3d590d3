// Package web is Countersign's HTTP surface: the technician JSON API, the
// minimal console, the end-user link pages, provider webhooks and the ops
// endpoints (/healthz, /readyz, /metrics).
//
// # Layout
//
// One file per area (api_contacts.go, api_verifications.go, links.go, …),
// each with a registerXRoutes method; handlers are plain http.HandlerFuncs
// named handleXY with a doc comment naming their route. Errors go through
// one function, writeError, that maps core error kinds to HTTP statuses in
// one table and never shows an internal error's text.
//
// # Security
//
// The tenant always comes from the session (or, for link pages and
// webhooks, from the URL's tenant slug plus a secret the request proves),
// never from a request body. Bodies are size-limited and JSON is decoded
// strictly. State-changing API calls require a same-origin Origin header (or
// none, for non-browser clients) and a JSON content type, which a cross-site
// form cannot send.
package web
