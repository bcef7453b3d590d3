package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrUnauthorized is returned when the server does not accept the device
// credential (unknown or revoked device) or the activation key.
var ErrUnauthorized = errors.New("agent: the server refused the device's credential or activation key")

// APIError is a refusal from the server other than 401, with its message.
type APIError struct {
	Status  int
	Kind    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("agent: server answered %d (%s): %s", e.Status, e.Kind, e.Message)
}

// User is a Windows account as the agent reports it.
type User struct {
	SID         string `json:"sid"`
	Account     string `json:"account"`
	UPN         string `json:"upn,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	Local       bool   `json:"local"`
	LoggedOn    bool   `json:"logged_on"`
}

// Report is what the agent says about the machine.
type Report struct {
	Name         string `json:"name"`
	OS           string `json:"os"`
	Domain       string `json:"domain"`
	AgentVersion string `json:"agent_version"`
	Users        []User `json:"users"`
}

// Task is work from the server's long-poll.
type Task struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind"` // "prompt" or "notify"
	SID       string          `json:"sid,omitempty"`
	Payload   json.RawMessage `json:"payload"`
	ExpiresAt time.Time       `json:"expires_at"`
}

// Prompt is a workstation prompt's payload: what the tray shows.
type Prompt struct {
	VerificationID string    `json:"verification_id"`
	TechnicianName string    `json:"technician_name"`
	MSPName        string    `json:"msp_name"`
	TicketRef      string    `json:"ticket_ref,omitempty"`
	Choices        []string  `json:"choices"`
	ExpiresAt      time.Time `json:"expires_at"`
}

// Binding is whether a user is bound to a PSA contact.
type Binding struct {
	Bound   bool   `json:"bound"`
	How     string `json:"how,omitempty"`
	Contact struct {
		Name string `json:"name"`
	} `json:"contact"`
}

// Client calls the server's agent API. The zero value is not usable; set
// ServerURL.
type Client struct {
	// ServerURL is the server's public base URL, e.g. https://verify.msp.example.
	ServerURL string
	// Credential is the device credential; "" before activation.
	Credential string
	// HTTP is the client to use; nil means one with a 90 s timeout (longer
	// than the longest long-poll).
	HTTP *http.Client
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 90 * time.Second}
}

// Activate exchanges the client's activation key for a device credential,
// which it also stores in c.
func (c *Client) Activate(ctx context.Context, key string, rep Report) (deviceID, credential string, err error) {
	var out struct {
		DeviceID   string `json:"device_id"`
		Credential string `json:"credential"`
	}
	err = c.do(ctx, http.MethodPost, "/agent/v1/activate", false, map[string]any{"activation_key": key, "device": rep}, &out)
	if err != nil {
		return "", "", err
	}
	c.Credential = out.Credential
	return out.DeviceID, out.Credential, nil
}

// Heartbeat reports the machine and its users.
func (c *Client) Heartbeat(ctx context.Context, rep Report) error {
	return c.do(ctx, http.MethodPost, "/agent/v1/heartbeat", true, rep, nil)
}

// Tasks long-polls for tasks, waiting up to wait on the server.
func (c *Client) Tasks(ctx context.Context, wait time.Duration) ([]Task, error) {
	var out struct {
		Tasks []Task `json:"tasks"`
	}
	err := c.do(ctx, http.MethodGet, "/agent/v1/tasks?wait="+strconv.Itoa(int(wait/time.Second)), true, nil, &out)
	return out.Tasks, err
}

// Answer relays a user's answer to a prompt. sid is the identity the
// service took from the tray's pipe connection.
func (c *Client) Answer(ctx context.Context, verificationID, sid, choice string, notMe bool) (status string, err error) {
	var out struct {
		Status string `json:"status"`
	}
	err = c.do(ctx, http.MethodPost, "/agent/v1/prompts/"+url.PathEscape(verificationID)+"/answer", true,
		map[string]any{"sid": sid, "choice": choice, "not_me": notMe}, &out)
	return out.Status, err
}

