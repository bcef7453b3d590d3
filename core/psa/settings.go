package psa

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/countersign/countersign/core"
)

// The settings codec: how an integration's settings, typed by an admin as
// lines of text, become the JSON config a plugin's New decodes, and back.
// It depends on the descriptor alone, so every PSA's settings are read,
// checked, kept and generated alike.

// MaxSettingLen bounds one setting's text.
const MaxSettingLen = 1000

// StoredSetting reads one setting of a stored config: a JSON string, or the raw JSON of
// anything else.
func StoredSetting(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if string(raw) == "null" {
		return ""
	}
	return string(raw)
}

// BuildSettings turns an admin's settings form into the plugin's JSON config:
// only the descriptor's fields, each one line of text; required ones
// present; a secret left blank keeps its value in old (the stored config).
// A Generated setting left blank keeps its stored value, or is made when it
// has none or is named in regenerate; what was made is returned too, for
// the admin to see once.
func BuildSettings(d Descriptor, in map[string]string, regenerate []string, old []byte) ([]byte, map[string]string, error) {
	fields := map[string]Field{}
	for _, f := range d.Fields {
		fields[f.Name] = f
	}
	names := make([]string, 0, len(in))
	for k := range in {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if _, ok := fields[k]; !ok {
			return nil, nil, core.Errorf(core.KindInvalid, "%s has no setting called %q", d.Name, core.ClipRunes(k, 40, core.Ellipsis))
		}
	}
	renew := map[string]bool{}
	for _, k := range regenerate {
		if f, ok := fields[k]; !ok || !f.Generated {
			return nil, nil, core.Errorf(core.KindInvalid, "%s has no generated setting called %q", d.Name, core.ClipRunes(k, 40, core.Ellipsis))
		}
		renew[k] = true
	}
	var stored map[string]json.RawMessage
	_ = json.Unmarshal(old, &stored)
	out := map[string]string{}
	var generated map[string]string
	for _, f := range d.Fields {
		v := strings.TrimSpace(in[f.Name])
		if err := checkSetting(f, v); err != nil {
			return nil, nil, err
		}
		if v == "" && (f.Kind == FieldSecret || f.Generated) && !renew[f.Name] {
			v = StoredSetting(stored[f.Name])
		}
		if v == "" && f.Generated {
			v = generateSetting(f)
			if generated == nil {
				generated = map[string]string{}
			}
			generated[f.Name] = v
		}
		if v == "" {
			if f.Required {
				return nil, nil, core.Errorf(core.KindInvalid, "%s is required", f.Label)
			}
			continue
		}
		out[f.Name] = v
	}
	cfg, err := json.Marshal(out)
	return cfg, generated, err
}

// generateSetting makes a Generated setting's value: for a secret, 32
// random bytes (256 bits) in unpadded base64url; otherwise a readable
// "countersign-" name with 48 random bits in hex, to tell one
// integration's credentials from another's.
func generateSetting(f Field) string {
	if f.Kind == FieldSecret {
		b := make([]byte, 32)
		_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "countersign-" + hex.EncodeToString(b)
}

// checkSetting checks one setting as text: valid UTF-8, bounded, one line;
// a setting that is not secret is also free of markup (hosts, ids, keys
// never hold < or >). Secrets are never quoted back.
func checkSetting(f Field, v string) error {
	switch {
	case !utf8.ValidString(v):
		return core.Errorf(core.KindInvalid, "%s is not valid text", f.Label)
	case len(v) > MaxSettingLen:
		return core.Errorf(core.KindInvalid, "%s must be at most %d characters", f.Label, MaxSettingLen)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return core.Errorf(core.KindInvalid, "%s must be one line without control characters", f.Label)
	case f.Kind != FieldSecret && strings.ContainsAny(v, "<>"):
		return core.Errorf(core.KindInvalid, "%s must not contain < or >", f.Label)
	}
	return nil
}

// MergeLearned adds what a client learned to its config, for fields the
// descriptor has and that are not secret.
func MergeLearned(d Descriptor, cfg []byte, learned map[string]string) ([]byte, error) {
	if len(learned) == 0 {
		return cfg, nil
	}
	var m map[string]string
	if err := json.Unmarshal(cfg, &m); err != nil {
		return nil, err
	}
	for _, f := range d.Fields {
		if v, ok := learned[f.Name]; ok && v != "" && f.Kind != FieldSecret && checkSetting(f, v) == nil {
			m[f.Name] = v
		}
	}
	return json.Marshal(m)
}
