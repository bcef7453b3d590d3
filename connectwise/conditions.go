package connectwise

import (
	"strings"
	"unicode"

	"github.com/countersign/countersign/core"
)

// quote returns v as a ConnectWise condition string literal ("v").
//
// ConnectWise documents no escape for a double quote inside a string, and
// gives "[" a meaning of its own (reference §5.1), so a value holding ", \,
// [, ] or a control character is refused rather than escaped: a caller's
// email address or name must never be able to close the literal and append
// conditions of its own (`x" OR id>0 OR firstName="`). Real email
// addresses, phone numbers and names do not need those characters.
func quote(field, v string) (string, error) {
	for _, r := range v {
		if r == '"' || r == '\\' || r == '[' || r == ']' || unicode.IsControl(r) {
			return "", core.Errorf(core.KindInvalid, "the %s to search for contains %q, which ConnectWise searches cannot carry safely", field, r)
		}
	}
	return `"` + v + `"`, nil
}

// maxNameWords bounds the splits a name search tries, and so the length of
// the condition (ConnectWise asks for URLs under about 2,000 characters).
const maxNameWords = 5

// nameCondition returns a condition matching contacts whose first name,
// last name, or "first last" equals name (already whitespace-normalised):
// for "Mary Ann Lee" that is firstName or lastName "Mary Ann Lee", or
// firstName "Mary" with lastName "Ann Lee", or "Mary Ann" with "Lee".
func nameCondition(name string) (string, error) {
	words := strings.Fields(name)
	if len(words) > maxNameWords {
		return "", core.Errorf(core.KindInvalid, "a name to search for has at most %d words", maxNameWords)
	}
	full, err := quote("name", name)
	if err != nil {
		return "", err
	}
	parts := []string{"firstName=" + full, "lastName=" + full}
	for i := 1; i < len(words); i++ {
		first, _ := quote("name", strings.Join(words[:i], " "))
		last, _ := quote("name", strings.Join(words[i:], " "))
		parts = append(parts, "(firstName="+first+" AND lastName="+last+")")
	}
	return "(" + strings.Join(parts, " OR ") + ")", nil
}
