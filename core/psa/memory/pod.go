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

// screenPage is the memory PSA's own screen: a heading and the pod in an
// iframe, as a PSA shows a hosted pod.
var screenPage = template.Must(template.New("screen").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Memory PSA — {{.Title}}</title></head>
<body>
<h1>Memory PSA — {{.Title}}</h1>
<iframe id="pod" title="Countersign" src="{{.PodURL}}" width="{{.Width}}" height="720"></iframe>
</body></html>
`))

// handleScreen serves GET /ui/{screen}/{id}?pod=URL&width=N: a PSA screen
// that hosts the pod at URL (with ?contact= or ?ticket= added) in an iframe.
// It needs no API key: it is the PSA's user interface, not its API.
func (s *Server) handleScreen(w http.ResponseWriter, r *http.Request) {
	screen, id := r.PathValue("screen"), r.PathValue("id")
	pod, err := url.Parse(r.URL.Query().Get("pod"))
	if err != nil || (pod.Scheme != "http" && pod.Scheme != "https") || (screen != "contact" && screen != "ticket") {
		http.Error(w, "want /ui/contact/{id} or /ui/ticket/{id} with ?pod=<absolute pod URL>", http.StatusBadRequest)
		return
	}
	q := pod.Query()
	q.Set(screen, id)
	pod.RawQuery = q.Encode()
	width := r.URL.Query().Get("width")
	if width != "600" && width != "800" {
		width = "800"
	}
	title := "Contact " + id
	if screen == "ticket" {
		title = "Ticket #" + id
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = screenPage.Execute(w, map[string]string{"Title": title, "PodURL": pod.String(), "Width": width})
}
