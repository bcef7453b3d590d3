// Package psafake is the kit every PSA's fake server is built from, so that
// each fake (connectwise/cwtest, core/psa/memory, and those of the PSAs to
// come) is a page of routes over the same machinery and is held to its
// vendor's contract the same way.
//
// # The parts
//
//   - [Faults]: the knobs psatest's Fake needs — [Faults.FailNext],
//     [Faults.MalformedNext], [Faults.SetDown], [Faults.Requests] — and
//     [Faults.RejectCredentials] (revoked keys, answered with the vendor's
//     own 401 body until restored). A fake
//     embeds a Faults value, calls [Faults.Begin] at the top of each API
//     request and passes its JSON bodies through [Faults.Body].
//   - [Contract]: the part of a vendor's API contract the fake needs —
//     endpoints (method, path template, query names, body model) and models
//     (JSON fields with their types) — loaded from the fake's testdata/ and
//     used to refuse any request, query parameter or body field the vendor
//     does not declare ([Contract.Match], [Contract.ValidateBody]) and to
//     check the fake's own answers ([Contract.ValidateModel]).
//   - [Violations]: what the fake saw a client do wrong; left over at the
//     end of a test, they fail it.
//   - Paging: [PageBounds] and [LinkHeader] for page-numbered lists with an
//     RFC 8288 Link header (first, prev, next, last), [CursorBounds] for
//     cursor paging.
//   - TLS: [NewTLS] serves a handler over HTTPS on loopback under the
//     vendor's own host names, with an [http.Client] that dials those names
//     to the fake, trusts its self-signed certificate ([Certificate]) and
//     finds no other host, so a client under test runs its production code
//     unchanged.
//
// # A fake in outline
//
//	type Server struct {
//		psafake.Faults // FailNext, MalformedNext, SetDown, Requests
//		contract *psafake.Contract
//		v        psafake.Violations
//		…
//	}
//
//	func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
//		if f, ok := s.Begin(); ok {
//			f.Write(w, writeVendorError) // the vendor's error shape
//			return
//		}
//		ep, other := s.contract.Match(r.Method, path)
//		…
//		w.Write(s.Body(b)) // truncated once after MalformedNext
//	}
//
// # Contracts in testdata
//
// Tests never read ../shared/contracts: each fake keeps the part of its
// vendor's contract it needs in its own testdata/, extracted by a checked-in
// command that its package runs with go generate (see connectwise/cwtest's
// internal/extract, which uses [Contract.Subset] and [Contract.WriteFile]),
// and embeds it with go:embed. The file format is the one
// shared/contracts/connectwise/manage-2025.1.json uses; an extractor for an
// OpenAPI or Swagger document converts its schemas into it:
//
//	{"source": "…",
//	 "endpoints": [{"op": "GetCompanyContacts", "method": "GET",
//	                "path": "/company/contacts/{id}", "query": ["fields"],
//	                "body": null}],
//	 "models": {"Contact": [{"json": "firstName", "type": "*string", "required": true}]}}
//
// A field's type is written as a Go type: string, bool, int32, int64,
// float64, time.Time (RFC 3339), interface{} (any JSON), a model name, []T,
// map[string]T, *T (may be null), or NullableString / NullableInt32 /
// NullableInt64 / NullableFloat64 / NullableBool.
package psafake
