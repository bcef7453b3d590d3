package psa

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/countersign/countersign/core"
)

// idRE is what a descriptor id looks like: it is stored with integrations
// and appears in URL paths (/static/psa/{id}/…).
var idRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// Registry holds the PSA plugins compiled into the server. Build it with
// [NewRegistry]; it is read-only afterwards and safe for concurrent use.
type Registry struct {
	byID map[string]Descriptor
	ids  []string // sorted
}

// NewRegistry returns a registry of descs. It reports an error, rather than
// panicking, when a descriptor has an empty or duplicate ID, no New, a
// field without a name or with a name used twice, an asset it names but
// does not ship, or an inbound path of the wrong shape or claimed twice,
// so that wiring mistakes fail the server's start (and its tests) with a
// message.
func NewRegistry(descs ...Descriptor) (*Registry, error) {
	r := &Registry{byID: make(map[string]Descriptor, len(descs))}
	for i, d := range descs {
		if strings.TrimSpace(d.ID) == "" {
			return nil, fmt.Errorf("psa: descriptor %d (%q) has an empty id", i, d.Name)
		}
		if !idRE.MatchString(d.ID) {
			return nil, fmt.Errorf("psa: descriptor id %q must be lower-case letters, digits and dashes: it appears in URLs", d.ID)
		}
		if _, dup := r.byID[d.ID]; dup {
			return nil, fmt.Errorf("psa: duplicate descriptor id %q", d.ID)
		}
		if d.New == nil {
			return nil, fmt.Errorf("psa: descriptor %q has no New", d.ID)
		}
		seen := make(map[string]bool, len(d.Fields))
		for _, f := range d.Fields {
			if f.Name == "" || seen[f.Name] {
				return nil, fmt.Errorf("psa: descriptor %q: field name %q is empty or repeated", d.ID, f.Name)
			}
			seen[f.Name] = true
		}
		if err := d.checkSeam(); err != nil {
			return nil, err
		}
		for _, p := range d.Inbound.LegacyPaths {
			for _, other := range r.byID {
				if slices.Contains(other.Inbound.LegacyPaths, p) {
					return nil, fmt.Errorf("psa: descriptors %q and %q both claim the inbound path %s", other.ID, d.ID, p)
				}
			}
		}
		r.byID[d.ID] = d
		r.ids = append(r.ids, d.ID)
	}
	slices.Sort(r.ids)
	return r, nil
}

// Get returns the descriptor with id, or an error of kind core.ErrNotFound.
func (r *Registry) Get(id string) (Descriptor, error) {
	d, ok := r.byID[id]
	if !ok {
		return Descriptor{}, core.Errorf(core.KindNotFound, "unknown PSA %q", id)
	}
	return d, nil
}

// List returns every descriptor, sorted by ID.
func (r *Registry) List() []Descriptor {
	out := make([]Descriptor, 0, len(r.ids))
	for _, id := range r.ids {
		out = append(out, r.byID[id])
	}
	return out
}
