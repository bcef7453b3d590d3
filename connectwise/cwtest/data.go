package cwtest

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/countersign/countersign/core/psa"
)

// The fake's records, shaped (and named) like the contract's models. Each
// answer is checked against its model before it is sent.
type (
	info map[string]string

	reference struct {
		ID         int    `json:"id"`
		Identifier string `json:"identifier,omitempty"`
		Name       string `json:"name,omitempty"`
		Info       info   `json:"_info,omitempty"`
	}

	// Contact model.
	contactRec struct {
		ID                 int           `json:"id"`
		FirstName          string        `json:"firstName"`
		LastName           string        `json:"lastName,omitempty"`
		Company            *reference    `json:"company,omitempty"`
		Title              string        `json:"title,omitempty"`
		InactiveFlag       bool          `json:"inactiveFlag"`
		DefaultPhoneType   string        `json:"defaultPhoneType,omitempty"`
		DefaultPhoneNbr    string        `json:"defaultPhoneNbr,omitempty"`
		CommunicationItems []commItemRec `json:"communicationItems"`
		Types              []reference   `json:"types"`
		CustomFields       []any         `json:"customFields"`
		Info               info          `json:"_info"`
	}

	// ContactCommunicationItem model.
	commItemRec struct {
		ID                int       `json:"id"`
		Type              reference `json:"type"`
		Value             string    `json:"value"`
		Extension         string    `json:"extension,omitempty"`
		DefaultFlag       bool      `json:"defaultFlag"`
		CommunicationType string    `json:"communicationType"`
	}

	// CommunicationType model.
	commTypeRec struct {
		ID          int    `json:"id"`
		Description string `json:"description"`
		PhoneFlag   bool   `json:"phoneFlag"`
		FaxFlag     bool   `json:"faxFlag"`
		EmailFlag   bool   `json:"emailFlag"`
		DefaultFlag bool   `json:"defaultFlag"`
		Info        info   `json:"_info"`
	}

	// Company model.
	companyRec struct {
		ID          int        `json:"id"`
		Identifier  string     `json:"identifier"`
		Name        string     `json:"name"`
		Status      *reference `json:"status,omitempty"`
		PhoneNumber string     `json:"phoneNumber,omitempty"`
		DeletedFlag bool       `json:"deletedFlag"`
		Types       []any      `json:"types"`
		// DefaultContact is the company's default contact.
		DefaultContact *reference `json:"defaultContact,omitempty"`
		Info           info       `json:"_info"`
	}

	// Ticket model.
	ticketRec struct {
		ID                  int        `json:"id"`
		Summary             string     `json:"summary"`
		RecordType          string     `json:"recordType"`
		Board               *reference `json:"board,omitempty"`
		Status              *reference `json:"status,omitempty"`
		Company             reference  `json:"company"`
		Contact             *reference `json:"contact"`
		ContactName         string     `json:"contactName,omitempty"`
		ContactEmailAddress string     `json:"contactEmailAddress,omitempty"`
		ContactPhoneNumber  string     `json:"contactPhoneNumber,omitempty"`
		InitialDescription  string     `json:"initialDescription,omitempty"`
		ClosedFlag          bool       `json:"closedFlag"`
		Info                info       `json:"_info"`
	}

	// ServiceNote model.
	noteRec struct {
		ID                    int    `json:"id"`
		TicketID              int    `json:"ticketId"`
		Text                  string `json:"text"`
		DetailDescriptionFlag bool   `json:"detailDescriptionFlag"`
		InternalAnalysisFlag  bool   `json:"internalAnalysisFlag"`
		ResolutionFlag        bool   `json:"resolutionFlag"`
		ProcessNotifications  *bool  `json:"processNotifications,omitempty"`
		DateCreated           string `json:"dateCreated"`
		CreatedBy             string `json:"createdBy"`
		Info                  info   `json:"_info"`
	}

	// Member model (the fields the fake fills).
	memberRec struct {
		ID           int    `json:"id"`
		Identifier   string `json:"identifier"`
		FirstName    string `json:"firstName"`
		LastName     string `json:"lastName"`
		LicenseClass string `json:"licenseClass"`
		InactiveFlag bool   `json:"inactiveFlag"`
		OfficeEmail  string `json:"officeEmail,omitempty"`
		OfficePhone  string `json:"officePhone,omitempty"`
		MobilePhone  string `json:"mobilePhone,omitempty"`
		DefaultEmail string `json:"defaultEmail"`
		DefaultPhone string `json:"defaultPhone"`
		Info         info   `json:"_info"`
	}

	// MyMemberInfo model.
	myMemberInfoRec struct {
		ID           int    `json:"id"`
		Identifier   string `json:"identifier"`
		FirstName    string `json:"firstName"`
		LastName     string `json:"lastName"`
		FullName     string `json:"fullName"`
		DefaultEmail string `json:"defaultEmail,omitempty"`
		LicenseClass string `json:"licenseClass"`
		InactiveFlag bool   `json:"inactiveFlag"`
		Info         info   `json:"_info"`
	}

	// Info model (GET /system/info).
	systemInfoRec struct {
		Version        string `json:"version"`
		IsCloud        bool   `json:"isCloud"`
		ServerTimeZone string `json:"serverTimeZone"`
		CloudRegion    string `json:"cloudRegion,omitempty"`
	}
)

