package agent

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
)

// The service ↔ tray protocol: each message is a 4-byte big-endian length
// followed by that many bytes of JSON (one Message). Messages are capped at
// MaxMessage bytes; a longer one ends the connection.

// MaxMessage is the largest message either side accepts.
const MaxMessage = 64 << 10

// Message types.
const (
	// Tray → service.
	MsgStatus      = "status"      // ask for the status line; reply MsgStatus
	MsgAnswer      = "answer"      // answer a prompt (Answer); reply MsgResult
	MsgTechnicians = "technicians" // "Who's calling me?"; reply MsgTechnicians
	MsgTechCheck   = "tech_check"  // answer for a listed technician (TechCheck); reply MsgResult, the ticket noted in Text
	MsgTicketForm  = "ticket_form" // "Log a ticket": reply MsgResult with the form's URL in Text
	MsgLoginForm   = "login_form"  // "Login / Register": reply MsgResult with the form's URL in Text
	// Service → tray.
	MsgPrompt = "prompt" // show Prompt
	MsgNotify = "notify" // show Title/Text
	MsgResult = "result" // outcome of a request (Text, or Error)
)

// Message is one protocol message. Requests carry an ID that the reply
// repeats. SID must be empty or the caller's own SID: the service knows
// who is calling from the connection and refuses a message that claims to
// be someone else.
type Message struct {
	Type        string       `json:"type"`
	ID          string       `json:"id,omitempty"`
	SID         string       `json:"sid,omitempty"`
	Prompt      *Prompt      `json:"prompt,omitempty"`
	Answer      *Answer      `json:"answer,omitempty"`
	Status      *Status      `json:"status,omitempty"`
	Technicians []Technician `json:"technicians,omitempty"`
	TechCheck   *TechCheck   `json:"tech_check,omitempty"`
	Title       string       `json:"title,omitempty"`
	Text        string       `json:"text,omitempty"`
	Error       string       `json:"error,omitempty"`
}

// Answer is a user's answer to a prompt.
type Answer struct {
	VerificationID string `json:"verification_id"`
	Choice         string `json:"choice,omitempty"`
	NotMe          bool   `json:"not_me,omitempty"`
}

// Status is the tray's status line.
type Status struct {
	Online      bool   `json:"online"` // the service reaches the server
	Bound       bool   `json:"bound"`
	ContactName string `json:"contact_name,omitempty"`
}

// Line is the status line the tray shows.
func (s Status) Line() string {
	switch {
	case !s.Online:
		return "Countersign: offline"
	case s.Bound:
		return "Bound as " + s.ContactName
	}
	return "Not bound — use Login / Register or log a ticket"
}

// ErrMessageTooLarge is returned for a frame over MaxMessage.
var ErrMessageTooLarge = errors.New("agent: pipe message too large")

// WriteMessage writes one framed message.
func WriteMessage(w io.Writer, m Message) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("agent: encode message: %w", err)
	}
	if len(raw) > MaxMessage {
		return ErrMessageTooLarge
	}
	buf := make([]byte, 4+len(raw))
	binary.BigEndian.PutUint32(buf, uint32(len(raw)))
	copy(buf[4:], raw)
	_, err = w.Write(buf)
	return err
}

// ReadMessage reads one framed message.
func ReadMessage(r io.Reader) (Message, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Message{}, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxMessage {
		return Message{}, ErrMessageTooLarge
	}
	raw := make([]byte, n)
	if _, err := io.ReadFull(r, raw); err != nil {
		return Message{}, fmt.Errorf("agent: read message: %w", err)
	}
	var m Message
	if err := json.Unmarshal(raw, &m); err != nil {
		return Message{}, fmt.Errorf("agent: decode message: %w", err)
	}
	return m, nil
}

// Peer is who is on the other end of a pipe connection, as the operating
// system says — never as the peer says.
type Peer struct {
	SID     string
	Session uint32 // Windows session id; 0 where there is none
	PID     int
}

// Identify returns the operating system's idea of who opened conn.
// agent/windows implements it from the named pipe's client process token;
// IdentifyUnix does it from SO_PEERCRED.
type Identify func(conn net.Conn) (Peer, error)
