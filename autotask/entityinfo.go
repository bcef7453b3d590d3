package autotask

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// picklistTTL is how long entity information (required fields, picklists)
// is trusted. An admin who adds a note type sees it after a refresh from
// the setup page, or the next day.
const picklistTTL = 24 * time.Hour

// FieldInfo is one field of an entity, as Autotask's entity information
// describes it.
type FieldInfo struct {
	Name       string   `json:"name"`
	DataType   string   `json:"dataType"`
	IsRequired bool     `json:"isRequired"`
	IsReadOnly bool     `json:"isReadOnly"`
	IsPickList bool     `json:"isPickList"`
	Picklist   []Choice `json:"picklistValues"`
}

// Choice is one value of a picklist.
type Choice struct {
	Value     string `json:"value"` // Autotask sends picklist values as strings of digits
	Label     string `json:"label"`
	IsDefault bool   `json:"isDefaultValue"`
	IsActive  bool   `json:"isActive"`
	SortOrder int    `json:"sortOrder"`
}

type cachedFields struct {
	fields []FieldInfo
	at     time.Time
}

// entityFields returns entity's fields, cached for a day; refresh reads
// them again (the setup page's "refresh" and non-essential work).
func (c *Client) entityFields(ctx context.Context, entity string, refresh bool) ([]FieldInfo, error) {
	c.st.mu.Lock()
	cf, ok := c.st.fields[entity]
	c.st.mu.Unlock()
	if ok && !refresh && c.now().Sub(cf.at) < picklistTTL {
		return cf.fields, nil
	}
	var w struct {
		Fields []FieldInfo `json:"fields"`
	}
	if err := c.do(ctx, call{what: "read " + entity + " fields", op: "GET /V1.0/" + entity + "/entityInformation/fields",
		method: http.MethodGet, path: "V1.0/" + entity + "/entityInformation/fields",
		area: "reading " + strings.ToLower(entity) + " settings"}, &w); err != nil {
		return nil, err
	}
	c.st.mu.Lock()
	c.st.fields[entity] = cachedFields{fields: w.Fields, at: c.now()}
	c.st.mu.Unlock()
	return w.Fields, nil
}

// picklist returns the active values of entity's field, sorted as
// Autotask sorts them.
func (c *Client) picklist(ctx context.Context, entity, field string, refresh bool) ([]Choice, error) {
	fs, err := c.entityFields(ctx, entity, refresh)
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		if strings.EqualFold(f.Name, field) {
			var out []Choice
			for _, ch := range f.Picklist {
				if ch.IsActive {
					out = append(out, ch)
				}
			}
			sort.SliceStable(out, func(i, j int) bool { return out[i].SortOrder < out[j].SortOrder })
			return out, nil
		}
	}
	return nil, core.Errorf(core.KindUnavailable, "Autotask's %s have no field %s", entity, field)
}

// NoteChoices are the tenant's own note types and publish values, for the
// setup page's pickers.
type NoteChoices struct {
	Types   []Choice
	Publish []Choice
}

// NotePicklists reads the tenant's ticket note types and publish values
// (GET V1.0/TicketNotes/entityInformation/fields, one call), for the admin
// to pick by label at setup.
func (c *Client) NotePicklists(ctx context.Context) (NoteChoices, error) {
	types, err := c.picklist(ctx, "TicketNotes", "noteType", true)
	if err != nil {
		return NoteChoices{}, wrapWhat("read note types", err)
	}
	pub, err := c.picklist(ctx, "TicketNotes", "publish", false)
	if err != nil {
		return NoteChoices{}, wrapWhat("read note types", err)
	}
	return NoteChoices{Types: types, Publish: pub}, nil
}

