package agent_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/countersign/countersign/agent"
	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/secret"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/countersign/countersign/core/web"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// server is a real Countersign server (engine, store, web) on loopback
// with one tenant, client, contact and admin technician.
type server struct {
	st      *store.Store
	eng     *core.Engine
	url     string
	tenant  core.Tenant
	client  core.Client
	contact core.Contact
	other   core.Contact
	tech    core.Technician
	key     string
}

func newServer(t *testing.T, st *store.Store) *server {
	t.Helper()
	ctx := t.Context()
	keys, err := secret.NewKeyring("k1", map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)})
	require.NoError(t, err)
	msgs, err := assets.NewMessages()
	require.NoError(t, err)
	s := &server{st: st}
	s.eng, err = core.NewEngine(core.Config{Store: st, Renderer: msgs, Sealer: keys, CodeKey: keys.Derive("code-hmac"),
		PublicURL: "http://127.0.0.1", DevDelivery: true, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(s.eng.Wait)
	now := s.eng.Now()
	s.tenant = core.Tenant{ID: core.NewID("ten"), Slug: "acme-" + core.NewID("x")[2:8], Name: "Acme IT", CreatedAt: now}
	s.client = core.Client{ID: core.NewID("cli"), TenantID: s.tenant.ID, Name: "Contoso", CreatedAt: now}
	s.tech = core.Technician{ID: core.NewID("tec"), TenantID: s.tenant.ID, Email: "jane@acme.example", Name: "Jane Tech",
		Role: core.RoleAdmin, PasswordHash: "x", CreatedAt: now}
	require.NoError(t, st.Update(ctx, func(tx core.Tx) error {
		if err := tx.CreateTenant(ctx, &s.tenant); err != nil {
			return err
		}
		if err := tx.CreateClient(ctx, &s.client); err != nil {
			return err
		}
		return tx.CreateTechnician(ctx, &s.tech)
	}))
	for i, name := range []string{"Sam", "Alex"} {
		c, err := s.eng.CreateContact(ctx, s.tenant.ID, "test", "manual", core.NewContact{ClientID: s.client.ID,
			FirstName: name, LastName: "Caller", Emails: []core.NewDestination{{Value: strings.ToLower(name) + "@contoso.example", Default: true}}})
		require.NoError(t, err)
		if i == 0 {
			s.contact = c
		} else {
			s.other = c
		}
	}
	s.key, err = s.eng.ActivationKey(ctx, s.tenant.ID, "test", s.client.ID)
	require.NoError(t, err)
	pages, err := assets.Pages(assets.TemplatesFS(), assets.StaticFS())
	require.NoError(t, err)
	h, err := web.New(web.Config{Engine: s.eng, Pages: pages, SessionKey: bytes.Repeat([]byte{9}, 32),
		PublicURL: "http://127.0.0.1", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	s.url = hs.URL
	return s
}

// memCreds is a CredentialStore in memory.
type memCreds struct {
	mu   sync.Mutex
	cred string
}

func (m *memCreds) Load() (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cred == "" {
		return "", agent.ErrNoCredential
	}
	return m.cred, nil
}

func (m *memCreds) Save(c string) error { m.mu.Lock(); defer m.mu.Unlock(); m.cred = c; return nil }

// machine reports a fixed machine with the given users logged on.
type machine struct{ users []agent.User }

func (m machine) Report(context.Context) (agent.Report, error) {
	return agent.Report{Name: "CONTOSO-PC7", OS: "Windows 11 Pro", Domain: "CONTOSO", Users: m.users}, nil
}

// recUI records what the tray shows.
type recUI struct {
	mu      sync.Mutex
	prompts []agent.Prompt
	closed  []string
	status  string
}

func (u *recUI) ShowPrompt(p agent.Prompt) {
	u.mu.Lock()
	u.prompts = append(u.prompts, p)
	u.mu.Unlock()
}
func (u *recUI) ClosePrompt(r string)  { u.mu.Lock(); u.closed = append(u.closed, r); u.mu.Unlock() }
func (u *recUI) SetStatus(l string)    { u.mu.Lock(); u.status = l; u.mu.Unlock() }
func (u *recUI) Notify(string, string) {}
func (u *recUI) shown() []agent.Prompt {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.prompts)
}

// syncLog is a log sink for the service.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *syncLog) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestServiceAndTray runs the agent's service against the real server and
// a tray over a real Unix socket: activation with the key, heartbeat, a
// prompt routed only to the tray of the right user (identity from
// SO_PEERCRED), the number picked in the tray verifying the contact, and a
// pipe message claiming another user's SID refused.
func TestServiceAndTray(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, st *store.Store) {
		srv := newServer(t, st)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		mySID := fmt.Sprintf("S-1-22-1-%d", os.Getuid())
		otherSID := "S-1-22-1-4242424"
		logs := &syncLog{}
		svc, err := agent.NewService(agent.ServiceConfig{ServerURL: srv.url, ActivationKey: srv.key, Credentials: &memCreds{},
			Machine: machine{users: []agent.User{{SID: mySID, Account: `CONTOSO\sam`, LoggedOn: true},
				{SID: otherSID, Account: `CONTOSO\alex`, LoggedOn: true}}},
			PollWait: 5 * time.Second, RetryAfter: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil))})
		require.NoError(t, err)
		sock := filepath.Join(t.TempDir(), "countersign.sock")
		ln, err := net.Listen("unix", sock)
		require.NoError(t, err)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); _ = svc.Run(ctx) }()
		go func() { defer wg.Done(); _ = svc.ServePipe(ctx, ln, agent.IdentifyUnix) }()
		t.Cleanup(func() { cancel(); wg.Wait() })

		var dev core.Device
		require.Eventually(t, func() bool {
			ds, err := srv.eng.Devices(ctx, srv.tenant.ID, srv.client.ID)
			if err != nil || len(ds) != 1 {
				return false
			}
			dev = ds[0]
			return true
		}, 20*time.Second, 20*time.Millisecond, "the service did not activate")
		require.Eventually(t, func() bool {
			_, users, err := srv.eng.DeviceDetail(ctx, srv.tenant.ID, dev.ID)
			return err == nil && len(users) == 2 && svc.Online()
		}, 20*time.Second, 20*time.Millisecond, "the service did not report its users")
		_, err = srv.eng.AssignUser(ctx, srv.tenant.ID, "test", dev.ID, mySID, srv.contact.ID)
		require.NoError(t, err)
		_, err = srv.eng.AssignUser(ctx, srv.tenant.ID, "test", dev.ID, otherSID, srv.other.ID)
		require.NoError(t, err)

		conn, err := net.DialTimeout("unix", sock, agent.DialTimeout)
		require.NoError(t, err)
		ui := &recUI{}
		tray := agent.NewTray(conn, ui)
		go func() { _ = tray.Run(ctx) }()
		st2, err := tray.Status(ctx)
		require.NoError(t, err)
		assert.True(t, st2.Bound)
		assert.Equal(t, "Bound as Sam Caller", ui.status)
		// The tray's menu entry asks for the one-time form of this user,
		// a page of this server.
		form, err := tray.TicketForm(ctx)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(form, "http://127.0.0.1/t/"), "the form is on the server's public URL: %s", form)
		login, err := tray.LoginForm(ctx)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(login, "http://127.0.0.1/t/"), login)
		assert.NotEqual(t, form, login, "each form is its own")

		// A prompt for the other user first, then one for us: we must see only ours.
		_, err = srv.eng.StartPrompt(ctx, core.PromptRequest{TenantID: srv.tenant.ID, TechnicianID: srv.tech.ID, ContactID: srv.other.ID})
		require.NoError(t, err)
		mine, err := srv.eng.StartPrompt(ctx, core.PromptRequest{TenantID: srv.tenant.ID, TechnicianID: srv.tech.ID, ContactID: srv.contact.ID})
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(ui.shown()) > 0 }, 20*time.Second, 10*time.Millisecond, "the prompt did not reach the tray")
		shown := ui.shown()
		require.Len(t, shown, 1, "only the prompt for this tray's user is shown")
		assert.Equal(t, mine.Verification.ID, shown[0].VerificationID)
		assert.Equal(t, "Jane Tech", shown[0].TechnicianName)
		assert.Equal(t, "Acme IT", shown[0].MSPName)

		_, err = tray.Pick(ctx, "not-a-choice")
		assert.ErrorIs(t, err, agent.ErrNotAChoice)
		res, err := tray.Pick(ctx, mine.TechCode)
		require.NoError(t, err)
		assert.Equal(t, "verified", res)
		v, err := srv.eng.Verification(ctx, srv.tenant.ID, mine.Verification.ID)
		require.NoError(t, err)
		assert.Equal(t, core.StatusVerified, v.Status)
		_, err = tray.Pick(ctx, mine.TechCode)
		assert.ErrorIs(t, err, agent.ErrNoPrompt, "a prompt is answered once")

		// A tray that claims to be the other user is refused and nothing changes.
		raw, err := net.DialTimeout("unix", sock, agent.DialTimeout)
		require.NoError(t, err)
		defer raw.Close()
		other, err := srv.eng.History(ctx, srv.tenant.ID, srv.other.ID)
		require.NoError(t, err)
		require.NotEmpty(t, other)
		require.NoError(t, agent.WriteMessage(raw, agent.Message{Type: agent.MsgAnswer, ID: "1", SID: otherSID,
			Answer: &agent.Answer{VerificationID: other[0].ID, NotMe: true}}))
		reply, err := agent.ReadMessage(raw)
		require.NoError(t, err)
		assert.Contains(t, reply.Error, "refused")
		assert.Contains(t, logs.String(), "claims another user's SID")
		// Without a SID field the service answers as the caller — who is not
		// the prompt's user, so the server refuses too.
		require.NoError(t, agent.WriteMessage(raw, agent.Message{Type: agent.MsgAnswer, ID: "2",
			Answer: &agent.Answer{VerificationID: other[0].ID, NotMe: true}}))
		reply, err = agent.ReadMessage(raw)
		require.NoError(t, err)
		assert.NotEmpty(t, reply.Error)
		after, err := srv.eng.Verification(ctx, srv.tenant.ID, other[0].ID)
		require.NoError(t, err)
		assert.True(t, after.Status.Open(), "the other user's prompt is untouched: %s", after.Status)
	})
}

