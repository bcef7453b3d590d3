package psa

import (
	"context"
	"fmt"

	"github.com/countersign/countersign/core"
)

// The capability interfaces. The contract every method obeys (concurrency,
// context, retries, error kinds, empty results) is in the package
// documentation, under Contract.

// ContactFinder finds contacts by email address, phone number or name.
type ContactFinder interface {
	// FindContacts returns the contacts of the company with companyRef that
	// match s, all pages of them. companyRef "" searches every company; a
	// zero s with companyRef "" is an error of kind core.ErrInvalid (that
	// would be the whole PSA). More than one match is normal and is never
	// resolved by the plugin: the technician chooses.
	FindContacts(ctx context.Context, companyRef string, s ContactSearch) ([]Contact, error)
}

// ContactGetter gets one contact by its Ref.
type ContactGetter interface {
	// GetContact returns the contact with ref, or core.ErrNotFound.
	GetContact(ctx context.Context, ref string) (Contact, error)
}

// ContactCreator creates contacts.
type ContactCreator interface {
	// CreateContact creates c under c.CompanyRef and returns it as the PSA
	// stored it, with its new Ref. c.Ref is ignored.
	CreateContact(ctx context.Context, c Contact) (Contact, error)
}

// NewTicket is a ticket to create with [TicketCreator].
type NewTicket struct {
	CompanyRef  string // required: the company the ticket is for
	ContactRef  string // the contact who logged it; "" for none
	Summary     string // one line, required
	Description string // the user's own words; may be ""
}

// TicketCreator creates service tickets: the ticket a user logs from the
// Windows agent's tray.
type TicketCreator interface {
	// CreateTicket creates t in the PSA's default board or queue and
	// returns it as stored, with its Ref and Number. It is not idempotent:
	// callers retry only errors that mean nothing was created (429, the
	// PSA unreachable before answering).
	CreateTicket(ctx context.Context, t NewTicket) (Ticket, error)
}

// TicketGetter gets one ticket with its contact.
type TicketGetter interface {
	// GetTicket returns the ticket with ref, or core.ErrNotFound. When the
	// ticket has a contact, [Ticket].Contact holds it, read from the contact
	// record (never from the ticket's free-text copies of email and phone).
	GetTicket(ctx context.Context, ref string) (Ticket, error)
}

// TicketFinder finds a ticket by the number technicians see on it, for
// verifying from the console when the PSA has no embed point (Kaseya BMS,
// SuperOps) or the technician is not in the PSA's screen.
type TicketFinder interface {
	// FindTicketByNumber returns the ticket whose number is number
	// (compared exactly, case-insensitively), with its contact as
	// [TicketGetter.GetTicket] fills it, or core.ErrNotFound.
	FindTicketByNumber(ctx context.Context, number string) (Ticket, error)
}

// TicketLinker gives the address of a ticket in the PSA's own web app, so
// that the console can link back to it.
type TicketLinker interface {
	// TicketURL returns the https address of t in the PSA, or "" when the
	// integration does not know its PSA's ticket URLs. It makes no call.
	TicketURL(t Ticket) string
}

// ContactTicketLister lists a contact's open tickets, for the console's
// "recent tickets" of a caller.
type ContactTicketLister interface {
	// ContactTickets returns at most limit of the contact's tickets that
	// are not closed, newest first when the PSA can sort, without their
	// Contact filled. An unknown contact has none.
	ContactTickets(ctx context.Context, c Contact, limit int) ([]Ticket, error)
}

// TicketNoter adds notes to tickets.
type TicketNoter interface {
	// AddTicketNote adds n to the ticket with ticketRef; core.ErrNotFound
	// when there is no such ticket. It is not idempotent and is retried only
	// on 429, so callers put a unique id (the verification id) in n.Text and
	// check for it before calling again after an error.
	AddTicketNote(ctx context.Context, ticketRef string, n Note) error
}

// ContactNoter adds notes to contacts: the note that an SMS opt-in form
// was sent (issue 18 item 4).
type ContactNoter interface {
	// AddContactNote adds an internal note with text to the contact with
	// contactRef; core.ErrNotFound when there is no such contact. It is
	// not idempotent and is retried only on 429.
	AddContactNote(ctx context.Context, contactRef, text string) error
}

