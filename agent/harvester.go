package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/countersign/countersign/agent/directory"
)

// The harvester: the agent in its server role, on a client's domain
// controller or member server. Each round it reads the directory (in full
// or from the last round's USN, agent/directory), uploads the result to
// the server and, only once the server has stored it, keeps the round's
// state for the next: a round that fails anywhere is redone from the same
// point, so no change is lost.

// DirectorySummary is the server's answer to an upload.
type DirectorySummary struct {
	Full    bool `json:"full"`
	Added   int  `json:"added"`
	Changed int  `json:"changed"`
	Removed int  `json:"removed"`
	Total   int  `json:"total"`
}

// UploadDirectory sends one sync's result to the server, which stores it
// for this device's own tenant and client.
func (c *Client) UploadDirectory(ctx context.Context, res *directory.Result) (DirectorySummary, error) {
	var sum DirectorySummary
	if res == nil {
		return sum, errors.New("agent: no directory result to upload")
	}
	if res.Users == nil {
		res.Users = []directory.User{}
	}
	err := c.do(ctx, http.MethodPost, "/agent/v1/directory", true, res, &sum)
	return sum, err
}

// Syncer reads a directory; *directory.Conn is one.
type Syncer interface {
	Sync(prev directory.State, now time.Time) (*directory.Result, error)
	Close() error
}

// StateStore keeps the harvester's sync state between rounds and restarts.
type StateStore interface {
	// Load returns the last stored state; the zero State when there is
	// none (the next sync is then a full one).
	Load() (directory.State, error)
	Save(directory.State) error
}

// Harvester runs sync rounds.
type Harvester struct {
	Client *Client
	// Dial connects to the directory for one round (directory.Dial with
	// the service account's Config).
	Dial  func() (Syncer, error)
	State StateStore
	// Every is the time between rounds; 0 means 15 minutes.
	Every time.Duration
	// DialWriter connects to the directory for one task (a reset or an
	// unlock, RunTasks); nil: the harvester does no tasks.
	DialWriter func() (DirectoryWriter, error)
	// PollWait is how long one task long-poll waits; 0 means 45 s.
	PollWait time.Duration
	Now      func() time.Time // nil: time.Now
	Logger   *slog.Logger     // nil: discard
}

func (h *Harvester) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Harvester) log() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Once runs one round: read, upload, and keep the state only after the
// server has stored the upload.
func (h *Harvester) Once(ctx context.Context) (DirectorySummary, error) {
	prev, err := h.State.Load()
	if err != nil {
		return DirectorySummary{}, fmt.Errorf("agent: load the harvester's state: %w", err)
	}
	conn, err := h.Dial()
	if err != nil {
		return DirectorySummary{}, err
	}
	res, err := conn.Sync(prev, h.now())
	_ = conn.Close()
	if err != nil {
		return DirectorySummary{}, err
	}
	sum, err := h.Client.UploadDirectory(ctx, res)
	if err != nil {
		return DirectorySummary{}, err
	}
	if err := h.State.Save(res.State); err != nil {
		// The server has the data; the next round repeats this one from
		// the old state, which the server takes as changes it already has.
		return sum, fmt.Errorf("agent: keep the harvester's state: %w", err)
	}
	return sum, nil
}

// Run does a round now and then every h.Every until ctx ends. A failed
// round is logged and retried sooner (a minute, doubling up to Every).
func (h *Harvester) Run(ctx context.Context) error {
	every := h.Every
	if every <= 0 {
		every = 15 * time.Minute
	}
	retry := time.Minute
	for {
		wait := every
		sum, err := h.Once(ctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			h.log().Error("directory sync failed; trying again", "err", err, "in", retry)
			wait, retry = min(retry, every), min(2*retry, every)
		default:
			retry = time.Minute
			h.log().Info("directory synced", "full", sum.Full, "added", sum.Added, "changed", sum.Changed,
				"removed", sum.Removed, "total", sum.Total)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// FileState keeps the harvester's state as JSON in a file (0600), written
// whole through a temporary file so a crash leaves the old state or the
// new, never half of one.
type FileState string

// Load implements StateStore.
func (f FileState) Load() (directory.State, error) {
	var s directory.State
	b, err := os.ReadFile(string(f))
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return directory.State{}, fmt.Errorf("agent: %s is not a harvester state (delete it for a full sync): %w", string(f), err)
	}
	return s, nil
}

// Save implements StateStore.
func (f FileState) Save(s directory.State) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp := string(f) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, string(f))
}
