package psatest

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// LinkShape is how a fake writes the next-page URL it hands the client (a
// Link header's rel="next", a nextPageUrl field). Real PSAs do not write
// it the way the client built its request: ConnectWise puts a slash before
// the query ("…/company/contacts/?page=2"), doubles the slash after its
// codebase, and echoes the host in whatever case it was called. A client
// must follow those, and must refuse a link to any other host or resource:
// following it would send the PSA credentials there.
type LinkShape string

// The shapes [LinkShaper] fakes write.
const (
	LinkAsBuilt       LinkShape = ""               // the request's own URL with the next page
	LinkTrailingSlash LinkShape = "trailing-slash" // a "/" before the query: followed
	LinkDoubleSlash   LinkShape = "double-slash"   // a "//" inside the path: followed
	LinkUpperCaseHost LinkShape = "upper-host"     // the host in upper case: followed
	LinkOtherHost     LinkShape = "other-host"     // another host: refused
	LinkOtherPath     LinkShape = "other-path"     // another resource on the same host: refused
)

// LinkShaper is implemented by fakes of PSAs that hand the client the next
// page's URL. Every such fake must implement it, so that the suite holds
// every client to the shapes real PSAs write. A fake that pages by page
// number or cursor in the body only has no URL to shape.
type LinkShaper interface {
	// SetLinkShape makes the fake write its next-page URLs in shape s from
	// now on.
	SetLinkShape(s LinkShape)
}

// ShapeLink rewrites next, a next-page URL as the fake would write it, in
// shape s. Fakes call it so that every fake means the same by each shape.
// It panics on a URL that does not parse: fakes write their own.
func ShapeLink(next string, s LinkShape) string {
	u, err := url.Parse(next)
	if err != nil {
		panic(fmt.Sprintf("psatest: ShapeLink: %v", err))
	}
	switch s {
	case LinkTrailingSlash:
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
	case LinkDoubleSlash:
		if i := strings.Index(strings.TrimPrefix(u.Path, "/"), "/"); i >= 0 {
			u.Path = u.Path[:i+1] + "/" + u.Path[i+1:]
		}
	case LinkUpperCaseHost:
		u.Host = strings.ToUpper(u.Host)
	case LinkOtherHost:
		u.Host = "attacker.example"
	case LinkOtherPath:
		i := strings.LastIndex(strings.TrimSuffix(u.Path, "/"), "/")
		u.Path = u.Path[:i+1] + "elsewhere"
	}
	u.RawPath = ""
	return u.String()
}

// testPagingLinkShapes pages companies and contacts with each next-page
// shape a real PSA writes, and checks that links elsewhere are refused
// with kind core.ErrUnavailable, not followed.
func testPagingLinkShapes(t *testing.T, h Harness) {
	for _, tc := range []struct {
		shape  LinkShape
		follow bool
	}{
		{LinkTrailingSlash, true},
		{LinkDoubleSlash, true},
		{LinkUpperCaseHost, true},
		{LinkOtherHost, false},
		{LinkOtherPath, false},
	} {
		t.Run(string(tc.shape), func(t *testing.T) {
			e := newEnv(t, h)
			ls, ok := e.fake.(LinkShaper)
			if !ok {
				t.Skip("the fake hands out no next-page URLs (it does not implement psatest.LinkShaper)")
			}
			var contacts []psa.Contact
			var companies []psa.Company
			for i := range 5 {
				companies = append(companies, psa.Company{Ref: fmt.Sprint(1101 + i), Name: fmt.Sprintf("Company %d", i)})
				contacts = append(contacts, psa.Contact{
					Ref: fmt.Sprint(2101 + i), CompanyRef: companies[0].Ref, FirstName: "Pat", LastName: fmt.Sprintf("Page%d", i),
					Emails: []psa.Email{{Address: fmt.Sprintf("pat%d@acme-dental.example", i), Default: true}},
				})
			}
			e.fake.Seed(companies, contacts, nil)
			e.fake.SetPageSize(2)
			ls.SetLinkShape(tc.shape)

			if f, ok := e.client.(psa.ContactFinder); ok {
				before := e.fake.Requests()
				got, err := f.FindContacts(t.Context(), companies[0].Ref, psa.ContactSearch{})
				if tc.follow {
					require.NoError(t, err, "a %s next-page link is the PSA's own", tc.shape)
					assert.ElementsMatch(t, contactRefs(contacts), contactRefs(got))
				} else {
					require.ErrorIs(t, err, core.ErrUnavailable, "a %s next-page link is refused", tc.shape)
					assert.Equal(t, 1, e.fake.Requests()-before, "the link was not followed")
				}
			}
			if l, ok := e.client.(psa.CompanyLister); ok {
				got, err := psa.AllCompanies(t.Context(), l, 2)
				if tc.follow {
					require.NoError(t, err, "a %s next-page link is the PSA's own", tc.shape)
					assert.ElementsMatch(t, companyRefs(companies), companyRefs(got))
				} else {
					require.ErrorIs(t, err, core.ErrUnavailable, "a %s next-page link is refused", tc.shape)
				}
			}
		})
	}
}
