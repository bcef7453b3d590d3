package connectwise

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// The setup an MSP admin does in ConnectWise once the integration is saved
// (reference §8.1, §8.2, §2.2): two "Manage Hosted API" entries that put
// the pod on the Contacts and Service Tickets screens — typed in by hand
// from what [Client.Setup] lists, or created through the API by
// [Client.InstallPods] — and a security role for the API member.

// podQuery is what ConnectWise fills in when it frames the pod: the record
// id and the screen (reference §8.2).
const podQuery = "?id=[cw_id]&screen=[cw_screen]"

// Field limits of ConnectWiseHostedSetup (reference §8.1).
const (
	maxHostedDescription = 50
	maxHostedOrigin      = 100
	maxHostedURL         = 1024
)

// podScreens are the screens we put the pod on, with ConnectWise's names.
var podScreens = []struct {
	screen psa.Screen
	name   string
	keys   []string // normalised names and keys ConnectWise may list it under
}{
	{psa.ScreenContact, "Contacts", []string{"contact", "contacts"}},
	{psa.ScreenTicket, "Service Tickets", []string{"serviceticket", "servicetickets", "ticket", "tickets", "servicedesk"}},
}

// Setup implements [psa.SetupGuide].
func (c *Client) Setup(podURL, origin string) psa.Setup {
	s := psa.Setup{Where: "System › Setup Tables › Manage Hosted API (filter the table list for *api*), then Add"}
	for _, ps := range podScreens {
		s.Pods = append(s.Pods, psa.PodEntry{Screen: ps.screen, ScreenName: ps.name, Description: callbackName,
			URL: podURL + podQuery, Origin: origin, Type: "Pod"})
	}
	s.Notes = []string{
		"Origin must be exactly " + origin + ": ConnectWise talks to the pod only from the origin it was given.",
		"Each technician adds the pod to their own screens: on a contact and on a service ticket, open the pod configuration (the gear) and move Countersign to Displayed.",
		"Pods work in ConnectWise's web client in a browser, not in the desktop (thick) client.",
		"Technicians sign in to the pod once with their Countersign account, or — when the tenant default policy allows it — are recognised from their ConnectWise sign-in.",
		"The pod reads ConnectWise with each technician's own ConnectWise sign-in (member authentication), so technicians see only the companies, contacts and tickets their security role shows them; a pod that ConnectWise gives no sign-in reads nothing.",
		c.noteSetupNote(),
	}
	// From the calls the client makes: see the table at the top of the
	// reference. ConnectWise names the areas of a security role by module;
	// the exact names can differ between versions (reference §2.2 lists the
	// role as unconfirmed), and a missing permission names its area in the
	// error of the call that needed it.
	s.Permissions = []psa.Permission{
		{Area: "Companies › Contacts", Access: "Inquire (All)", Why: "find and read the caller's contact, their email addresses and phone numbers"},
		{Area: "Companies › Contacts", Access: "Add (All)", Why: "only to create a contact from Countersign"},
		{Area: "Companies › Company Maintenance", Access: "Inquire (All)", Why: "read the contact's company"},
		{Area: "Service Desk › Service Tickets", Access: "Inquire (All)", Why: "read the ticket a pod is open on, and new tickets reported by callbacks"},
		{Area: "Service Desk › Service Tickets", Access: "Add and Edit (All)", Why: "write the verification result as an internal note"},
		{Area: "System › Member Maintenance", Access: "Inquire (All)", Why: "recognise the technician looking at a pod"},
		{Area: "System › Table Setup", Access: "Inquire (All)", Why: "read communication types and the Hosted API screens"},
		{Area: "System › Table Setup", Access: "Add and Edit (All)", Why: "only to register callbacks and to create the Manage Hosted API entries from Countersign"},
	}
	return s
}

// noteSetupNote says where the integration's notes go, and whether
// ConnectWise mails anyone about them.
func (c *Client) noteSetupNote() string {
	where := map[string]string{
		NoteInternal:   "as Internal notes, which only technicians see",
		NoteDiscussion: "in the Discussion, which the customer sees",
		NoteResolution: "as Resolution notes, which can appear on invoices",
	}[c.cfg.NoteVisibility]
	mail := "ConnectWise sends no e-mail notification for them"
	if c.cfg.NoteEmail == "on" {
		mail = "ConnectWise sends its e-mail notifications for them as the ticket's settings say"
	}
	return "Verification results are written to the ticket " + where + ", and " + mail + " (settings: note visibility, ConnectWise e-mail for notes)."
}

type wireHostedScreen struct {
	ID       int    `json:"id"`
	ScreenID string `json:"screenId"`
	Name     string `json:"name"`
}

type wireHostedSetup struct {
	ID          int    `json:"id,omitempty"`
	ScreenID    int    `json:"screenId"`
	Description string `json:"description"`
	URL         string `json:"url"`
	Type        string `json:"type"`
	Origin      string `json:"origin,omitempty"`
}

