package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// UI is what the tray shows; agent/windows draws it with fyne.io/systray and
// Windows dialogs, tests record it.
type UI interface {
	// ShowPrompt shows a prompt: the technician's name and MSP, the three
	// numbers and "This is not me". The user's choice comes back through
	// Tray.Pick or Tray.NotMe.
	ShowPrompt(p Prompt)
	// ClosePrompt removes the prompt with a short result text.
	ClosePrompt(result string)
	SetStatus(line string)
	Notify(title, text string)
}

// Tray is the per-user side of the pipe: it shows prompts the service
// pushes and sends the user's requests. It holds no credential and names
// no user: the service knows who it is from the connection.
type Tray struct {
	conn net.Conn
	ui   UI
	Box  PromptBox
	// Calling is the "Who's calling me?" box.
	Calling CallingBox

	wmu     sync.Mutex
	mu      sync.Mutex
	next    int
	replies map[string]chan Message
}

// NewTray returns a tray speaking over conn.
func NewTray(conn net.Conn, ui UI) *Tray {
	return &Tray{conn: conn, ui: ui, replies: map[string]chan Message{}}
}

// Run reads messages from the service until the connection ends.
func (t *Tray) Run(ctx context.Context) error {
	go func() { <-ctx.Done(); t.conn.Close() }()
	for {
		m, err := ReadMessage(t.conn)
		if err != nil {
			t.failPending()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("agent: tray connection: %w", err)
		}
		if m.ID != "" {
			t.mu.Lock()
			ch := t.replies[m.ID]
			delete(t.replies, m.ID)
			t.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		switch m.Type {
		case MsgPrompt:
			if m.Prompt == nil {
				continue
			}
			if shown, err := t.Box.Offer(*m.Prompt); shown {
				t.ui.ShowPrompt(*m.Prompt)
			} else if err != nil && !errors.Is(err, ErrPromptBusy) {
				t.ui.Notify("Countersign", "A verification prompt arrived too late to answer.")
			}
		case MsgNotify:
			t.ui.Notify(m.Title, m.Text)
		}
	}
}

func (t *Tray) failPending() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, ch := range t.replies {
		close(ch)
		delete(t.replies, id)
	}
}

// request sends m and waits for its reply.
func (t *Tray) request(ctx context.Context, m Message) (Message, error) {
	t.mu.Lock()
	t.next++
	m.ID = strconv.Itoa(t.next)
	ch := make(chan Message, 1)
	t.replies[m.ID] = ch
	t.mu.Unlock()
	t.wmu.Lock()
	err := WriteMessage(t.conn, m)
	t.wmu.Unlock()
	if err != nil {
		return Message{}, fmt.Errorf("agent: send to service: %w", err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return Message{}, errors.New("agent: the Countersign service closed the connection")
		}
		if r.Error != "" {
			return r, errors.New(r.Error)
		}
		return r, nil
	case <-ctx.Done():
		t.mu.Lock()
		delete(t.replies, m.ID)
		t.mu.Unlock()
		return Message{}, ctx.Err()
	}
}

// Status asks for the status line and shows it.
func (t *Tray) Status(ctx context.Context) (Status, error) {
	r, err := t.request(ctx, Message{Type: MsgStatus})
	if err != nil {
		return Status{}, err
	}
	st := Status{}
	if r.Status != nil {
		st = *r.Status
	}
	t.ui.SetStatus(st.Line())
	return st, nil
}

// Pick answers the showing prompt with a number.
func (t *Tray) Pick(ctx context.Context, choice string) (string, error) {
	a, err := t.Box.Pick(choice)
	if err != nil {
		return "", err
	}
	return t.send(ctx, a)
}

// NotMe answers the showing prompt with "This is not me".
func (t *Tray) NotMe(ctx context.Context) (string, error) {
	a, err := t.Box.NotMe()
	if err != nil {
		return "", err
	}
	return t.send(ctx, a)
}

func (t *Tray) send(ctx context.Context, a Answer) (string, error) {
	r, err := t.request(ctx, Message{Type: MsgAnswer, Answer: &a})
	switch {
	case err != nil:
		t.ui.ClosePrompt("Not verified: " + err.Error())
		return "", err
	case a.NotMe:
		t.ui.ClosePrompt("Thank you. Your MSP has been alerted; do not give the caller any information.")
	default:
		t.ui.ClosePrompt("Verified. You can continue with the technician.")
	}
	return r.Text, nil
}

// Technicians answers "Verify my technician": the technicians working
// with the user now, which the user may then answer for (CheckTechnician),
// or a text to show instead (the user is not bound yet).
func (t *Tray) Technicians(ctx context.Context) ([]Technician, string, error) {
	r, err := t.request(ctx, Message{Type: MsgTechnicians})
	if err != nil {
		return nil, "", err
	}
	if r.Text != "" {
		t.Calling.Show(nil)
		return nil, r.Text, nil
	}
	t.Calling.Show(r.Technicians)
	return r.Technicians, "", nil
}

// CheckTechnician sends the user's answer (AnswerConfirm or
// AnswerNotThePerson) about the listed technician with id, and returns
// the text to show. An answer the server did not take can be given again.
func (t *Tray) CheckTechnician(ctx context.Context, id, answer string) (string, error) {
	tc, tech, err := t.Calling.Answer(id, answer)
	if err != nil {
		return "", err
	}
	r, err := t.request(ctx, Message{Type: MsgTechCheck, TechCheck: &tc})
	if err != nil {
		t.Calling.release(id)
		return "", err
	}
	return ResultText(answer, tech, r.Text), nil
}

// TicketForm asks for the "Log a ticket" page of this tray's user and
// returns its URL, for the UI to open in the browser.
func (t *Tray) TicketForm(ctx context.Context) (string, error) {
	return t.form(ctx, MsgTicketForm)
}

// LoginForm asks for the "Login / Register" page of this tray's user.
func (t *Tray) LoginForm(ctx context.Context) (string, error) {
	return t.form(ctx, MsgLoginForm)
}

func (t *Tray) form(ctx context.Context, typ string) (string, error) {
	r, err := t.request(ctx, Message{Type: typ})
	if err != nil {
		return "", err
	}
	return r.Text, nil
}

// DialTimeout is how long a tray waits for the service's pipe.
const DialTimeout = 2 * time.Second
