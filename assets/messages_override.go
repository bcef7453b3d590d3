package assets

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"slices"
	"strings"
	"sync"
	texttemplate "text/template"
	"text/template/parse"
	"unicode"
	"unicode/utf8"

	"github.com/countersign/countersign/core"
)

// A tenant may replace the wording of any message with its own template
// (core.Branding.Messages). The template is checked when it is saved
// (CheckMessageTemplate) and Render uses it when the data's branding holds
// one; if it cannot be rendered at send time the built-in wording goes out
// instead, because a message that is sent beats one that fails.

// Limits on tenant templates. SMS stays within two concatenated GSM-7
// segments (153 characters each) with sample data, so a code costs at most
// two messages.
const (
	maxSubjectSource   = 300
	maxSMSSource       = 1000
	maxVoiceSource     = 2000
	maxEmailSource     = 8000
	maxSMSRendered     = 306
	maxSubjectRendered = 200
	maxVoicePhrases    = 20
	maxVoiceRendered   = 1500
	maxEmailRendered   = 10000
	// maxRenderedBytes stops a template whose output runs away (printf
	// with a huge width, say) long before it costs memory.
	maxRenderedBytes = 32 << 10
)

// Message channels, for the template editor.
const (
	ChannelSMS   = "sms"
	ChannelVoice = "voice"
	ChannelEmail = "email"
	// ChannelNote is a note written in the PSA, read by the MSP's staff.
	ChannelNote = "note"
)

// Message groups, for the template editor: the verification messages and
// the password notices are edited in sections of their own.
const (
	GroupVerification = "verification"
	GroupNotice       = "notice"
)

// MessageInfo describes one message for the template editor.
type MessageInfo struct {
	Name       string               `json:"name"` // e.g. "sms_code"
	Label      string               `json:"label"`
	Group      string               `json:"group"`       // GroupVerification or GroupNotice
	Fields     []string             `json:"fields"`      // the placeholders it may use, e.g. "{{.Account}}"
	Channel    string               `json:"channel"`     // ChannelSMS, ChannelVoice or ChannelEmail
	HasSubject bool                 `json:"has_subject"` // emails only
	Needs      string               `json:"needs"`       // the action the body must contain, e.g. "{{.Code}}"
	Default    core.MessageTemplate `json:"default"`     // the built-in template's source
}

// MessageNames lists the messages in the order the console shows them.
var MessageNames = []string{MessageSMSCode, MessageSMSLink, MessageVoiceCode, MessageEmailLink, MessageEmailCode,
	MessageSMSOptIn, MessageEmailOptIn, MessageNoteOptIn}

// (The SMS opt-in form's messages are edited with the verification
// messages; the password notices have a section of their own.)

// NoticeNames lists the password notices in the order the console shows
// them.
var NoticeNames = []string{
	core.MessageNoticeExpiringEmail, core.MessageNoticeExpiringSMS,
	core.MessageNoticeTodayEmail, core.MessageNoticeTodaySMS,
	core.MessageNoticeLockedEmail, core.MessageNoticeLockedSMS,
}

// IsMessage reports whether name is a message a tenant may word its own way.
func IsMessage(name string) bool { return channelOf(name) != "" }

// MessageChannel returns the channel of message name (ChannelSMS, …), ""
// for an unknown name.
func MessageChannel(name string) string { return channelOf(name) }

var messageLabels = map[string]string{
	MessageSMSCode:   "SMS code",
	MessageSMSLink:   "SMS link",
	MessageVoiceCode: "Voice call code",
	MessageEmailLink: "Email link",
	MessageEmailCode: "Email code",

	MessageSMSOptIn:   "SMS opt-in form (text)",
	MessageEmailOptIn: "SMS opt-in form (e-mail)",
	MessageNoteOptIn:  "PSA note: opt-in form sent",

	core.MessageNoticeExpiringEmail: "Password expires soon (email)",
	core.MessageNoticeExpiringSMS:   "Password expires soon (SMS)",
	core.MessageNoticeTodayEmail:    "Password expires today (email)",
	core.MessageNoticeTodaySMS:      "Password expires today (SMS)",
	core.MessageNoticeLockedEmail:   "Account locked (email)",
	core.MessageNoticeLockedSMS:     "Account locked (SMS)",
}

