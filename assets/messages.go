package assets

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	texttemplate "text/template"

	"github.com/countersign/countersign/core"
)

//go:embed messages
var messageFiles embed.FS

// Message template names, one per verification method. They equal the
// core Method values the engine passes to [Messages.Render].
const (
	MessageSMSCode   = "sms_code"
	MessageSMSLink   = "sms_link"
	MessageEmailLink = "email_link"
	MessageEmailCode = "email_code"
	MessageVoiceCode = "voice_code"

	// SMS opt-in forms (core.MessageSMSOptIn, …): the form by text or
	// e-mail, and the note on the PSA contact that one was sent.
	MessageSMSOptIn   = core.MessageSMSOptIn
	MessageEmailOptIn = core.MessageEmailOptIn
	MessageNoteOptIn  = core.MessageNoteOptIn
)

// part is one rendered field of a message; the file suffix names it, e.g.
// messages/email_link.subject.tmpl fills Rendered.Subject.
type part string

const (
	partSubject part = "subject" // text/template, one line
	partText    part = "txt"     // text/template
	partHTML    part = "html"    // html/template, so data is escaped
	partSay     part = "say"     // text/template, one voice phrase per line
)

// messageParts lists every template file the renderer needs. It is the one
// place that ties names to files: NewMessages fails if a listed file is
// missing, and a test fails if messages/ holds a file not listed here.
var messageParts = map[string][]part{
	MessageSMSCode:   {partText},
	MessageSMSLink:   {partText},
	MessageEmailLink: {partSubject, partText, partHTML},
	MessageEmailCode: {partSubject, partText, partHTML},
	MessageVoiceCode: {partSay},

	MessageSMSOptIn:   {partText},
	MessageEmailOptIn: {partSubject, partText, partHTML},
	MessageNoteOptIn:  {partText},
	// Password-expiry and lock-out notices (core/notices.go). Their
	// emails have no HTML file: the plain text goes into the branded
	// frame of the tenants' own emails (emailLayout).
	core.MessageNoticeExpiringEmail: {partSubject, partText},
	core.MessageNoticeExpiringSMS:   {partText},
	core.MessageNoticeTodayEmail:    {partSubject, partText},
	core.MessageNoticeTodaySMS:      {partText},
	core.MessageNoticeLockedEmail:   {partSubject, partText},
	core.MessageNoticeLockedSMS:     {partText},
}

// required names the MessageData field a message cannot do without: a code
// message with no code would tell the user to read out nothing.
var required = map[string]string{
	MessageSMSCode:   "Code",
	MessageSMSLink:   "Link",
	MessageEmailLink: "Link",
	MessageEmailCode: "Code",
	MessageVoiceCode: "CodeSpoken",

	MessageSMSOptIn:   "Link",
	MessageEmailOptIn: "Link",
	// A notice that does not say which account is of no use to someone
	// with two.
	core.MessageNoticeExpiringEmail: "Account",
	core.MessageNoticeExpiringSMS:   "Account",
	core.MessageNoticeTodayEmail:    "Account",
	core.MessageNoticeTodaySMS:      "Account",
	core.MessageNoticeLockedEmail:   "Account",
	core.MessageNoticeLockedSMS:     "Account",
}

// secretField reports whether a message's required field is a secret (a
// code, a link) that must stay out of email subjects, which mail clients
// show in notifications on locked screens.
func secretField(field string) bool {
	return field == "Code" || field == "Link" || field == "CodeSpoken"
}

// renderer executes one parsed template; text and HTML templates share it.
type renderer interface {
	Execute(w *bytes.Buffer, d core.MessageData) error
}

type textTmpl struct{ t *texttemplate.Template }

func (r textTmpl) Execute(w *bytes.Buffer, d core.MessageData) error { return r.t.Execute(w, d) }

type htmlTmpl struct{ t *htmltemplate.Template }

func (r htmlTmpl) Execute(w *bytes.Buffer, d core.MessageData) error { return r.t.Execute(w, d) }

// Messages renders the end-user messages (SMS, email, voice) from templates
// embedded in the binary. It is safe for concurrent use.
type Messages struct {
	tmpl map[string]map[part]renderer
}

// Interface guard: the engine renders through core.Renderer.
var _ core.Renderer = (*Messages)(nil)

// NewMessages parses every message template. Call it once at startup so a
// broken template stops the server instead of failing a verification.
func NewMessages() (*Messages, error) {
	return newMessages(messageFiles)
}

func newMessages(fsys fs.FS) (*Messages, error) {
	m := &Messages{tmpl: make(map[string]map[part]renderer, len(messageParts))}
	for name, parts := range messageParts {
		m.tmpl[name] = make(map[part]renderer, len(parts))
		for _, p := range parts {
			file := messageFile(name, p)
			src, err := fs.ReadFile(fsys, file)
			if err != nil {
				return nil, fmt.Errorf("assets: read message template %s: %w", file, err)
			}
			var r renderer
			if p == partHTML {
				t, err := htmltemplate.New(file).Funcs(htmltemplate.FuncMap(messageFuncs)).Parse(string(src))
				if err != nil {
					return nil, fmt.Errorf("assets: parse message template: %w", err)
				}
				r = htmlTmpl{t}
			} else {
				t, err := texttemplate.New(file).Funcs(messageFuncs).Parse(string(src))
				if err != nil {
					return nil, fmt.Errorf("assets: parse message template: %w", err)
				}
				r = textTmpl{t}
			}
			m.tmpl[name][p] = r
		}
	}
	return m, nil
}

