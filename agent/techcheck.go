package agent

import (
	"errors"
	"strings"
	"sync"
	"time"
)

// "Verify my technician": the tray asks the server which of the MSP's
// technicians are working with this user now ("Who's calling me?"),
// shows them, and lets the user answer for one: it is them, or it is not
// the person on the phone — which alerts the MSP. CallingBox is the box's
// state and its words; agent/winagent draws it with Windows message boxes.

// The answers about a listed technician.
const (
	AnswerConfirm      = "confirm"
	AnswerNotThePerson = "not_the_person"
)

// Technician is a technician of the MSP working with the user now.
type Technician struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// TechCheck is the user's answer about a listed technician, as the tray
// sends it to the service. It names no user: the service takes the user
// from the pipe.
type TechCheck struct {
	TechnicianID string `json:"technician_id"`
	Answer       string `json:"answer"`
}

// Errors of the "Who's calling me?" box.
var (
	ErrNotListed   = errors.New("agent: that technician is not in the list; ask \"Who's calling me?\" again")
	ErrListStale   = errors.New("agent: the list of technicians is out of date; ask \"Who's calling me?\" again")
	ErrAnswered    = errors.New("agent: you have already answered for that technician")
	ErrNotAnAnswer = errors.New("agent: the answer is either \"it is them\" or \"not the person\"")
)

// listingLifetime is how long a "Who's calling me?" list may be answered:
// the server's idea of who is working with the user moves on.
const listingLifetime = 10 * time.Minute

// CallingBox holds the last "Who's calling me?" list the user was shown.
// An answer must name a technician of that list, within listingLifetime,
// once per technician per list. It is safe for concurrent use.
type CallingBox struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	list     []Technician
	at       time.Time
	answered map[string]bool
}

func (b *CallingBox) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// Show records list as the one the user sees now, replacing any other.
func (b *CallingBox) Show(list []Technician) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.list, b.at, b.answered = append([]Technician(nil), list...), b.now(), map[string]bool{}
}

// Answer checks the user's answer about the technician with id and
// returns what to send, marking it answered.
func (b *CallingBox) Answer(id, answer string) (TechCheck, Technician, error) {
	if answer != AnswerConfirm && answer != AnswerNotThePerson {
		return TechCheck{}, Technician{}, ErrNotAnAnswer
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var tech Technician
	for _, t := range b.list {
		if t.ID == id {
			tech = t
		}
	}
	switch {
	case tech.ID == "":
		return TechCheck{}, Technician{}, ErrNotListed
	case !b.now().Before(b.at.Add(listingLifetime)):
		return TechCheck{}, Technician{}, ErrListStale
	case b.answered[id]:
		return TechCheck{}, Technician{}, ErrAnswered
	}
	b.answered[id] = true
	return TechCheck{TechnicianID: id, Answer: answer}, tech, nil
}

// release makes an answer that did not reach the server answerable again.
func (b *CallingBox) release(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.answered, id)
}

// CallingTitle is the title of the box.
const CallingTitle = "Who's calling me?"

// CallingText is the box's text for a list: who is working with the user,
// or that no one is.
func CallingText(list []Technician) string {
	if len(list) == 0 {
		return "No technician of your IT provider is working with you right now. If someone on the phone says they are, " +
			"hang up and call your IT provider's usual number."
	}
	names := make([]string, len(list))
	for i, t := range list {
		names[i] = t.Name
	}
	return "Working with you now: " + strings.Join(names, ", ") + "."
}

// Question is what the box asks about one technician, with its two
// answers.
func Question(t Technician) string {
	return "Is " + t.Name + " the person on the phone with you?\n\n" +
		"Yes: it is " + t.Name + ".\n" +
		"No: it is not the person — your IT provider is alerted at once.\n" +
		"Cancel: do not answer."
}

// ResultText is what the box says once the server took an answer about
// t; ticket is the ticket it was noted on ("" for none).
func ResultText(answer string, t Technician, ticket string) string {
	noted := ""
	if ticket != "" {
		noted = " Your answer is noted on ticket " + ticket + "."
	}
	if answer == AnswerNotThePerson {
		return "Thank you. Your IT provider has been alerted." + noted + " Do not give the caller any information: hang up and call " +
			"your IT provider's usual number."
	}
	return "Thank you. " + t.Name + " is working with you." + noted
}
