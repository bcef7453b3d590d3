package core_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
)

// TestCheckPassword: the domain's minimum length (never below 8) and, when
// the domain wants complexity, AD's rules; without complexity only length
// and control characters count.
func TestCheckPassword(t *testing.T) {
	ad := core.PasswordPolicy{MinLength: 7, Complexity: true}
	long := core.PasswordPolicy{MinLength: 14, Complexity: false}
	tests := []struct {
		name, pw string
		pol      core.PasswordPolicy
		wantErr  string
	}{
		{name: "good", pw: "Spring-Tulip-42", pol: ad},
		{name: "our floor of 8 over the domain's 7", pw: "Ab1-xyz", pol: ad, wantErr: "at least 8"},
		{name: "two classes", pw: "springtulip42", pol: ad, wantErr: "three of"},
		{name: "account name", pw: "xPLEE-2024!", pol: ad, wantErr: "user name"},
		{name: "part of the name", pw: "Patterns-99", pol: ad, wantErr: "parts of your name"},
		{name: "control character", pw: "Spring\x00Tulip42", pol: ad, wantErr: "control"},
		{name: "too long", pw: string(make([]byte, 128)), pol: long, wantErr: "at most 127"},
		{name: "domain minimum 14", pw: "Spring-Tul-42", pol: long, wantErr: "at least 14"},
		{name: "no complexity wanted", pw: "springtulipgarden", pol: long},
		{name: "no complexity, name allowed", pw: "pleepleepleeplee", pol: long},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := core.CheckPassword(tc.pw, "plee", "Pat Lee", tc.pol)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, core.KindInvalid, core.ErrorKind(err))
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}
