package psa_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBuildSettingsGenerated: a Generated setting left blank is made on the
// first save and returned once, kept (not returned) on later saves, made
// anew only when asked, and a regenerate naming anything else is refused.
func TestBuildSettingsGenerated(t *testing.T) {
	d := psa.Descriptor{ID: "x", Name: "X", Fields: []psa.Field{
		{Name: "base_url", Label: "Site", Kind: psa.FieldURL, Required: true},
		{Name: "hook_user", Label: "Hook user", Kind: psa.FieldText, Generated: true},
		{Name: "hook_password", Label: "Hook password", Kind: psa.FieldSecret, Generated: true},
		{Name: "api_key", Label: "Key", Kind: psa.FieldSecret},
	}}
	decode := func(cfg []byte) map[string]string {
		var m map[string]string
		require.NoError(t, json.Unmarshal(cfg, &m))
		return m
	}
	in := map[string]string{"base_url": "https://x.example", "api_key": "k"}
	cfg, gen, err := psa.BuildSettings(d, in, nil, nil)
	require.NoError(t, err)
	first := decode(cfg)
	assert.Regexp(t, `^countersign-[0-9a-f]{12}$`, first["hook_user"])
	assert.Regexp(t, `^[A-Za-z0-9_-]{43}$`, first["hook_password"], "256 bits in base64url")
	assert.Equal(t, map[string]string{"hook_user": first["hook_user"], "hook_password": first["hook_password"]}, gen)

	// Saved again with the form's blanks: kept, nothing to show.
	cfg2, gen2, err := psa.BuildSettings(d, map[string]string{"base_url": "https://x.example"}, nil, cfg)
	require.NoError(t, err)
	assert.Equal(t, first, decode(cfg2))
	assert.Empty(t, gen2)

	// Asked for a new password: only it changes.
	cfg3, gen3, err := psa.BuildSettings(d, map[string]string{"base_url": "https://x.example"}, []string{"hook_password"}, cfg)
	require.NoError(t, err)
	third := decode(cfg3)
	assert.Equal(t, first["hook_user"], third["hook_user"])
	assert.NotEqual(t, first["hook_password"], third["hook_password"])
	assert.Equal(t, map[string]string{"hook_password": third["hook_password"]}, gen3)

	// A value typed by the admin wins over generation.
	cfg4, gen4, err := psa.BuildSettings(d, map[string]string{"base_url": "https://x.example", "hook_user": "mine"}, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, "mine", decode(cfg4)["hook_user"])
	assert.NotContains(t, gen4, "hook_user")

	for _, bad := range []string{"api_key", "base_url", "nope"} {
		_, _, err := psa.BuildSettings(d, in, []string{bad}, cfg)
		assert.Equal(t, core.KindInvalid, core.ErrorKind(err), bad)
		assert.Regexp(t, regexp.MustCompile(`no generated setting`), core.ErrorMessage(err))
	}
}

// TestBuildSettingsChecks: only the descriptor's fields, each one line of
// bounded text; required ones present; a blank secret keeps the stored one;
// and what a client learned is merged for fields that are not secret.
func TestBuildSettingsChecks(t *testing.T) {
	d := psa.Descriptor{ID: "x", Name: "X", Fields: []psa.Field{
		{Name: "base_url", Label: "Site", Kind: psa.FieldURL, Required: true},
		{Name: "api_key", Label: "Key", Kind: psa.FieldSecret, Required: true},
		{Name: "codebase", Label: "Codebase", Kind: psa.FieldText},
	}}
	for name, in := range map[string]map[string]string{
		"unknown field":   {"base_url": "https://x.example", "api_key": "k", "nope": "1"},
		"missing":         {"api_key": "k"},
		"two lines":       {"base_url": "https://x.example\nevil", "api_key": "k"},
		"markup":          {"base_url": "https://x.example/<script>", "api_key": "k"},
		"too long":        {"base_url": "https://x.example/" + strings.Repeat("a", psa.MaxSettingLen), "api_key": "k"},
		"not utf-8":       {"base_url": "https://x.example/\xff", "api_key": "k"},
		"secret required": {"base_url": "https://x.example"},
	} {
		_, _, err := psa.BuildSettings(d, in, nil, nil)
		assert.Equal(t, core.KindInvalid, core.ErrorKind(err), name)
		assert.NotContains(t, core.ErrorMessage(err), "evil", name)
	}
	cfg, _, err := psa.BuildSettings(d, map[string]string{"base_url": " https://x.example ", "api_key": "k1"}, nil, nil)
	require.NoError(t, err)
	assert.JSONEq(t, `{"base_url":"https://x.example","api_key":"k1"}`, string(cfg), "trimmed; blanks left out")
	cfg, _, err = psa.BuildSettings(d, map[string]string{"base_url": "https://x.example"}, nil, cfg)
	require.NoError(t, err)
	assert.JSONEq(t, `{"base_url":"https://x.example","api_key":"k1"}`, string(cfg), "a blank secret keeps the stored one")

	cfg, err = psa.MergeLearned(d, cfg, map[string]string{"codebase": "v2025_1", "api_key": "stolen", "other": "x"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"base_url":"https://x.example","api_key":"k1","codebase":"v2025_1"}`, string(cfg))
	assert.Equal(t, "3", psa.StoredSetting(json.RawMessage(`3`)))
	assert.Equal(t, "", psa.StoredSetting(json.RawMessage(`null`)))
}