// Binding asks whether the user with sid is bound, and to whom.
func (c *Client) Binding(ctx context.Context, sid string) (Binding, error) {
	var b Binding
	err := c.do(ctx, http.MethodGet, "/agent/v1/users/"+url.PathEscape(sid), true, nil, &b)
	return b, err
}

// Technicians answers "Who's calling me?": the MSP's technicians working
// with the user now.
func (c *Client) Technicians(ctx context.Context, sid string) ([]Technician, error) {
	var out struct {
		Technicians []Technician `json:"technicians"`
	}
	if err := c.do(ctx, http.MethodGet, "/agent/v1/users/"+url.PathEscape(sid)+"/technicians", true, nil, &out); err != nil {
		return nil, err
	}
	return out.Technicians, nil
}

// TechCheckResult is what the server did with an answer.
type TechCheckResult struct {
	Answer     string     `json:"answer"`
	Technician Technician `json:"technician"`
	Ticket     string     `json:"ticket"` // the ticket the answer was noted on; "" for none
	Alerted    bool       `json:"alerted"`
}

// CheckTechnician relays the answer of the user with sid about a listed
// technician. sid is the identity the service took from the tray's pipe
// connection.
func (c *Client) CheckTechnician(ctx context.Context, sid string, tc TechCheck) (TechCheckResult, error) {
	var out TechCheckResult
	err := c.do(ctx, http.MethodPost, "/agent/v1/users/"+url.PathEscape(sid)+"/tech-checks", true, tc, &out)
	return out, err
}

// TicketForm asks for the one-time "Log a ticket" page for the user with
// sid; the tray opens its URL in the user's browser.
func (c *Client) TicketForm(ctx context.Context, sid string) (string, error) {
	return c.trayForm(ctx, sid, "ticket-form")
}

// LoginForm asks for the one-time "Login / Register" page for the user
// with sid.
func (c *Client) LoginForm(ctx context.Context, sid string) (string, error) {
	return c.trayForm(ctx, sid, "login-form")
}

func (c *Client) trayForm(ctx context.Context, sid, which string) (string, error) {
	var out struct {
		URL string `json:"url"`
	}
	if err := c.do(ctx, http.MethodPost, "/agent/v1/users/"+url.PathEscape(sid)+"/"+which, true, nil, &out); err != nil {
		return "", err
	}
	// The tray hands the URL to the shell, which would also run a file or
	// another protocol's handler: only a web page of the form's shape is
	// opened (http only when the server itself is reached over http).
	u, err := url.Parse(out.URL)
	if err != nil || u.User != nil || u.Host == "" || !strings.HasPrefix(u.Path, "/t/") ||
		(u.Scheme != "https" && !(u.Scheme == "http" && strings.HasPrefix(c.ServerURL, "http://"))) {
		return "", fmt.Errorf("agent: the server answered a form address the tray will not open: %q", out.URL)
	}
	return u.String(), nil
}

// maxResponse caps what the agent reads from the server.
const maxResponse = 1 << 20

func (c *Client) do(ctx context.Context, method, path string, auth bool, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("agent: encode %s: %w", path, err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.ServerURL, "/")+path, body)
	if err != nil {
		return fmt.Errorf("agent: %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		if c.Credential == "" {
			return ErrUnauthorized
		}
		req.Header.Set("Authorization", "Bearer "+c.Credential)
	}
	req.Header.Set("User-Agent", "countersign-agent/"+Version)
	res, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("agent: %s %s: %w", method, redact(path), err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("agent: read %s: %w", redact(path), err)
	}
	switch {
	case res.StatusCode == http.StatusUnauthorized:
		return ErrUnauthorized
	case res.StatusCode >= 300:
		var e struct {
			Error string `json:"error"`
			Kind  string `json:"kind"`
		}
		_ = json.Unmarshal(raw, &e)
		return &APIError{Status: res.StatusCode, Kind: e.Kind, Message: e.Error}
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("agent: decode %s: %w", redact(path), err)
		}
	}
	return nil
}

func redact(path string) string { p, _, _ := strings.Cut(path, "?"); return p }

// Version is the agent's version, set at build time with
// -ldflags "-X github.com/countersign/countersign/agent.Version=1.2.3".
var Version = "0.0.0-dev"
