package assets

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
)

func sampleData() core.MessageData {
	return core.MessageData{
		TenantName:     "Acme IT Services",
		ContactName:    "Jane Doe",
		TechnicianName: "Sam Tech",
		TicketRef:      "4821",
		Code:           "482913",
		CodeSpoken:     "4, 8, 2, 9, 1, 3",
		Link:           "https://verify.example.com/l/AbCdEf0123456789",
		ExpiresMinutes: 5,
		Branding:       core.Branding{PrimaryColor: "#112233", SupportPhone: "+1 555 010 0100"},
	}
}

func TestRenderEveryMessage(t *testing.T) {
	m, err := NewMessages()
	require.NoError(t, err)
	d := sampleData()

	tests := []struct {
		name                string
		wantIn              string // the code or link the message exists to carry
		subject, text, html bool
		say                 bool
		sms                 bool
		maxLen              int
	}{
		{name: MessageSMSCode, wantIn: d.Code, text: true, sms: true, maxLen: 160},
		{name: MessageSMSLink, wantIn: d.Link, text: true, sms: true},
		{name: MessageEmailLink, wantIn: d.Link, subject: true, text: true, html: true},
		{name: MessageEmailCode, wantIn: d.Code, subject: true, text: true, html: true},
		{name: MessageVoiceCode, wantIn: d.CodeSpoken, say: true, text: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := m.Render(tc.name, d)
			require.NoError(t, err)

			assert.Equal(t, tc.subject, r.Subject != "", "subject")
			assert.Equal(t, tc.text, r.Text != "", "text")
			assert.Equal(t, tc.html, r.HTML != "", "html")
			assert.Equal(t, tc.say, len(r.Say) > 0, "say")

			assert.Contains(t, r.Text, tc.wantIn)
			assert.Contains(t, r.Text, d.TenantName, "says who it is from")
			assert.Contains(t, r.Text, "5 min", "says when it expires")
			assert.NotContains(t, r.Text, "{{")
			if tc.html {
				assert.Contains(t, r.HTML, tc.wantIn)
				assert.Contains(t, r.HTML, "#112233", "brand colour")
				assert.NotContains(t, r.HTML, "<img", "no remote resources")
				assert.NotContains(t, r.HTML, "<link", "no remote resources")
				assert.NotContains(t, r.HTML, "ZgotmplZ", "html/template rejected a value")
			}
			if tc.subject {
				assert.NotContains(t, r.Subject, d.Code, "codes stay out of subjects")
				assert.NotContains(t, r.Subject, d.Link, "links stay out of subjects")
			}
			if tc.sms {
				assert.True(t, IsGSM7(r.Text), "SMS must be GSM-7 only: %q", r.Text)
			}
			if tc.maxLen > 0 {
				assert.LessOrEqual(t, len([]rune(r.Text)), tc.maxLen, "%q", r.Text)
			}
			if tc.say {
				assert.Equal(t, 2, strings.Count(r.Text, d.CodeSpoken), "code read twice")
			}
		})
	}
}

func TestSMSCodeWarnsAgainstRelay(t *testing.T) {
	m, err := NewMessages()
	require.NoError(t, err)
	r, err := m.Render(MessageSMSCode, sampleData())
	require.NoError(t, err)
	assert.Contains(t, r.Text, "Read it only to our help desk on your call now")
	assert.Contains(t, r.Text, "Unexpected? Do not share it with anyone who calls you")
}

// TestMessagesFitBothDirections holds every message to wording that is
// true whether the caller rang the help desk or the technician rang the
// caller (issue 21 item 4): nothing assumes the caller "contacted us
// yourself", and each says what to do when it is unexpected; read-back
// codes warn against sharing with anyone who calls.
func TestMessagesFitBothDirections(t *testing.T) {
	m, err := NewMessages()
	require.NoError(t, err)
	for _, name := range MessageNames {
		if channelOf(name) == ChannelNote {
			continue // read by the MSP's staff in the PSA, not by the caller
		}
		r, err := m.Render(name, sampleData())
		require.NoError(t, err)
		all := strings.ToLower(r.Subject + "\n" + r.Text + "\n" + r.HTML)
		for _, wrong := range []string{"yourself", "you contacted", "unprompted"} {
			assert.NotContains(t, all, wrong, "%s assumes the caller rang the help desk", name)
		}
		if required[name] == "Link" {
			assert.Regexp(t, `(not on a call with us|unexpected).*ignore this`, all, "%s says what to do when unexpected", name)
		} else {
			assert.Regexp(t, `(unexpected|not expecting|did not expect).*do not share (it|this code) with anyone who calls you`, all,
				"%s warns against sharing the code", name)
		}
	}
}

