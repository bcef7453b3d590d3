package web

import (
	"context"
	"net/http"
	"slices"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

type choiceOut struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

type choicesOut struct {
	Field     string      `json:"field"`
	Options   []choiceOut `json:"options"`
	Suggested string      `json:"suggested,omitempty"`
	Hint      string      `json:"hint,omitempty"`
}

// handleAdminFieldChoices handles "GET /api/v1/admin/integrations/{id}/choices?field=":
// the values a Choosable setting of a saved integration may take, read
// from the PSA with the saved settings (psa.FieldChooser), for the admin
// to pick one. It changes nothing: the admin saves the form as usual.
func (s *Server) handleAdminFieldChoices(w http.ResponseWriter, r *http.Request) {
	_, in, err := s.adminIntegration(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	field := r.URL.Query().Get("field")
	d, client, err := s.freshClient(in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer func() { _ = psa.Close(client) }()
	if !slices.ContainsFunc(d.Fields, func(f psa.Field) bool { return f.Name == field && f.Choosable }) {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "%s offers no choices for the setting %q", d.Name, field))
		return
	}
	fc, ok := client.(psa.FieldChooser)
	if !ok {
		s.writeError(w, r, core.Errorf(core.KindInvalid, "%s offers no choices for the setting %q", d.Name, field))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), psaCheckTimeout)
	defer cancel()
	ch, err := fc.Choices(ctx, field)
	if err != nil {
		s.writeError(w, r, s.psaFailure(r, d.Name, "Reading the choices failed", err))
		return
	}
	out := choicesOut{Field: field, Options: []choiceOut{}, Suggested: ch.Suggested, Hint: ch.Hint}
	for _, o := range ch.Options {
		out.Options = append(out.Options, choiceOut{Value: o.Value, Label: o.Label})
	}
	writeJSON(w, http.StatusOK, out)
}