// messageFile returns the path of a template inside the embedded tree.
func messageFile(name string, p part) string {
	return "messages/" + name + "." + string(p) + ".tmpl"
}

// Render renders the message name ("sms_code", "email_link", …) for d. An
// unknown name, or data missing the code or link the message exists to
// carry, is a core.KindInvalid error.
//
// When d.Branding holds the tenant's own template for name, that wording is
// used; should it fail to render (it was checked when saved, so only data
// could make it fail), the built-in wording is sent instead.
func (m *Messages) Render(name string, d core.MessageData) (core.Rendered, error) {
	return m.render(name, d, false)
}

// render is Render; strict returns a tenant template's error instead of
// falling back, for the template editor's preview.
func (m *Messages) render(name string, d core.MessageData, strict bool) (core.Rendered, error) {
	parts, ok := m.tmpl[name]
	if !ok {
		return core.Rendered{}, core.Errorf(core.KindInvalid, "unknown message template %q", name)
	}
	if f := required[name]; f != "" && requiredValue(d, f) == "" {
		return core.Rendered{}, core.Errorf(core.KindInvalid, "message %s needs a %s", name, f)
	}
	var out core.Rendered
	var buf bytes.Buffer
	for p, r := range parts {
		buf.Reset()
		if err := r.Execute(&buf, d); err != nil {
			return core.Rendered{}, fmt.Errorf("assets: render message %s.%s: %w", name, p, err)
		}
		s := buf.String()
		switch p {
		case partSubject:
			// Header injection guard: a subject is one line whatever the data holds.
			out.Subject = strings.Join(strings.Fields(s), " ")
		case partText:
			out.Text = strings.TrimSpace(s)
		case partHTML:
			out.HTML = s
		case partSay:
			out.Say = sayPhrases(s)
			out.Text = strings.Join(out.Say, " ")
		}
	}
	if _, ok := parts[partHTML]; !ok && channelOf(name) == ChannelEmail {
		html, err := overrideHTML(d, out.Text)
		if err != nil {
			return core.Rendered{}, err
		}
		out.HTML = html
	}
	if o, ok := d.Branding.Messages[name]; ok && strings.TrimSpace(o.Body) != "" {
		r, err := applyTemplate(name, o, d, out)
		if err == nil {
			return r, nil
		}
		if strict {
			return core.Rendered{}, err
		}
	}
	return out, nil
}

func requiredValue(d core.MessageData, field string) string {
	switch field {
	case "Code":
		return d.Code
	case "Link":
		return d.Link
	case "CodeSpoken":
		return d.CodeSpoken
	case "Account":
		return d.Account
	}
	return ""
}

// sayPhrases splits a rendered voice template into its non-empty lines.
func sayPhrases(s string) []string {
	var out []string
	for line := range strings.Lines(s) {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// messageFuncs are the helpers every message template may call.
var messageFuncs = texttemplate.FuncMap{
	"gsm":     GSM7,
	"minutes": minutes,
	"days":    days,
	"color":   safeColor,
}

// days spells a count of days in full ("1 day", "3 days").
func days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return strconv.Itoa(n) + " days"
}

// minutes spells an expiry in full ("1 minute", "5 minutes") because voice
// reads it aloud; only sms_link abbreviates, to stay near one SMS segment.
func minutes(n int) string {
	if n >= 24*60 && n%(24*60) == 0 {
		// Opt-in forms last days.
		if d := n / (24 * 60); d != 1 {
			return strconv.Itoa(d) + " days"
		}
		return "1 day"
	}
	if n == 1 {
		return "1 minute"
	}
	return strconv.Itoa(n) + " minutes"
}

// DefaultPrimaryColor is the brand colour used when a tenant has none or has
// one that is not a plain CSS hex colour.
const DefaultPrimaryColor = "#1f4e79"

var hexColor = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// safeColor returns c if it is a CSS hex colour and the default otherwise,
// so tenant input can never inject CSS into an email's style attributes.
func safeColor(c string) string {
	if hexColor.MatchString(c) {
		return c
	}
	return DefaultPrimaryColor
}

// gsm7Basic and gsm7Ext are the GSM 03.38 default alphabet and its extension
// table. An SMS using only these characters is encoded in GSM-7 (160 chars
// per segment); one other character switches the whole text to UCS-2 (70).
const (
	gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsm7Ext = "^{}\\[~]|€\f"
)

// gsmReplace maps common typographic characters (often pasted into tenant
// names) to GSM-7 look-alikes.
var gsmReplace = strings.NewReplacer(
	"’", "'", "‘", "'", "“", "\"", "”", "\"", "–", "-", "—", "-",
	"…", "...", "\u00a0", " ", "•", "-", "«", "\"", "»", "\"",
)

// IsGSM7 reports whether every character of s is in the GSM-7 alphabet
// (including the extension table).
func IsGSM7(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune(gsm7Basic, r) && !strings.ContainsRune(gsm7Ext, r) {
			return false
		}
	}
	return true
}

// GSM7 returns s with typographic characters replaced by GSM-7 look-alikes
// and anything else outside GSM-7 replaced by '?', so that data such as a
// tenant name cannot push an SMS into UCS-2 and triple its segment count.
func GSM7(s string) string {
	s = gsmReplace.Replace(s)
	if IsGSM7(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(gsm7Basic, r) || strings.ContainsRune(gsm7Ext, r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}
