package psa

import (
	"context"
	"encoding/json"
	"net/url"
)

// Screen names the PSA screen that hosts a pod.
type Screen string

// Screens a pod can sit on.
const (
	ScreenContact Screen = "contact"
	ScreenTicket  Screen = "ticket"
)

// PodContext is what the PSA screen hosting a pod is showing: one contact,
// or one ticket (whose contact the pod verifies by default).
type PodContext struct {
	Screen     Screen
	ContactRef string // the contact's id in the PSA; set on the contact screen
	TicketRef  string // the ticket's id in the PSA; set on the ticket screen
}

// Embedder is implemented by clients whose PSA hosts the pod in an iframe.
// The pod server uses it to decide who may frame the pod and what the pod
// is looking at; everything after that goes through the other capabilities
// ([ContactGetter], [TicketGetter], [TicketNoter]).
type Embedder interface {
	// FrameOrigins lists the origins ("https://na.myconnectwise.net") that
	// may frame the pod: they become its CSP frame-ancestors, and nothing
	// else can embed it.
	FrameOrigins() []string
	// PodContext reads the pod URL's query, as the PSA filled it in
	// (e.g. ConnectWise's [cw_id] and [cw_screen]), into a PodContext. Bad
	// input is an error of kind core.ErrInvalid.
	PodContext(q url.Values) (PodContext, error)
}

// MemberProver is implemented by clients whose PSA can prove which member
// is looking at a pod (ConnectWise hands the pod the member's
// authentication over postMessage). ProveMember must confirm the proof with
// the PSA itself — a proof is only as good as the PSA's answer to it — and
// fails with kind core.ErrUnauthorized when the PSA does not accept it.
type MemberProver interface {
	ProveMember(ctx context.Context, proof json.RawMessage) (Member, error)
}

// TicketOnlyGetter is implemented by clients that can read a ticket without
// its contact in one API call. Pods prefer it: the contact usually has a
// local mirror already, so a warm pod load costs one PSA call, and the
// contact is read only when the mirror lacks it.
type TicketOnlyGetter interface {
	// GetTicketOnly is [TicketGetter.GetTicket] with Contact left nil.
	GetTicketOnly(ctx context.Context, ref string) (Ticket, error)
}

// MemberReader is implemented by clients whose PSA lets the pod read with
// the rights of the member looking at it (ConnectWise: the member's own
// authentication, which the pod gets from ConnectWise), so that a
// technician sees through the pod only the companies, contacts and tickets
// the PSA would show them. The pod server then reads nothing for a pod
// without a proof: with the integration's own credential it would show a
// technician records their PSA role hides.
type MemberReader interface {
	// AsMember confirms proof as [MemberProver.ProveMember] does and
	// returns a client that reads as that member, and the member. Writes
	// (ticket notes) stay with the integration's credential.
	AsMember(ctx context.Context, proof json.RawMessage) (Client, Member, error)
}

// PodScriptConfigurer is implemented by clients whose pod script
// (psa.Assets.PodScripts) needs settings of the integration to do its part
// — an OAuth client id, an authorisation URL — none of them secret: the
// pod page hands them to the script in its body's data-psa-config
// attribute, as a JSON object, before anyone has signed in.
type PodScriptConfigurer interface {
	// PodScriptConfig returns the settings, or nil for none. It may make
	// a PSA call the first time; it must never return a secret.
	PodScriptConfig(ctx context.Context) (map[string]string, error)
}