// PhoneChange is a corrected phone number for [ContactPhoneSetter].
type PhoneChange struct {
	// Old is the number to replace, as the PSA wrote it or in E.164;
	// the PSA's number that reads as the same E.164 number is replaced.
	// "" (or no such number) adds New instead.
	Old   string
	New   string // E.164
	Label string // for an added number, e.g. "Mobile"; "" for the PSA's mobile type
}

// ContactPhoneSetter changes a contact's phone numbers: the mobile number
// an end user corrected on an opt-in form.
type ContactPhoneSetter interface {
	// SetContactPhone replaces c.Old with c.New on the contact with
	// contactRef, or adds c.New when the contact has no number reading
	// as c.Old; core.ErrNotFound when there is no such contact. Setting a
	// number the contact has already changes nothing.
	SetContactPhone(ctx context.Context, contactRef string, c PhoneChange) error
}

// DefaultContactGetter reads which contact a company names as its default,
// the caller a ticket without a contact is taken to be about.
type DefaultContactGetter interface {
	// DefaultContact returns the Ref of the default contact of the
	// company with companyRef; "" when it names none.
	DefaultContact(ctx context.Context, companyRef string) (string, error)
}

// TicketContactSetter sets a ticket's contact.
type TicketContactSetter interface {
	// SetTicketContact makes the contact with contactRef the contact of
	// the ticket with ticketRef, changing nothing else on the ticket;
	// core.ErrNotFound when there is no such ticket. A contact the PSA
	// does not have is core.ErrNotFound, or core.ErrInvalid where the
	// PSA refuses it as one not of the ticket's company without telling
	// the two apart (ConnectWise, Kaseya BMS); either way the ticket keeps
	// its contact.
	SetTicketContact(ctx context.Context, ticketRef, contactRef string) error
}

// CompanyLister lists companies a page at a time, so that a sync of a PSA
// with thousands of companies keeps its memory and its API budget in check.
// [AllCompanies] collects every page.
type CompanyLister interface {
	// ListCompanies returns one page of companies. Following [Page].Next
	// until it is "" visits every company exactly once (barring concurrent
	// changes in the PSA).
	ListCompanies(ctx context.Context, o ListOptions) (Page[Company], error)
}

// MemberIdentifier says who is behind the client's credential: the
// technician whose member credentials (ConnectWise member hash, Halo agent
// token) the client was built with.
type MemberIdentifier interface {
	// IdentifyMember returns the member the PSA says the credential belongs
	// to. It asks the PSA every time; callers cache the answer if they want.
	IdentifyMember(ctx context.Context) (Member, error)
}

// MemberLister lists the PSA's active members (the MSP's technicians), so
// that an admin can copy one into an on-call group instead of typing their
// addresses again.
type MemberLister interface {
	// ListMembers returns one page of the active members, with their
	// e-mail and phone where the PSA has them; following the cursor until
	// it is "" visits each active member once.
	ListMembers(ctx context.Context, o ListOptions) (Page[Member], error)
}

// Checker tests a connection: the console's "Test connection" button.
type Checker interface {
	// Check makes one cheap authenticated call and returns its error.
	Check(ctx context.Context) error
}

// AllCompanies returns every company l lists, following cursors until the
// last page. pageSize 0 means the plugin's default.
func AllCompanies(ctx context.Context, l CompanyLister, pageSize int) ([]Company, error) {
	var all []Company
	o := ListOptions{PageSize: pageSize}
	for {
		p, err := l.ListCompanies(ctx, o)
		if err != nil {
			return nil, err
		}
		all = append(all, p.Items...)
		if p.Next == "" {
			return all, nil
		}
		if p.Next == o.Cursor {
			// A PSA handing back the same cursor would loop forever.
			return nil, fmt.Errorf("psa: list companies: cursor %q repeats: %w", p.Next, core.ErrUnavailable)
		}
		o.Cursor = p.Next
	}
}