// channelOf returns the channel of a message name, "" for an unknown name.
func channelOf(name string) string {
	switch name {
	case MessageSMSCode, MessageSMSLink, MessageSMSOptIn, core.MessageNoticeExpiringSMS, core.MessageNoticeTodaySMS, core.MessageNoticeLockedSMS:
		return ChannelSMS
	case MessageVoiceCode:
		return ChannelVoice
	case MessageEmailLink, MessageEmailCode, MessageEmailOptIn, core.MessageNoticeExpiringEmail, core.MessageNoticeTodayEmail, core.MessageNoticeLockedEmail:
		return ChannelEmail
	case MessageNoteOptIn:
		return ChannelNote
	}
	return ""
}

// groupOf returns the group of a known message name.
func groupOf(name string) string {
	if strings.HasPrefix(name, "notice_") {
		return GroupNotice
	}
	return GroupVerification
}

// Placeholders. A template may use the MessageData fields its message is
// rendered with, and no others: a notice has no code and a code message no
// account, so {{.Code}} in a notice would quietly print nothing. The
// verification messages keep every branding field they always could; the
// notices get the support phone only. A "." path is a field path
// ("Branding.SupportPhone"); a trailing ".*" allows everything under it.
var (
	verificationFields = []string{"TenantName", "ContactName", "TechnicianName", "TicketRef", "Code", "CodeSpoken", "Link",
		"ExpiresMinutes", "Destination", "Channel", "Branding.SupportPhone", "Branding.*"}
	noticeFields = map[string][]string{
		core.MessageNoticeExpiringEmail: {"TenantName", "ContactName", "Account", "DaysLeft", "ExpiresOn", "Branding.SupportPhone"},
		core.MessageNoticeTodayEmail:    {"TenantName", "ContactName", "Account", "ExpiresOn", "Branding.SupportPhone"},
		core.MessageNoticeLockedEmail:   {"TenantName", "ContactName", "Account", "Branding.SupportPhone"},
	}
)

func init() {
	noticeFields[core.MessageNoticeExpiringSMS] = noticeFields[core.MessageNoticeExpiringEmail]
	noticeFields[core.MessageNoticeTodaySMS] = noticeFields[core.MessageNoticeTodayEmail]
	noticeFields[core.MessageNoticeLockedSMS] = noticeFields[core.MessageNoticeLockedEmail]
}

// allowedFields returns the field paths message name may use.
func allowedFields(name string) []string {
	if groupOf(name) == GroupNotice {
		return noticeFields[name]
	}
	return verificationFields
}

// fieldAllowed reports whether path (e.g. "Branding.SupportPhone") is one
// of allowed.
func fieldAllowed(path string, allowed []string) bool {
	for _, a := range allowed {
		if a == path || (strings.HasSuffix(a, ".*") && strings.HasPrefix(path, strings.TrimSuffix(a, "*"))) {
			return true
		}
	}
	return false
}

// fieldList is allowed as the editor lists it: "{{.Account}}", …
func fieldList(allowed []string) []string {
	var out []string
	for _, a := range allowed {
		if !strings.HasSuffix(a, ".*") {
			out = append(out, "{{."+a+"}}")
		}
	}
	return out
}

// MessageCatalog describes every message, the verification messages then
// the notices, with its built-in template.
func MessageCatalog() ([]MessageInfo, error) {
	names := append(slices.Clone(MessageNames), NoticeNames...)
	out := make([]MessageInfo, 0, len(names))
	for _, name := range names {
		def, err := DefaultMessage(name)
		if err != nil {
			return nil, err
		}
		needs := ""
		if f := required[name]; f != "" {
			needs = "{{." + f + "}}"
		}
		out = append(out, MessageInfo{Name: name, Label: messageLabels[name], Group: groupOf(name),
			Fields: fieldList(allowedFields(name)), Channel: channelOf(name),
			HasSubject: channelOf(name) == ChannelEmail, Needs: needs, Default: def})
	}
	return out, nil
}

// DefaultMessage returns the source of a built-in message template: for
// emails the subject and the plain-text body, for voice the phrases.
func DefaultMessage(name string) (core.MessageTemplate, error) {
	read := func(p part) (string, error) {
		b, err := fs.ReadFile(messageFiles, messageFile(name, p))
		if err != nil {
			return "", fmt.Errorf("assets: read default message %s: %w", name, err)
		}
		return strings.TrimRight(string(b), "\n"), nil
	}
	var out core.MessageTemplate
	var err error
	switch channelOf(name) {
	case ChannelSMS, ChannelNote:
		out.Body, err = read(partText)
	case ChannelVoice:
		out.Body, err = read(partSay)
	case ChannelEmail:
		if out.Subject, err = read(partSubject); err == nil {
			out.Body, err = read(partText)
		}
	default:
		return out, core.Errorf(core.KindInvalid, "unknown message %q", name)
	}
	return out, err
}