// TestPromptBox walks the tray's prompt state machine.
func TestPromptBox(t *testing.T) {
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	b := &agent.PromptBox{Now: func() time.Time { return now }}
	p := agent.Prompt{VerificationID: "ver_1", Choices: []string{"12", "34", "56"}, ExpiresAt: now.Add(time.Minute)}
	_, err := b.Pick("12")
	assert.ErrorIs(t, err, agent.ErrNoPrompt)
	shown, err := b.Offer(p)
	require.NoError(t, err)
	assert.True(t, shown)
	shown, err = b.Offer(p)
	assert.NoError(t, err)
	assert.False(t, shown, "a redelivered prompt is shown once")
	_, err = b.Offer(agent.Prompt{VerificationID: "ver_2", Choices: []string{"1"}, ExpiresAt: now.Add(time.Minute)})
	assert.ErrorIs(t, err, agent.ErrPromptBusy, "one prompt at a time")
	_, err = b.Pick("99")
	assert.ErrorIs(t, err, agent.ErrNotAChoice)
	a, err := b.Pick("34")
	require.NoError(t, err)
	assert.Equal(t, agent.Answer{VerificationID: "ver_1", Choice: "34"}, a)
	_, err = b.NotMe()
	assert.ErrorIs(t, err, agent.ErrNoPrompt, "answered once")

	shown, err = b.Offer(agent.Prompt{VerificationID: "ver_3", Choices: []string{"1", "2", "3"}, ExpiresAt: now.Add(time.Minute)})
	require.NoError(t, err)
	assert.True(t, shown)
	now = now.Add(2 * time.Minute)
	_, err = b.NotMe()
	assert.ErrorIs(t, err, agent.ErrPromptExpired)
	_, ok := b.Current()
	assert.False(t, ok)
	_, err = b.Offer(agent.Prompt{VerificationID: "ver_4", Choices: []string{"1"}, ExpiresAt: now.Add(-time.Second)})
	assert.ErrorIs(t, err, agent.ErrPromptExpired)
}

