package web

import "testing"

// TestRedactPathTokens: the access log shows no bearer secret of an
// end-user page — link tokens, welcome tokens, self-serve request ids —
// and leaves other paths alone. Request ids were logged whole before.
func TestRedactPathTokens(t *testing.T) {
	for in, want := range map[string]string{
		"/l/acme/Zm9vYmFy":             "/l/acme/[redacted]",
		"/w/acme/Zm9vYmFy":             "/w/acme/[redacted]",
		"/o/acme/Zm9vYmFy":             "/o/acme/[redacted]",
		"/r/acme/requests/Zm9vYmFy":    "/r/acme/requests/[redacted]",
		"/r/acme/requests/Zm9vYmFy/x":  "/r/acme/requests/[redacted]",
		"/r/acme":                      "/r/acme",
		"/r/acme/code":                 "/r/acme/code",
		"/api/v1/clients/c1/directory": "/api/v1/clients/c1/directory",
	} {
		if got := redactPath(in); got != want {
			t.Errorf("redactPath(%q) = %q, want %q", in, got, want)
		}
	}
}