// compiledTemplate is a parsed tenant template; subject is nil when the
// built-in subject stays.
type compiledTemplate struct {
	subject, body *texttemplate.Template
}

// compileTemplate parses a tenant template with the built-in templates'
// helpers. Loops and template calls are refused: a message needs neither,
// and a loop is the one way a template could spin for ever.
func compileTemplate(name string, o core.MessageTemplate) (compiledTemplate, error) {
	var c compiledTemplate
	parseOne := func(field, src string) (*texttemplate.Template, error) {
		t, err := texttemplate.New(name + "." + field).Funcs(messageFuncs).Parse(src)
		if err != nil {
			return nil, core.Errorf(core.KindInvalid, "%s: %s", field, strings.TrimPrefix(err.Error(), "template: "))
		}
		if len(t.Templates()) > 1 {
			return nil, core.Errorf(core.KindInvalid, "%s: define and block are not allowed in a message", field)
		}
		if err := checkNodes(t.Root); err != nil {
			return nil, core.Errorf(core.KindInvalid, "%s: %s", field, err.Error())
		}
		if err := checkFields(t.Root, allowedFields(name), false); err != nil {
			return nil, core.Errorf(core.KindInvalid, "%s: %s", field, err.Error())
		}
		return t, nil
	}
	var err error
	if c.body, err = parseOne("body", o.Body); err != nil {
		return c, err
	}
	if strings.TrimSpace(o.Subject) != "" {
		if c.subject, err = parseOne("subject", o.Subject); err != nil {
			return c, err
		}
	}
	return c, nil
}

// checkNodes refuses the actions a message template has no use for.
func checkNodes(n parse.Node) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkNodes(c); err != nil {
				return err
			}
		}
	case *parse.RangeNode:
		return errors.New("range is not allowed in a message")
	case *parse.TemplateNode:
		return errors.New("template calls are not allowed in a message")
	case *parse.IfNode:
		return errors.Join(checkNodes(n.List), checkNodes(n.ElseList))
	case *parse.WithNode:
		return errors.Join(checkNodes(n.List), checkNodes(n.ElseList))
	}
	return nil
}

// checkFields refuses a field a message is not rendered with. Within the
// body of a with, dot is the value with chose (a name, a phone number):
// fields of it fail when the samples are rendered, so only $ paths, which
// go back to the message's data, are checked there. A with or an if on a
// field outside allowed is refused like any other use of it.
func checkFields(n parse.Node, allowed []string, inWith bool) error {
	path := func(idents []string) error {
		p := strings.Join(idents, ".")
		if !fieldAllowed(p, allowed) {
			return fmt.Errorf("{{.%s}} is not a field of this message; it may use %s", p, strings.Join(fieldList(allowed), ", "))
		}
		return nil
	}
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkFields(c, allowed, inWith); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return checkFields(n.Pipe, allowed, inWith)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Cmds {
			if err := checkFields(c, allowed, inWith); err != nil {
				return err
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			if err := checkFields(a, allowed, inWith); err != nil {
				return err
			}
		}
	case *parse.FieldNode:
		if !inWith {
			return path(n.Ident)
		}
	case *parse.VariableNode:
		if len(n.Ident) > 1 && n.Ident[0] == "$" {
			return path(n.Ident[1:])
		}
	case *parse.ChainNode:
		return errors.New("a field of a parenthesised value is not allowed in a message")
	case *parse.IfNode:
		return errors.Join(checkFields(n.Pipe, allowed, inWith), checkFields(n.List, allowed, inWith), checkFields(n.ElseList, allowed, inWith))
	case *parse.WithNode:
		return errors.Join(checkFields(n.Pipe, allowed, inWith), checkFields(n.List, allowed, true), checkFields(n.ElseList, allowed, inWith))
	}
	return nil
}

// limitedBuffer fails writes past maxRenderedBytes.
type limitedBuffer struct{ bytes.Buffer }

var errTooLong = errors.New("the message is far too long")

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxRenderedBytes {
		return 0, errTooLong
	}
	return b.Buffer.Write(p)
}