// noteChoices returns the noteType and publish of a note: the values
// stored at setup, else the picklist's default type and the publish value
// labelled "Internal…" (or "All…" for a public note), read once a day.
func (c *Client) noteChoices(ctx context.Context, public bool) (noteType, publish int, err error) {
	if c.cfg.NoteType != "" {
		noteType, _ = strconv.Atoi(c.cfg.NoteType)
	}
	if c.cfg.NotePublish != "" && !public {
		publish, _ = strconv.Atoi(c.cfg.NotePublish)
	}
	if noteType != 0 && publish != 0 {
		return noteType, publish, nil
	}
	if noteType == 0 {
		types, err := c.picklist(ctx, "TicketNotes", "noteType", false)
		if err != nil {
			return 0, 0, err
		}
		for i, ch := range types {
			if ch.IsDefault || i == 0 && noteType == 0 {
				noteType, _ = strconv.Atoi(ch.Value)
			}
		}
		if noteType == 0 {
			return 0, 0, core.Errorf(core.KindInvalid, "Autotask lists no active ticket note type: pick one on the setup page")
		}
	}
	if publish == 0 {
		pub, err := c.picklist(ctx, "TicketNotes", "publish", false)
		if err != nil {
			return 0, 0, err
		}
		want := "internal"
		if public {
			want = "all"
		}
		for _, ch := range pub {
			if strings.HasPrefix(strings.ToLower(strings.TrimSpace(ch.Label)), want) {
				publish, _ = strconv.Atoi(ch.Value)
				break
			}
		}
		if publish == 0 {
			return 0, 0, core.Errorf(core.KindInvalid, "Autotask lists no note visibility labelled %q: pick one on the setup page", want)
		}
	}
	return noteType, publish, nil
}

// Choices offers the tenant's own picklist values for the settings that
// hold one ([psa.FieldChooser]): note types and publish values (suggesting
// the default type and the publish value labelled "Internal…"), the queue
// of tray tickets and the action type of contact notes (suggesting the
// picklist's default).
func (c *Client) Choices(ctx context.Context, field string) (psa.Choices, error) {
	var (
		list []Choice
		hint string
		err  error
	)
	switch field {
	case "note_type", "note_publish":
		var nc NoteChoices
		if nc, err = c.NotePicklists(ctx); err != nil {
			return psa.Choices{}, err
		}
		list, hint = nc.Types, "Your Autotask's ticket note types: pick the one verification notes should have."
		if field == "note_publish" {
			list, hint = nc.Publish, "Who sees verification notes in Autotask: pick an internal one."
		}
	case "ticket_queue":
		if list, err = c.picklist(ctx, "Tickets", "queueID", true); err != nil {
			return psa.Choices{}, wrapWhat("read ticket queues", err)
		}
		hint = "Your Autotask's service desk queues: pick the one tickets from the Windows tray go to."
	case "contact_note_type":
		if list, err = c.picklist(ctx, "CompanyNotes", "actionType", true); err != nil {
			return psa.Choices{}, wrapWhat("read note action types", err)
		}
		hint = "Your Autotask's note action types: pick the one notes on contacts should have."
	default:
		return psa.Choices{}, core.Errorf(core.KindInvalid, "autotask: no choices for the setting %q", field)
	}
	out := psa.Choices{Options: []psa.Choice{}, Hint: hint}
	var internal []string
	for _, ch := range list {
		out.Options = append(out.Options, psa.Choice{Value: ch.Value, Label: ch.Label})
		if field != "note_publish" && ch.IsDefault {
			out.Suggested = ch.Value
		}
		if field == "note_publish" && strings.HasPrefix(strings.ToLower(ch.Label), "internal") {
			internal = append(internal, ch.Value)
		}
	}
	if len(internal) == 1 {
		out.Suggested = internal[0]
	}
	return out, nil
}

// pickValue returns the value of entity's picklist field to send: set
// when it is one (a setting), else the picklist's default, else the
// active value whose label is label (case aside), else the first active
// value in Autotask's order; what names the field in the error when the
// picklist is empty or set is not in it.
func (c *Client) pickValue(ctx context.Context, entity, field, set, label, what string) (int, error) {
	list, err := c.picklist(ctx, entity, field, false)
	if err != nil {
		return 0, err
	}
	var byDefault, byLabel, first string
	for _, ch := range list {
		if set != "" && ch.Value == set {
			return strconv.Atoi(ch.Value)
		}
		if ch.IsDefault && byDefault == "" {
			byDefault = ch.Value
		}
		if label != "" && strings.EqualFold(strings.TrimSpace(ch.Label), label) && byLabel == "" {
			byLabel = ch.Value
		}
		if first == "" {
			first = ch.Value
		}
	}
	if set != "" {
		return 0, core.Errorf(core.KindInvalid, "the %s %s set for this integration is not an active value in Autotask: pick it again on the setup page", what, set)
	}
	for _, v := range []string{byDefault, byLabel, first} {
		if v != "" {
			return strconv.Atoi(v)
		}
	}
	return 0, core.Errorf(core.KindInvalid, "Autotask lists no active %s: add one in Autotask, then pick it on the setup page", what)
}
