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

// Choices offers the tenant's own note types and publish values for the
// note settings ([psa.FieldChooser]), suggesting the picklist's default
// type and the publish value labelled "Internal…".
func (c *Client) Choices(ctx context.Context, field string) (psa.Choices, error) {
	if field != "note_type" && field != "note_publish" {
		return psa.Choices{}, core.Errorf(core.KindInvalid, "autotask: no choices for the setting %q", field)
	}
	nc, err := c.NotePicklists(ctx)
	if err != nil {
		return psa.Choices{}, err
	}
	list, hint := nc.Types, "Your Autotask's ticket note types: pick the one verification notes should have."
	if field == "note_publish" {
		list, hint = nc.Publish, "Who sees verification notes in Autotask: pick an internal one."
	}
	out := psa.Choices{Options: []psa.Choice{}, Hint: hint}
	var internal []string
	for _, ch := range list {
		out.Options = append(out.Options, psa.Choice{Value: ch.Value, Label: ch.Label})
		if field == "note_type" && ch.IsDefault {
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
