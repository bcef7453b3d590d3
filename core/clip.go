package core

import (
	"strings"
	"unicode/utf8"
)

// Ellipsis is the mark a clipped string ends with where a reader should see
// that words were cut.
const Ellipsis = "…"

// The clip helpers cut a string that reaches a message, a log line, a row or
// a vendor's field to a bound. They differ on purpose in two ways, named in
// each: whether the bound counts runes (what a reader sees, what a PSA's
// field limit counts) or bytes (what a wire format or a column caps), and
// whether the mark added to a cut string is beyond the bound or within it.
// Each returns s unchanged when it is within the bound, and never returns
// half a rune.

// ClipRunes returns s if it has at most n runes, else its first n runes
// followed by mark ("" for none). The mark is beyond the bound: use it where
// n is how much of the words to keep, as when quoting input in a message.
func ClipRunes(s string, n int, mark string) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:max(n, 0)]) + mark
}

// FitRunes returns s if it has at most n runes, else as many of its first
// runes as leave room for mark, followed by mark: the result, mark
// included, is at most n runes, for a field whose limit is hard (a vendor
// refuses a longer title).
func FitRunes(s string, n int, mark string) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	keep := max(n-utf8.RuneCountInString(mark), 0)
	return string([]rune(s)[:keep]) + mark
}

// ClipBytes returns s if it is at most n bytes long, else its first n bytes
// as valid UTF-8 (a rune cut in half, or any byte that is not UTF-8,
// dropped) followed by mark ("" for none). The mark is beyond the bound.
func ClipBytes(s string, n int, mark string) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:max(n, 0)], "") + mark
}
