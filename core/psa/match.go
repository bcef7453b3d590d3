package psa

import (
	"slices"
	"strings"

	"github.com/countersign/countersign/core"
)

// Matches reports whether c meets every criterion of s, by the rules of
// [ContactSearch]: the e-mail exactly but for case, the phone after
// normalising c's numbers to E.164 (numbers stored without a country code
// read in region), the name against the first name, the last name or
// "First Last". Plugins check every contact their PSA returns with it,
// whatever the PSA's own matching rules are (often partial, sometimes
// undocumented).
func (s ContactSearch) Matches(c Contact, region string) bool {
	if s.Email != "" && !slices.ContainsFunc(c.Emails, func(e Email) bool {
		return strings.EqualFold(strings.TrimSpace(e.Address), strings.TrimSpace(s.Email))
	}) {
		return false
	}
	if s.Phone != "" && !slices.ContainsFunc(c.Phones, func(p Phone) bool {
		n, err := core.NormalizePhone(p.Number, region)
		return err == nil && n == s.Phone
	}) {
		return false
	}
	if s.Name != "" {
		q := strings.ToLower(strings.Join(strings.Fields(s.Name), " "))
		if q != strings.ToLower(strings.TrimSpace(c.FirstName)) && q != strings.ToLower(strings.TrimSpace(c.LastName)) &&
			q != strings.ToLower(strings.Join(strings.Fields(c.Name()), " ")) {
			return false
		}
	}
	return true
}