func execute(t *texttemplate.Template, d core.MessageData) (string, error) {
	var b limitedBuffer
	if err := t.Execute(&b, d); err != nil {
		if errors.Is(err, errTooLong) {
			return "", core.Errorf(core.KindInvalid, "%s: %s", t.Name(), errTooLong)
		}
		return "", core.Errorf(core.KindInvalid, "%s", strings.TrimPrefix(err.Error(), "template: "))
	}
	return b.String(), nil
}

// renderedTemplate is a tenant template's raw output.
type renderedTemplate struct {
	subject string // "" when the built-in subject stays
	body    string
}

func (c compiledTemplate) render(d core.MessageData) (renderedTemplate, error) {
	var out renderedTemplate
	var err error
	if out.body, err = execute(c.body, d); err != nil {
		return out, err
	}
	if c.subject != nil {
		if out.subject, err = execute(c.subject, d); err != nil {
			return out, err
		}
		out.subject = strings.Join(strings.Fields(out.subject), " ")
	}
	return out, nil
}

// applyTemplate renders tenant template o over base, the built-in
// rendering of the same message and data.
func applyTemplate(name string, o core.MessageTemplate, d core.MessageData, base core.Rendered) (core.Rendered, error) {
	c, err := compileTemplate(name, o)
	if err != nil {
		return core.Rendered{}, err
	}
	rt, err := c.render(d)
	if err != nil {
		return core.Rendered{}, err
	}
	if v := requiredValue(d, required[name]); v != "" && !strings.Contains(rt.body, v) {
		return core.Rendered{}, core.Errorf(core.KindInvalid, "the message must include {{.%s}}", required[name])
	}
	out := base
	switch channelOf(name) {
	case ChannelSMS:
		// Data (a tenant name with a curly apostrophe) must not push the
		// text into UCS-2; the template's own text was checked on save.
		out.Text = GSM7(strings.TrimSpace(rt.body))
	case ChannelVoice:
		out.Say = sayPhrases(rt.body)
		out.Text = strings.Join(out.Say, " ")
	case ChannelNote:
		out.Text = strings.TrimSpace(rt.body)
	case ChannelEmail:
		if rt.subject != "" {
			if secretField(required[name]) && strings.Contains(rt.subject, requiredValue(d, required[name])) {
				return core.Rendered{}, core.Errorf(core.KindInvalid, "the subject must not contain the code or link")
			}
			out.Subject = rt.subject
		}
		out.Text = strings.TrimSpace(rt.body)
		if out.HTML, err = overrideHTML(d, out.Text); err != nil {
			return core.Rendered{}, err
		}
	}
	return out, nil
}

// emailLayout wraps a tenant's plain-text email in the branded frame of the
// built-in emails. html/template escapes every piece of the text, so markup
// typed into a template or a tenant name arrives as text.
var emailLayout = htmltemplate.Must(htmltemplate.New("email_override.html").
	Funcs(htmltemplate.FuncMap(messageFuncs)).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Data.TenantName}}</title>
