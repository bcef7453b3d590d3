package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/countersign/countersign/agent/directory"
)

// The harvester's directory tasks: a user who proved themselves on the
// self-serve page asked for a password reset or an unlock; the server
// queues it for this harvester, which does it over LDAPS with the service
// account and reports the result. The result's text is shown to the user,
// so it is one of a few fixed sentences, never an LDAP message (which
// could echo the password).

// Task kinds the harvester carries out.
const (
	TaskDirectoryReset  = "directory_reset"
	TaskDirectoryUnlock = "directory_unlock"
)

// DirectoryTask is the payload of a directory task.
type DirectoryTask struct {
	RequestID  string `json:"request_id"`
	GUID       string `json:"guid"`
	Account    string `json:"account"`
	Password   string `json:"password,omitempty"`
	MustChange bool   `json:"must_change,omitempty"`
}

// DirectoryWriter changes users in the directory; *directory.Conn is one.
type DirectoryWriter interface {
	ResetPassword(guid, password string, mustChange bool) error
	Unlock(guid string) error
	Close() error
}

// TaskResult reports what the harvester did with a directory task: ok, or
// the reason (shown to the user) it failed.
func (c *Client) TaskResult(ctx context.Context, taskID string, ok bool, reason string) error {
	return c.do(ctx, http.MethodPost, "/agent/v1/tasks/"+url.PathEscape(taskID)+"/result", true,
		map[string]any{"ok": ok, "error": reason}, nil)
}

// taskReason is the user-facing sentence for a directory error.
func taskReason(err error) string {
	switch {
	case errors.Is(err, directory.ErrPasswordPolicy):
		return "Your organisation's domain refused the new password: it may be too short, too simple or used before. Choose another one and try again."
	case errors.Is(err, directory.ErrNoSuchUser):
		return "Your account was not found in the part of the directory self-service looks after. Call your IT help desk."
	case errors.Is(err, directory.ErrInsufficientRights):
		return "Self-service is not allowed to change this account. Call your IT help desk."
	case errors.Is(err, directory.ErrUnreachable), errors.Is(err, directory.ErrCertificate):
		return "Your organisation's directory server could not be reached. Try again later or call your IT help desk."
	default:
		return "Your organisation's directory server could not do this. Call your IT help desk."
	}
}

// DoTask carries out one task from the long-poll and reports its result;
// kinds other than directory tasks are left alone (false). The error is
// the report's: the directory's own failure is the report's content.
func (h *Harvester) DoTask(ctx context.Context, t Task) (bool, error) {
	if t.Kind != TaskDirectoryReset && t.Kind != TaskDirectoryUnlock {
		return false, nil
	}
	var p DirectoryTask
	if err := json.Unmarshal(t.Payload, &p); err != nil || p.GUID == "" || (t.Kind == TaskDirectoryReset && p.Password == "") {
		h.log().Warn("agent: malformed directory task", "task", t.ID)
		return true, h.Client.TaskResult(ctx, t.ID, false, "The request could not be read. Call your IT help desk.")
	}
	err := h.write(t.Kind, p)
	if err != nil {
		// Never the password: the directory package redacts it from its
		// errors, and only the task id and the kind are logged with it.
		h.log().Error("directory task failed", "task", t.ID, "kind", t.Kind, "err", err)
		return true, h.Client.TaskResult(ctx, t.ID, false, taskReason(err))
	}
	h.log().Info("directory task done", "task", t.ID, "kind", t.Kind)
	return true, h.Client.TaskResult(ctx, t.ID, true, "")
}

// write does a task on a fresh connection. A reset also unlocks: AD keeps
// lockoutTime when unicodePwd changes, and the user asked to get in.
func (h *Harvester) write(kind string, p DirectoryTask) error {
	if h.DialWriter == nil {
		return errors.New("agent: this harvester cannot change the directory")
	}
	w, err := h.DialWriter()
	if err != nil {
		return err
	}
	defer w.Close()
	if kind == TaskDirectoryReset {
		if err := w.ResetPassword(p.GUID, p.Password, p.MustChange); err != nil {
			return err
		}
	}
	return w.Unlock(p.GUID)
}

// RunTasks long-polls the server for directory tasks and carries them out
// until ctx ends. A failed poll or report is logged and retried after a
// pause (doubling up to a minute); a task whose report failed is not done
// again (the server hands each task out once), and once its report is
// overdue the server fails it as of unknown outcome (core's
// DirectoryReportLease).
func (h *Harvester) RunTasks(ctx context.Context) error {
	wait := h.PollWait
	if wait <= 0 {
		wait = 45 * time.Second
	}
	pause := time.Second
	for {
		tasks, err := h.Client.Tasks(ctx, wait)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			h.log().Warn("harvester task poll failed; trying again", "err", err, "in", pause)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(pause):
			}
			pause = min(2*pause, time.Minute)
			continue
		}
		pause = time.Second
		for _, t := range tasks {
			handled, err := h.DoTask(ctx, t)
			if !handled {
				h.log().Warn("agent: a task the harvester does not do; update the agent", "kind", t.Kind)
			}
			if err != nil {
				h.log().Error("directory task result not reported", "task", t.ID, "err", err)
			}
		}
	}
}