// defaultCommTypes are a tenant's communication types as a fresh
// ConnectWise has them (ids and names differ per tenant in real life).
func defaultCommTypes() []commTypeRec {
	return []commTypeRec{
		{ID: 1, Description: "Email", EmailFlag: true, DefaultFlag: true},
		{ID: 2, Description: "Direct", PhoneFlag: true, DefaultFlag: true},
		{ID: 3, Description: "Mobile", PhoneFlag: true},
		{ID: 4, Description: "Fax", FaxFlag: true},
		{ID: 5, Description: "Home", PhoneFlag: true},
	}
}

func (t commTypeRec) kind() string {
	switch {
	case t.EmailFlag:
		return "Email"
	case t.PhoneFlag:
		return "Phone"
	case t.FaxFlag:
		return "Fax"
	}
	return ""
}

// member is a member of the fake tenant: the API member behind the keys
// or a technician a pod signs in as.
type member struct {
	rec     memberRec
	hash    string // member hash a pod presents; "" for the API member
	context string
	role    string       // the member's security role's name; "" for one that sees everything
	hides   map[int]bool // company ids the role hides; nil for none
}

// sees reports whether the member's security role lets it see records of
// company id (0: records under no company).
func (m *member) sees(companyID int) bool { return m == nil || !m.hides[companyID] }

func (m member) info() myMemberInfoRec {
	return myMemberInfoRec{ID: m.rec.ID, Identifier: m.rec.Identifier, FirstName: m.rec.FirstName, LastName: m.rec.LastName,
		FullName: strings.TrimSpace(m.rec.FirstName + " " + m.rec.LastName), DefaultEmail: m.rec.OfficeEmail,
		LicenseClass: m.rec.LicenseClass, InactiveFlag: m.rec.InactiveFlag, Info: info{}}
}

func memberFromPSA(m psa.Member, licenseClass string) (member, error) {
	id, err := refID(m.Ref)
	if err != nil {
		return member{}, err
	}
	first, last, _ := strings.Cut(strings.TrimSpace(m.Name), " ")
	return member{rec: memberRec{ID: id, Identifier: m.Identifier, FirstName: first, LastName: last,
		LicenseClass: licenseClass, OfficeEmail: m.Email, MobilePhone: m.Phone, DefaultEmail: "Office", DefaultPhone: "Office", Info: info{}}}, nil
}

func refID(ref string) (int, error) {
	n, err := strconv.ParseInt(ref, 10, 32)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("cwtest: ref %q is not a ConnectWise id (a positive 32-bit number)", ref)
	}
	return int(n), nil
}

func identifierOf(name string) string {
	var b strings.Builder
	for _, r := range name {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// companyID is the id of the contact's company; 0 for none.
func (c contactRec) companyID() int {
	if c.Company == nil {
		return 0
	}
	return c.Company.ID
}
