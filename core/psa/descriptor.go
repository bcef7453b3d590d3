package psa

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// Client is a connection to one PSA integration, as returned by
// [Descriptor].New. It has no methods of its own: callers type-assert it to
// the capabilities they need ([ContactFinder], [TicketNoter], …). A client
// that holds resources implements [io.Closer]; [Close] calls it.
type Client any

// Close closes c if it implements [io.Closer], and does nothing otherwise.
func Close(c Client) error {
	if cl, ok := c.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// Descriptor describes one PSA plugin: how the console shows it, which
// settings it takes, and how to build a client from them.
type Descriptor struct {
	ID     string  // stable, lower case, stored with each integration: "connectwise", "halo"
	Name   string  // display name: "ConnectWise PSA"
	Fields []Field // the settings form, in display order

	// New builds a client from an integration's JSON config (an object whose
	// keys are the Field names). It decodes strictly ([DecodeConfig]),
	// validates, and has no side effects: no network calls, no goroutines.
	// An invalid config is an error of kind core.ErrInvalid whose message
	// can be shown to the admin.
	New func(cfg json.RawMessage, deps Deps) (Client, error)

	// Assets are the files the plugin ships: its pod script, its setup
	// help. The zero value ships none.
	Assets Assets
	// Inbound says how the PSA posts events to us, beyond the generic
	// route; the zero value needs nothing more.
	Inbound Inbound
}

// FieldKind says how the console draws and stores a [Field].
type FieldKind string

// Field kinds.
const (
	FieldText   FieldKind = "text"
	FieldURL    FieldKind = "url"
	FieldSecret FieldKind = "secret" // write-only in the console, never echoed back or logged
)

// Field is one setting of a PSA integration.
type Field struct {
	Name     string // the JSON key in the config: "base_url"
	Label    string // "Site URL"
	Kind     FieldKind
	Required bool
	Help     string // one sentence shown under the input; "" for none
	// Choosable says the client can offer this setting's values from the
	// PSA itself ([FieldChooser]): the tenant's note types, the custom
	// field that holds a mobile number.
	Choosable bool
	// Generated says the host makes this setting's value: random, when
	// the setting is empty on save or the admin asks for a new one, and
	// shown once in the save's answer for the admin to paste into the PSA
	// (webhook credentials the PSA will send us). The value is made of
	// letters, digits, '-' and '_' only, so Basic authentication and URLs
	// carry it unchanged.
	Generated bool
}

// Deps is what a plugin's client gets from its host. The zero value works:
// every nil field has a default, so tests set only what they check.
type Deps struct {
	Logger     *slog.Logger     // nil discards logs
	HTTPClient *http.Client     // nil means http.DefaultClient
	Now        func() time.Time // nil means time.Now
	Calls      CallCounter      // nil means calls are not counted
	Retry      RetryPolicy      // the zero value is the default policy
}

// CallCounter counts a plugin's API calls for metrics and budgets. The host
// builds Deps per integration, so a CallCounter is already bound to one.
type CallCounter interface {
	// CountCall records one HTTP request. op names the call with low
	// cardinality ("GET /company/contacts", never with ids in it); status
	// is the response status, or 0 when no response arrived.
	CountCall(op string, status int)
}

// Log returns d.Logger, or a logger that discards.
func (d Deps) Log() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// HTTP returns d.HTTPClient, or http.DefaultClient.
func (d Deps) HTTP() *http.Client {
	if d.HTTPClient != nil {
		return d.HTTPClient
	}
	return http.DefaultClient
}

// Clock returns d.Now, or time.Now.
func (d Deps) Clock() func() time.Time {
	if d.Now != nil {
		return d.Now
	}
	return time.Now
}

// Doer returns the [Doer] a plugin sends its requests with.
func (d Deps) Doer() *Doer {
	return &Doer{Client: d.HTTP(), Policy: d.Retry, Calls: d.Calls, Now: d.Clock()}
}
