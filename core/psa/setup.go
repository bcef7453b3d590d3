package psa

import (
	"context"
	"net/http"
)

// The capabilities behind the console's integration setup (what to
// configure in the PSA, creating the pod entries through its API) and
// behind inbound PSA callbacks (registering them, verifying them).

// SetupGuide is implemented by clients that can tell an admin what to do in
// the PSA once the integration is saved.
type SetupGuide interface {
	// Setup describes the PSA-side setup of pods served at podURL (absolute,
	// without a query: "https://cs.example/pod/acme/int_1") by the server
	// whose origin is origin ("https://cs.example"). It makes no call.
	Setup(podURL, origin string) Setup
}

// Setup is the PSA-side setup of an integration, as the console shows it.
type Setup struct {
	Where       string       // where the pod entries go in the PSA: "System › Setup Tables › Manage Hosted API"
	Pods        []PodEntry   // one per screen that hosts the pod
	Notes       []string     // reminders for the admin, one sentence each
	Permissions []Permission // what the integration's API user needs, least first
}

// PodEntry is one pod registration in the PSA.
type PodEntry struct {
	Screen      Screen // which of our screens: contact or ticket
	ScreenName  string // the PSA's name for it: "Service Tickets"
	Description string // the entry's name in the PSA: "Countersign"
	URL         string // the pod URL with the PSA's placeholders
	Origin      string // our origin, which the PSA exchanges messages with
	Type        string // the PSA's kind of entry: ConnectWise "Pod"
}

// Permission is one permission the integration's API user needs.
type Permission struct {
	Area   string // "Service Desk › Service Tickets"
	Access string // "Inquire (All)"
	Why    string // what Countersign does with it
}

// PodScreen is a screen the PSA can host a pod on, as its API lists it.
type PodScreen struct {
	ID     int    // the PSA's id for the screen
	Key    string // the PSA's key for it, if any: "ServiceTicket"
	Name   string // "Service Tickets"
	Screen Screen // the one of our screens it appears to be; "" for none
}

// PodInstaller is implemented by clients that can create the pod entries
// in the PSA through its API, sparing the admin the copying.
type PodInstaller interface {
	// PodScreens lists the screens the PSA can host pods on.
	PodScreens(ctx context.Context) ([]PodScreen, error)
	// InstallPods creates entries in the PSA, each on the screen whose PSA
	// id screens maps its Screen to; a Screen missing from screens is
	// looked up by name and is an error of kind core.ErrInvalid when no
	// single screen matches. An entry that exists already (same screen, same
	// URL) is kept, not duplicated.
	InstallPods(ctx context.Context, entries []PodEntry, screens map[Screen]int) ([]InstalledPod, error)
}

// InstalledPod is one pod entry in the PSA after [PodInstaller.InstallPods].
type InstalledPod struct {
	Screen   Screen
	Ref      string // the entry's id in the PSA
	ScreenID int    // the PSA's id of the screen it is on
	Created  bool   // false when the entry existed already
}

// CallbackRegistrar is implemented by clients whose PSA can post events
// about tickets to us.
type CallbackRegistrar interface {
	// RegisterCallbacks makes the PSA post ticket events to url. It is
	// idempotent: a registration that exists is reused (and re-enabled when
	// the PSA disabled it), never duplicated.
	RegisterCallbacks(ctx context.Context, url string) ([]CallbackRegistration, error)
}

// CallbackRegistration is one callback registration in the PSA.
type CallbackRegistration struct {
	Ref       string // the registration's id in the PSA
	Type      string // what it reports on: "ticket"
	Created   bool   // false when it existed already
	Reenabled bool   // it existed but the PSA had disabled it
}

// CallbackVerifier is implemented by clients whose PSA signs its callbacks.
type CallbackVerifier interface {
	// VerifyCallback checks that body, with its headers h, was sent by the
	// integration's own PSA tenant, and returns what it reports. A missing
	// or wrong signature, or one that names another tenant, is an error of
	// kind core.ErrUnauthorized; a body that is not the PSA's JSON is
	// core.ErrInvalid; a signing key that cannot be fetched is
	// core.ErrUnavailable. It changes nothing but the client's key cache.
	VerifyCallback(ctx context.Context, h http.Header, body []byte) (Callback, error)
}

// Callback is a verified PSA event. It is a hint, not data: re-read the
// record through the API before acting on it.
type Callback struct {
	ID     string // the PSA's message id; "" when it sends none
	Type   string // the record type, lower case: "ticket", "contact"
	Action string // lower case: CallbackAdded, CallbackUpdated, CallbackDeleted, or what else the PSA sent
	Ref    string // the record's id in the PSA
}

// Callback actions.
const (
	CallbackAdded   = "added"
	CallbackUpdated = "updated"
	CallbackDeleted = "deleted"
)

// SettingsLearner is implemented by clients that learn settings while they
// work (ConnectWise's codebase). The console stores them with the
// integration after a successful check, so that later clients start with
// them.
type SettingsLearner interface {
	// LearnedSettings returns settings by field name; nil when it has
	// learned nothing yet.
	LearnedSettings() map[string]string
}
