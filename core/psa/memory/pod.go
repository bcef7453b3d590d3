package memory

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// FrameOrigins implements psa.Embedder: the memory PSA's screens are served
// from its own base URL (see [Server]'s /ui pages), so that origin alone may
// frame the pod.
func (c *Client) FrameOrigins() []string {
	return []string{c.base.Scheme + "://" + c.base.Host}
}

// maxRefLen bounds ids read from a pod URL.
const maxRefLen = 64

// PodContext implements psa.Embedder. The memory PSA fills the pod URL with
// ?contact={id} on its contact screen and ?ticket={id} on its ticket screen.
func (c *Client) PodContext(q url.Values) (psa.PodContext, error) {
	contact, ticket := strings.TrimSpace(q.Get("contact")), strings.TrimSpace(q.Get("ticket"))
	switch {
	case len(contact) > maxRefLen || len(ticket) > maxRefLen:
		return psa.PodContext{}, core.Errorf(core.KindInvalid, "the pod URL's contact or ticket id is too long")
	case ticket != "":
		return psa.PodContext{Screen: psa.ScreenTicket, TicketRef: ticket}, nil
	case contact != "":
		return psa.PodContext{Screen: psa.ScreenContact, ContactRef: contact}, nil
	}
	return psa.PodContext{}, core.Errorf(core.KindInvalid, "the pod URL names no contact or ticket; the PSA screen must add ?contact= or ?ticket=")
}

// TicketURL implements psa.TicketLinker: the memory PSA's own ticket
// screen, which lists the ticket's notes. It is http in the demo, which
// runs on loopback.
func (c *Client) TicketURL(t psa.Ticket) string {
	if t.Ref == "" {
		return ""
	}
	return c.base.Scheme + "://" + c.base.Host + "/ui/ticket/" + url.PathEscape(t.Ref)
}

// screenPage is the memory PSA's own screen: a heading, on a ticket its
// summary and notes (newest last, as PSAs list a ticket's time line), and
// the pod in an iframe, as a PSA shows a hosted pod.
var screenPage = template.Must(template.New("screen").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Memory PSA — {{.Title}}</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 1rem; color: #1a1a1a; }
.psa { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
.notes { flex: 1 1 20rem; max-width: 40rem; }
.notes li { margin: 0 0 .6rem; padding: .5rem .7rem; border: 1px solid #ccc; border-radius: 4px; list-style: none; }
.notes ol { padding: 0; }
.tag { font-size: .8rem; color: #444; text-transform: uppercase; letter-spacing: .03em; }
</style></head>
<body>
<h1>Memory PSA — {{.Title}}</h1>
{{if .Ticket}}<p id="ticket-summary">{{.Ticket.Summary}}{{if .Ticket.Status}} · {{.Ticket.Status}}{{end}}</p>{{end}}
<div class="psa">
{{if .PodURL}}<iframe id="pod" title="Countersign" src="{{.PodURL}}" width="{{.Width}}" height="720"></iframe>{{end}}
{{if .IsTicket}}<section class="notes" aria-labelledby="notes-h">
<h2 id="notes-h">Notes</h2>
{{if .Notes}}<ol id="notes">{{range .Notes}}<li><span class="tag">{{if .Public}}Public{{else}}Internal{{end}} note</span><br>{{.Text}}</li>{{end}}</ol>
{{else}}<p id="notes-empty">No notes on this ticket yet.</p>{{end}}
</section>{{end}}
</div>
</body></html>
`))

// handleScreen serves GET /ui/{screen}/{id}?pod=URL&width=N: a PSA screen
// that hosts the pod at URL (with ?contact= or ?ticket= added) in an
// iframe; a ticket's screen also lists its notes, and may go without the
// pod (the link Countersign shows beside a written note). It needs no API
// key: it is the PSA's user interface, not its API.
func (s *Server) handleScreen(w http.ResponseWriter, r *http.Request) {
	screen, id := r.PathValue("screen"), r.PathValue("id")
	raw := r.URL.Query().Get("pod")
	pod, err := url.Parse(raw)
	badPod := err != nil || (pod.Scheme != "http" && pod.Scheme != "https")
	if (screen != "contact" && screen != "ticket") || (badPod && (raw != "" || screen != "ticket")) {
		http.Error(w, "want /ui/contact/{id} or /ui/ticket/{id} with ?pod=<absolute pod URL> (optional on a ticket)", http.StatusBadRequest)
		return
	}
	data := map[string]any{"IsTicket": screen == "ticket", "Width": "800"}
	if raw != "" {
		q := pod.Query()
		q.Set(screen, id)
		pod.RawQuery = q.Encode()
		data["PodURL"] = pod.String()
	}
	// The pod's frame as wide as a PSA's side panel (600, 800) or a phone
	// (400).
	if width := r.URL.Query().Get("width"); width == "400" || width == "600" || width == "800" {
		data["Width"] = width
	}
	data["Title"] = "Contact " + id
	if screen == "ticket" {
		t, ok := s.ticket(id)
		if !ok {
			http.Error(w, "no such ticket", http.StatusNotFound)
			return
		}
		data["Title"], data["Ticket"], data["Notes"] = "Ticket #"+t.Number, t, s.Notes(id)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = screenPage.Execute(w, data)
}
