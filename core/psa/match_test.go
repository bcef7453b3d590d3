package psa_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/countersign/countersign/core/psa"
)

func TestContactSearchMatches(t *testing.T) {
	c := psa.Contact{FirstName: "Mary Ann", LastName: "Smith",
		Emails: []psa.Email{{Address: " Mary@Acme.example "}}, Phones: []psa.Phone{{Number: "(555) 010-0142"}, {Number: "not a number"}}}
	for _, tc := range []struct {
		s    psa.ContactSearch
		want bool
	}{
		{psa.ContactSearch{}, true},
		{psa.ContactSearch{Email: "mary@acme.example"}, true},
		{psa.ContactSearch{Email: "mary@acme.exampl"}, false},
		{psa.ContactSearch{Phone: "+15550100142"}, true},
		{psa.ContactSearch{Phone: "+15550100143"}, false},
		{psa.ContactSearch{Name: "mary  ann"}, true},
		{psa.ContactSearch{Name: "SMITH"}, true},
		{psa.ContactSearch{Name: "Mary Ann Smith"}, true},
		{psa.ContactSearch{Name: "Mary"}, false},
		{psa.ContactSearch{Name: "smith", Email: "other@acme.example"}, false},
	} {
		assert.Equal(t, tc.want, tc.s.Matches(c, "US"), "%+v", tc.s)
	}
	assert.False(t, psa.ContactSearch{Phone: "+445550100142"}.Matches(c, "US"), "read in the region's numbering")
}
