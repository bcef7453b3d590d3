package web

import (
	"time"

	"github.com/countersign/countersign/core"
)

// The API's JSON shapes. Destinations are always masked: technicians pick a
// destination by id and never need the full value (security.md §8).

type technicianOut struct {
	ID       string `json:"id"`
	TenantID string `json:"tenant_id"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     string `json:"role"`
}

func technicianJSON(t core.Technician) technicianOut {
	return technicianOut{ID: t.ID, TenantID: t.TenantID, Email: t.Email, Name: t.Name, Role: string(t.Role)}
}

type destinationOut struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	Masked  string    `json:"masked"`
	Label   string    `json:"label,omitempty"`
	Default bool      `json:"default"`
	Source  string    `json:"source"`
	SetAt   time.Time `json:"set_at"`
	SetBy   string    `json:"set_by"`
}

type contactOut struct {
	ID           string           `json:"id"`
	ClientID     string           `json:"client_id"`
	FirstName    string           `json:"first_name"`
	LastName     string           `json:"last_name"`
	Title        string           `json:"title,omitempty"`
	Destinations []destinationOut `json:"destinations"`
	Shield       *shieldOut       `json:"shield,omitempty"`
}

func contactJSON(c core.Contact) contactOut {
	out := contactOut{ID: c.ID, ClientID: c.ClientID, FirstName: c.FirstName, LastName: c.LastName, Title: c.Title,
		Destinations: make([]destinationOut, 0, len(c.Destinations))}
	for _, d := range c.Destinations {
		out.Destinations = append(out.Destinations, destinationOut{ID: d.ID, Kind: string(d.Kind), Masked: d.Masked(),
			Label: d.Label, Default: d.IsDefault, Source: d.Source, SetAt: d.SetAt, SetBy: d.SetBy})
	}
	return out
}

type verificationOut struct {
	ID             string     `json:"id"`
	ContactID      string     `json:"contact_id"`
	Method         string     `json:"method"`
	Destination    string     `json:"destination"` // masked
	DestinationID  string     `json:"destination_id"`
	TicketRef      string     `json:"ticket_ref,omitempty"`
	TechnicianID   string     `json:"technician_id"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	MaxAttempts    int        `json:"max_attempts"`
	Sends          int        `json:"sends"`
	Note           string     `json:"note,omitempty"`
	Detail         string     `json:"detail,omitempty"`
	DeliveryStatus string     `json:"delivery_status,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	ExpiresAt      time.Time  `json:"expires_at"`
	CompletedAt    *time.Time `json:"completed_at,omitempty"`
	VerifiedUntil  *time.Time `json:"verified_until,omitempty"`
	// TechCode is the code the technician reads to the caller for a link
	// with a code; only in the response that issued it.
	TechCode string `json:"tech_code,omitempty"`
}

func verificationJSON(v core.Verification, now time.Time) verificationOut {
	out := verificationOut{ID: v.ID, ContactID: v.ContactID, Method: string(v.Method), Destination: v.MaskedDestination(),
		DestinationID: v.DestinationID, TicketRef: v.TicketRef, TechnicianID: v.TechnicianID,
		Status: string(v.EffectiveStatus(now)), Attempts: v.Attempts, MaxAttempts: v.MaxAttempts, Sends: v.Sends,
		Note: v.Note, Detail: v.Detail, DeliveryStatus: v.DeliveryStatus, CreatedAt: v.CreatedAt, ExpiresAt: v.ExpiresAt}
	if !v.CompletedAt.IsZero() {
		out.CompletedAt = &v.CompletedAt
	}
	if !v.VerifiedUntil.IsZero() {
		out.VerifiedUntil = &v.VerifiedUntil
	}
	return out
}

type shieldOut struct {
	State         string     `json:"state"`
	Method        string     `json:"method,omitempty"`
	TechnicianID  string     `json:"technician_id,omitempty"`
	At            *time.Time `json:"at,omitempty"`
	VerifiedUntil *time.Time `json:"verified_until,omitempty"`
}

func shieldJSON(sh core.Shield) *shieldOut {
	out := &shieldOut{State: string(sh.State)}
	if sh.Last.ID != "" {
		out.Method, out.TechnicianID = string(sh.Last.Method), sh.Last.TechnicianID
		if !sh.Last.CompletedAt.IsZero() {
			out.At = &sh.Last.CompletedAt
		}
		if sh.State == core.ShieldGreen {
			out.VerifiedUntil = &sh.Last.VerifiedUntil
		}
	}
	return out
}
