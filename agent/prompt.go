package agent

import (
	"errors"
	"slices"
	"sync"
	"time"
)

// Errors of the prompt state machine.
var (
	ErrNoPrompt      = errors.New("agent: no prompt is waiting for an answer")
	ErrPromptExpired = errors.New("agent: the prompt has expired; ask the technician to send a new one")
	ErrPromptBusy    = errors.New("agent: another prompt is already showing")
	ErrNotAChoice    = errors.New("agent: that number is not one of the choices")
)

// PromptBox is the tray's prompt state machine: at most one prompt shows
// at a time; it is answered once (a pick among its choices, or "This is
// not me") or it expires.
//
//	empty → showing → answered | expired → (next Offer) showing …
//
// It is safe for concurrent use (UI callbacks and the pipe reader).
type PromptBox struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	cur      Prompt
	has      bool
	answered bool
}

func (b *PromptBox) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// active reports whether a prompt is showing and can still be answered.
func (b *PromptBox) active() bool {
	return b.has && !b.answered && b.now().Before(b.cur.ExpiresAt)
}

// Offer shows p unless another prompt is still showing. The same prompt
// offered twice (a redelivery) is accepted once and then ignored.
func (b *PromptBox) Offer(p Prompt) (shown bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.has && b.cur.VerificationID == p.VerificationID {
		return false, nil
	}
	if b.active() {
		return false, ErrPromptBusy
	}
	if !b.now().Before(p.ExpiresAt) {
		return false, ErrPromptExpired
	}
	if len(p.Choices) == 0 {
		return false, ErrNotAChoice
	}
	b.cur, b.has, b.answered = p, true, false
	return true, nil
}

// Current returns the prompt showing now, if any.
func (b *PromptBox) Current() (Prompt, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur, b.active()
}

// Pick answers the showing prompt with one of its choices.
func (b *PromptBox) Pick(choice string) (Answer, error) { return b.answer(choice, false) }

// NotMe answers the showing prompt with "This is not me".
func (b *PromptBox) NotMe() (Answer, error) { return b.answer("", true) }

func (b *PromptBox) answer(choice string, notMe bool) (Answer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case !b.has || b.answered:
		return Answer{}, ErrNoPrompt
	case !b.now().Before(b.cur.ExpiresAt):
		return Answer{}, ErrPromptExpired
	case !notMe && !slices.Contains(b.cur.Choices, choice):
		return Answer{}, ErrNotAChoice
	}
	b.answered = true
	return Answer{VerificationID: b.cur.VerificationID, Choice: choice, NotMe: notMe}, nil
}
