package psa

// Company is a customer company of the MSP as a PSA holds it (a ConnectWise
// company, an Autotask account, a Halo client).
type Company struct {
	Ref  string // the company's id in the PSA
	Name string
}

// Contact is an end user of a [Company] as a PSA holds it.
type Contact struct {
	Ref        string // the contact's id in the PSA; "" only on input to [ContactCreator]
	CompanyRef string // "" when the PSA has the contact under no company
	FirstName  string
	LastName   string
	Title      string
	Emails     []Email
	Phones     []Phone
}

// Name returns "First Last", trimmed.
func (c Contact) Name() string {
	switch {
	case c.FirstName == "":
		return c.LastName
	case c.LastName == "":
		return c.FirstName
	}
	return c.FirstName + " " + c.LastName
}

// Email is one email address of a [Contact].
type Email struct {
	Address string
	Label   string // the PSA's name for it ("Email", "Work", …); "" when it has none
	Default bool   // the PSA marks it as the contact's primary address
}

// Phone is one phone number of a [Contact].
type Phone struct {
	Number  string // exactly as the PSA gave it, e.g. "(555) 010-0100 x12"; see core.NormalizePhone
	Label   string // "Direct", "Mobile", …; "" when the PSA has none
	Default bool   // the PSA marks it as the contact's primary number
}

// Ticket is a service ticket.
type Ticket struct {
	Ref        string // the ticket's id in the PSA, used in API calls
	Number     string // what technicians see ("T20250101.0001" in Autotask); equal to Ref in most PSAs
	Summary    string
	CompanyRef string // "" when the ticket has no company
	ContactRef string // "" when the ticket has no contact
	Status     string // the PSA's status name, for display only

	// Contact is the ticket's contact, filled by [TicketGetter] when
	// ContactRef is not "". nil means the ticket has no contact.
	Contact *Contact
}

// Note is a note added to a ticket.
//
// The zero value is an internal note: verification results are for the
// MSP's technicians, and a note that forgets to say otherwise must never be
// shown to the customer.
type Note struct {
	Text   string
	Public bool // shown to the customer (ConnectWise "Discussion", Halo "visible to user"); false means internal
}

// Member is an MSP technician as a PSA knows them: a ConnectWise member, an
// Autotask resource, a Halo agent.
type Member struct {
	Ref        string // the member's id in the PSA; key technicians by this, never by Identifier or Email
	Identifier string // the login name ("jsmith"); "" when the PSA has none
	Name       string
	Email      string // "" when the PSA does not disclose it
	// Phone is the member's mobile (else office) number as the PSA holds
	// it, set by [MemberLister]; "" when it has none.
	Phone string
}

// ContactSearch says which contacts [ContactFinder] looks for. Set fields
// must all match; a zero ContactSearch matches every contact (of the
// company given to FindContacts).
type ContactSearch struct {
	Email string // an address, matched case-insensitively and exactly
	Phone string // E.164, e.g. "+15550100100"; matched against the PSA's numbers in whatever format it stores them
	Name  string // matched case-insensitively against first name, last name, or "First Last"
}

// IsZero reports whether s has no criteria.
func (s ContactSearch) IsZero() bool { return s == ContactSearch{} }

// ListOptions asks a paged list for one page.
type ListOptions struct {
	// PageSize is how many items to return at most. 0 means the plugin's
	// default; plugins lower larger values to their PSA's maximum.
	PageSize int
	// Cursor is [Page].Next from the previous call; "" means the first page.
	// Cursors are opaque and only valid with the client that made them.
	Cursor string
}

// Page is one page of a list.
type Page[T any] struct {
	Items []T
	Next  string // the cursor for the next page; "" on the last page
}
