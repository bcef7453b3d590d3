package core

import (
	"regexp"
	"testing"
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// FuzzNormalizePhone: phone numbers come from PSAs, contacts and callers.
// Any input either fails cleanly or gives E.164 that normalises to itself.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"(555) 010-0142", "+44 7700 900123", "555-010-0100 x12", "call me", "", "+", "00441234567890", "٠١٢٣٤٥٦٧٨٩"} {
		f.Add(s, "US")
	}
	f.Add("07700 900123", "GB")
	f.Add("5550100142", "")
	f.Add("10", "DE") // once normalised to "+4910"
	f.Fuzz(func(t *testing.T, raw, region string) {
		got, err := NormalizePhone(raw, region)
		if err != nil {
			if ErrorKind(err) != KindInvalid {
				t.Fatalf("NormalizePhone(%q, %q): error of kind %s: %v", raw, region, ErrorKind(err), err)
			}
			return
		}
		if !e164.MatchString(got) {
			t.Fatalf("NormalizePhone(%q, %q) = %q, not E.164", raw, region, got)
		}
		again, err := NormalizePhone(got, region)
		if err != nil || again != got {
			t.Fatalf("NormalizePhone(%q) = %q, %v: E.164 does not normalise to itself", got, again, err)
		}
	})
}

// TestNormalizePhoneAmbiguous: an E.164 form that reads as another number
// is refused rather than stored as one and texted as the other.
func TestNormalizePhoneAmbiguous(t *testing.T) {
	for _, raw := range []string{"+3580000000000", "+358000000000"} {
		if got, err := NormalizePhone(raw, "FI"); err == nil {
			t.Errorf("NormalizePhone(%q) = %q, want an error", raw, got)
		}
	}
	for raw, want := range map[string]string{"+358 40 1234567": "+358401234567", "040 1234567": "+358401234567"} {
		if got, err := NormalizePhone(raw, "FI"); err != nil || got != want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
}

// TestNormalizePhoneTooLong: E.164 has at most 15 digits, whatever a
// region's length rules allow.
func TestNormalizePhoneTooLong(t *testing.T) {
	if got, err := NormalizePhone("+4910000000000000", "0"); err == nil {
		t.Errorf("NormalizePhone(+49 16 digits) = %q, want an error", got)
	}
	if got, err := NormalizePhone("+49 1512 3456789", "DE"); err != nil || got != "+4915123456789" {
		t.Errorf("NormalizePhone(+49 1512 3456789) = %q, %v", got, err)
	}
}