// PodScreens implements [psa.PodInstaller]: GET
// /system/connectWiseHostedScreens. Which of its values ConnectWise wants
// as a hosted setup's integer screenId is unconfirmed (reference §8.1);
// the list's id is by far the likelier, and the admin can pick another.
func (c *Client) PodScreens(ctx context.Context) ([]psa.PodScreen, error) {
	ws, err := listAll[wireHostedScreen](ctx, c, call{
		what: "list hosted screens", op: "GET /system/connectWiseHostedScreens", method: http.MethodGet,
		path: "/system/connectWiseHostedScreens",
		area: "reading the Hosted API screens (System › Table Setup, inquire)",
	}, maxPageSize, maxPageSize)
	if err != nil {
		return nil, err
	}
	out := make([]psa.PodScreen, 0, len(ws))
	for _, w := range ws {
		out = append(out, psa.PodScreen{ID: w.ID, Key: w.ScreenID, Name: w.Name, Screen: screenOf(w)})
	}
	return out, nil
}

// screenOf matches a ConnectWise hosted screen to one of ours by its name
// or key, case, spaces and punctuation ignored.
func screenOf(w wireHostedScreen) psa.Screen {
	for _, v := range []string{w.Name, w.ScreenID} {
		n := normScreen(v)
		for _, ps := range podScreens {
			for _, k := range ps.keys {
				if n == k {
					return ps.screen
				}
			}
		}
	}
	return ""
}

func normScreen(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// InstallPods implements [psa.PodInstaller] with POST
// /system/connectwisehostedsetups, one entry per screen, after listing the
// tenant's entries so that running it twice creates nothing new.
func (c *Client) InstallPods(ctx context.Context, entries []psa.PodEntry, screens map[psa.Screen]int) ([]psa.InstalledPod, error) {
	for _, e := range entries {
		switch {
		case e.Description == "" || len(e.Description) > maxHostedDescription:
			return nil, core.Errorf(core.KindInvalid, "a Hosted API entry needs a description of at most %d characters", maxHostedDescription)
		case len(e.Origin) > maxHostedOrigin:
			return nil, core.Errorf(core.KindInvalid, "ConnectWise takes an origin of at most %d characters; %q is longer", maxHostedOrigin, e.Origin)
		case e.URL == "" || len(e.URL) > maxHostedURL:
			return nil, core.Errorf(core.KindInvalid, "ConnectWise takes a pod URL of at most %d characters", maxHostedURL)
		}
	}
	ids := map[psa.Screen]int{}
	for s, id := range screens {
		if id > 0 {
			ids[s] = id
		}
	}
	var missing []psa.PodEntry
	for _, e := range entries {
		if ids[e.Screen] == 0 {
			missing = append(missing, e)
		}
	}
	if len(missing) > 0 {
		listed, err := c.PodScreens(ctx)
		if err != nil {
			return nil, err
		}
		for _, e := range missing {
			var found []psa.PodScreen
			for _, ps := range listed {
				if ps.Screen == e.Screen {
					found = append(found, ps)
				}
			}
			if len(found) != 1 {
				return nil, core.Errorf(core.KindInvalid,
					"ConnectWise lists %d Hosted API screens that look like %s: choose the screen for the %s pod yourself", len(found), e.ScreenName, e.ScreenName)
			}
			ids[e.Screen] = found[0].ID
		}
	}
	existing, err := listAll[wireHostedSetup](ctx, c, call{
		what: "list Hosted API entries", op: "GET /system/connectwisehostedsetups", method: http.MethodGet,
		path: "/system/connectwisehostedsetups",
		area: "reading Manage Hosted API (System › Table Setup, inquire)",
	}, maxPageSize, 10*maxPageSize)
	if err != nil {
		return nil, err
	}
	out := make([]psa.InstalledPod, 0, len(entries))
	for _, e := range entries {
		screenID := ids[e.Screen]
		done := false
		for _, x := range existing {
			if x.ScreenID == screenID && x.URL == e.URL {
				out = append(out, psa.InstalledPod{Screen: e.Screen, Ref: strconv.Itoa(x.ID), ScreenID: screenID})
				done = true
				break
			}
		}
		if done {
			continue
		}
		resp, err := c.send(ctx, call{
			what: "add Hosted API entry for " + e.ScreenName, op: "POST /system/connectwisehostedsetups", method: http.MethodPost,
			path: "/system/connectwisehostedsetups",
			body: wireHostedSetup{ScreenID: screenID, Description: e.Description, URL: e.URL, Type: e.Type, Origin: e.Origin},
			area: "adding to Manage Hosted API (System › Table Setup, add)",
		})
		if err != nil {
			return out, err
		}
		var created wireHostedSetup
		if err := psa.DecodeJSON(resp, &created); err != nil {
			return out, c.decodeFail("add Hosted API entry", err)
		}
		c.log.InfoContext(ctx, "connectwise hosted API entry created", "entry", created.ID, "screen", screenID)
		out = append(out, psa.InstalledPod{Screen: e.Screen, Ref: strconv.Itoa(created.ID), ScreenID: screenID, Created: true})
	}
	return out, nil
}

// LearnedSettings implements [psa.SettingsLearner]: the codebase, once
// discovered, so that the stored integration starts its next clients
// without discovery ([Config.Codebase]).
func (c *Client) LearnedSettings() map[string]string {
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	if c.st.codebase == "" {
		return nil
	}
	return map[string]string{"codebase": c.st.codebase}
}

// Interface guards.
var (
	_ psa.SetupGuide      = (*Client)(nil)
	_ psa.PodInstaller    = (*Client)(nil)
	_ psa.SettingsLearner = (*Client)(nil)
)
