package core

import "testing"

func TestIsPublicMailDomain(t *testing.T) {
	for d, want := range map[string]bool{
		"gmail.com": true, "GMail.COM": true, "outlook.com.": true, "proton.me": true,
		"fabrikam.example": false, "gmail.com.evil.example": false, "": false, "mail.fabrikam.com": false,
	} {
		if got := isPublicMailDomain(d); got != want {
			t.Errorf("isPublicMailDomain(%q) = %v, want %v", d, got, want)
		}
	}
}