func TestSMSLinkWording(t *testing.T) {
	m, err := NewMessages()
	require.NoError(t, err)
	r, err := m.Render(MessageSMSLink, sampleData())
	require.NoError(t, err)
	assert.Equal(t, "Acme IT Services: tap to confirm you are the person on the phone with our help desk about ticket 4821: "+
		"https://verify.example.com/l/AbCdEf0123456789 (expires in 5 min). Not on a call with us now? Do not tap; ignore this.", r.Text)
}

func TestSMSNonGSMTenantName(t *testing.T) {
	m, err := NewMessages()
	require.NoError(t, err)
	d := sampleData()
	d.TenantName = "Zoë’s IT – Ünïcode ☎"
	for _, name := range []string{MessageSMSCode, MessageSMSLink} {
		r, err := m.Render(name, d)
		require.NoError(t, err)
		assert.True(t, IsGSM7(r.Text), "%s: %q", name, r.Text)
	}
}

func TestRenderErrors(t *testing.T) {
	m, err := NewMessages()
	require.NoError(t, err)

	tests := []struct {
		name, tmpl string
		data       core.MessageData
	}{
		{name: "unknown template", tmpl: "carrier_pigeon", data: sampleData()},
		{name: "code message without code", tmpl: MessageSMSCode, data: core.MessageData{TenantName: "Acme"}},
		{name: "link message without link", tmpl: MessageEmailLink, data: core.MessageData{TenantName: "Acme"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Render(tc.tmpl, tc.data)
			require.Error(t, err)
			assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
		})
	}
}

func TestBrandColourIsSanitised(t *testing.T) {
	m, err := NewMessages()
	require.NoError(t, err)
	d := sampleData()
	d.Branding.PrimaryColor = "red;background:url(https://evil.example/x)"
	r, err := m.Render(MessageEmailLink, d)
	require.NoError(t, err)
	assert.NotContains(t, r.HTML, "evil.example")
	assert.Contains(t, r.HTML, DefaultPrimaryColor)
}

func TestHTMLEscapesData(t *testing.T) {
	m, err := NewMessages()
	require.NoError(t, err)
	d := sampleData()
	d.TenantName = `<script>alert(1)</script>`
	r, err := m.Render(MessageEmailCode, d)
	require.NoError(t, err)
	assert.NotContains(t, r.HTML, "<script>")
}

func TestSubjectIsOneLine(t *testing.T) {
	m, err := NewMessages()
	require.NoError(t, err)
	d := sampleData()
	d.TenantName = "Acme\r\nBcc: victim@example.com"
	r, err := m.Render(MessageEmailLink, d)
	require.NoError(t, err)
	assert.NotContains(t, r.Subject, "\n")
	assert.NotContains(t, r.Subject, "\r")
}

// TestEveryMessageFileIsParsed fails when messages/ holds a file that no
// entry of messageParts refers to: a template someone added but never wired up.
func TestEveryMessageFileIsParsed(t *testing.T) {
	want := map[string]bool{}
	for name, parts := range messageParts {
		for _, p := range parts {
			want[messageFile(name, p)] = true
		}
	}
	err := fs.WalkDir(messageFiles, "messages", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		assert.True(t, want[path], "%s is embedded but not parsed by NewMessages", path)
		return nil
	})
	require.NoError(t, err)
}

func TestMissingTemplateFailsNewMessages(t *testing.T) {
	fsys := fstest.MapFS{}
	for name, parts := range messageParts {
		for _, p := range parts {
			fsys[messageFile(name, p)] = &fstest.MapFile{Data: []byte("x")}
		}
	}
	_, err := newMessages(fsys)
	require.NoError(t, err, "complete set parses")

	delete(fsys, messageFile(MessageEmailLink, partHTML))
	_, err = newMessages(fsys)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "email_link.html.tmpl")

	fsys[messageFile(MessageEmailLink, partHTML)] = &fstest.MapFile{Data: []byte("{{.Nope")}
	_, err = newMessages(fsys)
	require.Error(t, err, "a parse error fails startup")
}

func TestGSM7(t *testing.T) {
	tests := []struct{ in, want string }{
		{in: "Acme IT", want: "Acme IT"},
		{in: "O’Brien – IT…", want: "O'Brien - IT..."},
		{in: "Zoë ☎", want: "Zo? ?"},
		{in: "Müller €", want: "Müller €"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got := GSM7(tc.in)
			assert.Equal(t, tc.want, got)
			assert.True(t, IsGSM7(got))
		})
	}
}