// TestPipeFraming checks the size cap and round trip of messages.
func TestPipeFraming(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, agent.WriteMessage(&buf, agent.Message{Type: agent.MsgStatus, ID: "7"}))
	m, err := agent.ReadMessage(&buf)
	require.NoError(t, err)
	assert.Equal(t, "7", m.ID)
	assert.ErrorIs(t, agent.WriteMessage(&buf, agent.Message{Type: "x", Text: strings.Repeat("a", agent.MaxMessage)}), agent.ErrMessageTooLarge)
	_, err = agent.ReadMessage(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff}))
	assert.ErrorIs(t, err, agent.ErrMessageTooLarge)
	_, err = agent.ReadMessage(bytes.NewReader([]byte{0, 0, 0, 2, '{', 'x'}))
	assert.Error(t, err)
}

// TestTicketFormURLChecked: the tray passes the form's URL to the Windows
// shell, so an answer that is not a web page of the form's shape — a file,
// another protocol, credentials in the URL, plain http to an https server —
// is refused rather than opened.
func TestTicketFormURLChecked(t *testing.T) {
	answer := ""
	fake := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"url": %q}`, answer)
	}))
	defer fake.Close()
	c := &agent.Client{ServerURL: fake.URL, Credential: "dev_x.secret", HTTP: fake.Client()}
	for _, bad := range []string{"file:///C:/Windows/System32/calc.exe", `\\evil\share\run.exe`, "ms-settings:privacy",
		"https://user:pw@cs.example/t/abc", "http://cs.example/t/abc", "https://cs.example/l/acme/abc", "javascript:alert(1)"} {
		answer = bad
		_, err := c.TicketForm(t.Context(), "S-1-5-21-1-2-3-1001")
		assert.Error(t, err, "%q must not be opened", bad)
	}
	answer = "https://cs.example/t/Zm9vYmFy"
	got, err := c.TicketForm(t.Context(), "S-1-5-21-1-2-3-1001")
	require.NoError(t, err)
	assert.Equal(t, answer, got)
}