</head>
<body style="margin:0;padding:0;background:#f4f5f7;font-family:Arial,Helvetica,sans-serif;color:#1f2328;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f5f7;padding:24px 0;">
<tr><td align="center">
<table role="presentation" width="560" cellpadding="0" cellspacing="0" style="max-width:560px;background:#ffffff;border-radius:8px;">
<tr><td style="background:{{color .Data.Branding.PrimaryColor}};color:#ffffff;padding:16px 24px;border-radius:8px 8px 0 0;font-size:18px;font-weight:bold;">{{.Data.TenantName}} IT help desk</td></tr>
<tr><td style="padding:24px;font-size:15px;line-height:1.5;">
{{range .Paragraphs}}<p style="margin:0 0 16px;">{{range $i, $line := .}}{{if $i}}<br>{{end}}{{range $line}}{{if .Link}}<a href="{{.Text}}" style="color:{{color $.Data.Branding.PrimaryColor}};font-weight:bold;word-break:break-all;">{{.Text}}</a>{{else}}{{.Text}}{{end}}{{end}}{{end}}</p>
{{end}}</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
`))

// htmlPiece is a run of text in a line; Link marks the verification link.
type htmlPiece struct {
	Text string
	Link bool
}

// overrideHTML renders text (paragraphs split by blank lines) in emailLayout,
// with the verification link made clickable.
func overrideHTML(d core.MessageData, text string) (string, error) {
	var paras [][][]htmlPiece
	for _, block := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		if strings.TrimSpace(block) == "" {
			continue
		}
		var lines [][]htmlPiece
		for line := range strings.Lines(block) {
			lines = append(lines, splitLink(strings.TrimRight(line, "\n"), d.Link))
		}
		paras = append(paras, lines)
	}
	var b bytes.Buffer
	err := emailLayout.Execute(&b, struct {
		Data       core.MessageData
		Paragraphs [][][]htmlPiece
	}{d, paras})
	if err != nil {
		return "", fmt.Errorf("assets: render email layout: %w", err)
	}
	return b.String(), nil
}

func splitLink(line, link string) []htmlPiece {
	if link == "" {
		return []htmlPiece{{Text: line}}
	}
	var out []htmlPiece
	for {
		i := strings.Index(line, link)
		if i < 0 {
			break
		}
		if i > 0 {
			out = append(out, htmlPiece{Text: line[:i]})
		}
		out = append(out, htmlPiece{Text: link, Link: true})
		line = line[i+len(link):]
	}
	if line != "" || len(out) == 0 {
		out = append(out, htmlPiece{Text: line})
	}
	return out
}

// sampleMessageData returns the data a template is checked against: one set
// with every optional field filled and one with none, so that a required
// action hidden behind {{if .TicketRef}} is caught either way.
func sampleMessageData(name string) []core.MessageData {
	full := core.MessageData{
		TenantName: "Acme IT Services", ContactName: "Jane", TechnicianName: "Sam Tech", TicketRef: "48213",
		ExpiresMinutes: 5, Branding: core.Branding{PrimaryColor: "#1f4e79", SupportPhone: "+1 555 010 0100"},
	}
	bare := core.MessageData{TenantName: "Acme", ExpiresMinutes: 10}
	if groupOf(name) == GroupNotice {
		full = core.MessageData{TenantName: "Acme IT Services", ContactName: "Jane", Account: "jdoe", DaysLeft: 10,
			ExpiresOn: "13 Dec 2026", Branding: core.Branding{PrimaryColor: "#1f4e79", SupportPhone: "+1 555 010 0100"}}
		bare = core.MessageData{TenantName: "Acme", Account: "j", DaysLeft: 1}
		if name == core.MessageNoticeTodayEmail || name == core.MessageNoticeTodaySMS {
			full.DaysLeft, bare.DaysLeft = 0, 0
		}
		return []core.MessageData{full, bare}
	}
	if channelOf(name) == ChannelNote || name == MessageSMSOptIn || name == MessageEmailOptIn {
		full.Destination, full.Channel = "42", "e-mail to j•••@contoso.example"
		full.ExpiresMinutes, bare.ExpiresMinutes = 7*24*60, 7*24*60
	}
	out := []core.MessageData{full, bare}
	for i := range out {
		switch required[name] {
		case "Link":
			out[i].Link = "https://verify.example.com/l/acme-it/q7Xw0Vb2Lr9Kd4Zp1Ms8Tn6Yc3Hf5Gj0Ua2Ie7Ob4Rw"
		default:
			out[i].Code, out[i].CodeSpoken = "482913", "4, 8, 2, 9, 1, 3"
		}
	}
	return out
}

// SampleMessageData returns the data the template editor previews name with,
// for a tenant called tenantName with branding b.
func SampleMessageData(name, tenantName string, b core.Branding) core.MessageData {
	d := sampleMessageData(name)[0]
	d.TenantName = tenantName
	b.Messages = nil
	d.Branding = b
	return d
}

// CheckMessageTemplate reports the first reason tenant template o cannot
// replace message name, as a core.KindInvalid error with a message for the
// admin: an empty or oversized text, a template that does not parse or
// render, a body without the code or link the message exists to carry, an
// SMS that leaves GSM-7 or grows past two segments.
func CheckMessageTemplate(name string, o core.MessageTemplate) error {
	ch := channelOf(name)
	if ch == "" {
		return core.Errorf(core.KindInvalid, "unknown message %q", name)
	}
	if strings.TrimSpace(o.Body) == "" {
		return core.Errorf(core.KindInvalid, "the message text is empty; write one or reset to the default")
	}
	if o.Subject != "" && ch != ChannelEmail {
		return core.Errorf(core.KindInvalid, "only emails have a subject")
	}
	maxSource := map[string]int{ChannelSMS: maxSMSSource, ChannelVoice: maxVoiceSource, ChannelEmail: maxEmailSource, ChannelNote: maxEmailSource}[ch]
	switch {
	case !utf8.ValidString(o.Body) || !utf8.ValidString(o.Subject):
		return core.Errorf(core.KindInvalid, "the message is not valid UTF-8 text")
	case utf8.RuneCountInString(o.Body) > maxSource:
		return core.Errorf(core.KindInvalid, "the message text must be at most %d characters", maxSource)
	case utf8.RuneCountInString(o.Subject) > maxSubjectSource:
		return core.Errorf(core.KindInvalid, "the subject must be at most %d characters", maxSubjectSource)
	case strings.ContainsAny(o.Subject, "\r\n"):
		return core.Errorf(core.KindInvalid, "the subject must be one line")
	case hasControl(o.Body, "\n\r\t") || hasControl(o.Subject, ""):
		return core.Errorf(core.KindInvalid, "the message contains control characters")
	}
	c, err := compileTemplate(name, o)
	if err != nil {
		return err
	}
	need := required[name]
	for _, d := range sampleMessageData(name) {
		rt, err := c.render(d)
		if err != nil {
			return err
		}
		if !strings.Contains(rt.body, requiredValue(d, need)) {
			return core.Errorf(core.KindInvalid, "the message must include {{.%s}}: without it the %s is useless", need, what(need))
		}
		if err := checkRendered(name, ch, rt, d); err != nil {
			return err
		}
	}
	return nil
}

func what(field string) string {
	switch field {
	case "Link":
		return "message gives the caller nothing to open"
	case "Account":
		return "notice does not say which account it is about"
	}
	return "caller has no code to read back"
}

// checkRendered applies the channel's rules to one sample rendering.
func checkRendered(name, ch string, rt renderedTemplate, d core.MessageData) error {
	body := strings.TrimSpace(rt.body)
	switch ch {
	case ChannelSMS:
		for _, r := range body {
			if !IsGSM7(string(r)) {
				return core.Errorf(core.KindInvalid, "SMS text may use only GSM-7 characters; %q would make every SMS cost up to three times as much", r)
			}
		}
		// The first text to a number gets the MSP's name and the opt-out
		// notice (core.CarrierWording): both must fit too.
		if n := utf8.RuneCountInString(core.CarrierWording(body, d.TenantName, true)); n > maxSMSRendered {
			return core.Errorf(core.KindInvalid, "the SMS is %d characters with sample data, your name and the opt-out notice the first text gets; keep it within %d (two SMS segments)", n, maxSMSRendered)
		}
	case ChannelVoice:
		say := sayPhrases(body)
		if len(say) > maxVoicePhrases {
			return core.Errorf(core.KindInvalid, "the call reads %d phrases; keep it within %d lines", len(say), maxVoicePhrases)
		}
		if n := utf8.RuneCountInString(strings.Join(say, " ")); n > maxVoiceRendered {
			return core.Errorf(core.KindInvalid, "the call script is %d characters with sample data; keep it within %d", n, maxVoiceRendered)
		}
	case ChannelEmail:
		if n := utf8.RuneCountInString(body); n > maxEmailRendered {
			return core.Errorf(core.KindInvalid, "the email is %d characters with sample data; keep it within %d", n, maxEmailRendered)
		}
		if n := utf8.RuneCountInString(rt.subject); n > maxSubjectRendered {
			return core.Errorf(core.KindInvalid, "the subject is %d characters with sample data; keep it within %d", n, maxSubjectRendered)
		}
		if secret := requiredValue(d, required[name]); secretField(required[name]) && rt.subject != "" && strings.Contains(rt.subject, secret) {
			return core.Errorf(core.KindInvalid, "the subject must not contain the code or link: mail clients show subjects in notifications")
		}
	}
	return nil
}

// hasControl reports whether s holds a control character not in allowed.
func hasControl(s, allowed string) bool {
	for _, r := range s {
		if unicode.IsControl(r) && !strings.ContainsRune(allowed, r) {
			return true
		}
	}
	return false
}

var builtin = sync.OnceValues(NewMessages)

// PreviewMessage renders message name for the template editor with d
// (SampleMessageData): tenant template o when its body is not empty, after
// the checks of CheckMessageTemplate, else the built-in template.
func PreviewMessage(name string, o core.MessageTemplate, d core.MessageData) (core.Rendered, error) {
	m, err := builtin()
	if err != nil {
		return core.Rendered{}, err
	}
	d.Branding.Messages = nil
	if strings.TrimSpace(o.Body) != "" || o.Subject != "" {
		if err := CheckMessageTemplate(name, o); err != nil {
			return core.Rendered{}, err
		}
		d.Branding.Messages = map[string]core.MessageTemplate{name: o}
	}
	return m.render(name, d, true)
}
