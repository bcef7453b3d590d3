package autotask

import (
	"context"
	"errors"
	"net/http"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// The Insight record (IntegrationVendorInsights, newer than the 2020
// contract; reference, "Insights"). Whether a custom integration code may
// create one is unconfirmed, so a refusal says to add it by hand.

// insightScreenID is the one screen an Insight sits on here: the ticket
// detail page.
const insightScreenID = 1

// insightHeight is the Insight's height in Autotask, in pixels.
const insightHeight = 640

type wireInsight struct {
	ID               int64  `json:"id,omitempty"`
	Title            string `json:"title"`
	Description      string `json:"description,omitempty"`
	ReferenceURL     string `json:"referenceUrl"`
	Height           int    `json:"height,omitempty"`
	InsightKey       string `json:"insightKey,omitempty"`
	VendorSuppliedID string `json:"vendorSuppliedID,omitempty"`
	IsActive         bool   `json:"isActive"`
}

// InstallInsights creates the Insight record
// of the entries of type "Insight" (a LiveLink cannot be made through the
// API, and is skipped). An Insight with the same referenceUrl is kept, not
// duplicated. The admin still enables it on the ticket categories'
// Insights tab. It is not [psa.PodInstaller], whose contract (screens the
// PSA lists, every entry installed) an Insight does not fit; wiring it to
// the setup page's button is left to a PSA-neutral "install" capability.
func (c *Client) InstallInsights(ctx context.Context, entries []psa.PodEntry) ([]psa.InstalledPod, error) {
	const what = "create the Insight"
	var out []psa.InstalledPod
	for _, e := range entries {
		if e.Type != "Insight" {
			continue
		}
		ws, _, err := queryPage[wireInsight](ctx, c, what, "IntegrationVendorInsights", "managing insights",
			queryModel{MaxRecords: 10, Filter: []filter{eq("referenceUrl", e.URL)}})
		if err != nil {
			return out, insightRefused(what, err)
		}
		found := false
		for _, w := range ws {
			if w.ReferenceURL == e.URL {
				out = append(out, psa.InstalledPod{Screen: e.Screen, Ref: idRef(w.ID), ScreenID: insightScreenID})
				found = true
				break
			}
		}
		if found {
			continue
		}
		var cr created
		if err := c.do(ctx, call{what: what, op: "POST /V1.0/IntegrationVendorInsights", method: http.MethodPost,
			path: "V1.0/IntegrationVendorInsights", area: "creating insights",
			body: jsonBody(wireInsight{Title: e.Description, Description: "Verify the ticket's caller with Countersign",
				ReferenceURL: e.URL, Height: insightHeight, InsightKey: "countersign-ticket", VendorSuppliedID: "countersign", IsActive: true})}, &cr); err != nil {
			return out, insightRefused(what, err)
		}
		out = append(out, psa.InstalledPod{Screen: e.Screen, Ref: idRef(cr.ItemID), ScreenID: insightScreenID, Created: true})
	}
	return out, nil
}

// insightRefused explains an Insight the API would not create: the admin
// adds it by hand.
func insightRefused(what string, err error) error {
	var e *Error
	if errors.As(err, &e) && (e.Status == http.StatusForbidden || e.Status == http.StatusNotFound || e.Status == http.StatusMethodNotAllowed ||
		e.Status >= 500 && len(e.Errors) > 0 || core.ErrorKind(err) == core.KindInvalid) {
		return newError(what, core.KindForbidden, err,
			"Autotask did not let the API user create the Insight (%s): add it by hand with the Insight URL below", detail(e.Errors))
	}
	return err
}
