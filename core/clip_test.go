package core_test

import (
	"testing"
	"unicode/utf8"

	"github.com/countersign/countersign/core"
)

func TestClip(t *testing.T) {
	tests := []struct {
		name string
		clip func(string, int, string) string
		s    string
		n    int
		mark string
		want string
	}{
		{"runes within", core.ClipRunes, "héllo", 5, core.Ellipsis, "héllo"},
		{"runes cut, mark beyond", core.ClipRunes, "héllo", 2, core.Ellipsis, "hé…"},
		{"runes cut, no mark", core.ClipRunes, "héllo", 2, "", "hé"},
		{"runes zero", core.ClipRunes, "héllo", 0, core.Ellipsis, "…"},
		{"runes negative", core.ClipRunes, "héllo", -1, "", ""},
		{"fit within", core.FitRunes, "héllo", 5, core.Ellipsis, "héllo"},
		{"fit cut, mark within", core.FitRunes, "héllo", 4, core.Ellipsis, "hél…"},
		{"fit bound smaller than mark", core.FitRunes, "héllo", 2, "...", "..."},
		{"bytes within", core.ClipBytes, "héllo", 6, core.Ellipsis, "héllo"},
		{"bytes cut at a rune boundary", core.ClipBytes, "héllo", 3, core.Ellipsis, "hé…"},
		{"bytes cut inside a rune drops it", core.ClipBytes, "héllo", 2, "", "h"},
		{"bytes cut drops invalid bytes", core.ClipBytes, "a\xffbcd", 3, "", "ab"},
		{"bytes zero", core.ClipBytes, "héllo", 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.clip(tt.s, tt.n, tt.mark)
			if got != tt.want {
				t.Errorf("clip(%q, %d, %q) = %q, want %q", tt.s, tt.n, tt.mark, got, tt.want)
			}
			if !utf8.ValidString(got) && utf8.ValidString(tt.s) {
				t.Errorf("clip(%q, %d) = %q, not valid UTF-8", tt.s, tt.n, got)
			}
		})
	}
}
