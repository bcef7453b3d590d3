package psafake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Contract is the part of a vendor's API contract a fake holds clients to:
// its endpoints and the models their bodies use. Build it with
// [ParseContract]; it is read-only afterwards and safe for concurrent use.
type Contract struct {
	Source    string             `json:"source"`
	Endpoints []Endpoint         `json:"endpoints"`
	Models    map[string][]Field `json:"models"`
	// FoldCase makes field names match whatever their case, for vendors
	// whose documents spell fields otherwise than their API sends them
	// (Autotask's Swagger is PascalCase, its JSON camelCase).
	FoldCase bool `json:"fold_case,omitempty"`

	routes map[string][]route // by method
	fields map[string]map[string]Field
}

// Endpoint is one operation of the contract. Path is relative to the API's
// base ("/company/contacts/{id}"); a segment in braces is a placeholder.
type Endpoint struct {
	Op     string   `json:"op"`
	Method string   `json:"method"`
	Path   string   `json:"path"`
	Query  []string `json:"query"`
	Body   *string  `json:"body"` // the body's type (a model, or []Model); nil for none
}

// Route returns "METHOD /path/{template}", the name fakes log and key their
// handlers by.
func (ep *Endpoint) Route() string { return ep.Method + " " + ep.Path }

// AllowsQuery reports whether ep accepts the query parameter name.
func (ep *Endpoint) AllowsQuery(name string) bool { return slices.Contains(ep.Query, name) }

// Field is one JSON field of a model, with its type in the grammar of the
// package documentation ("*string", "NullableInt32", "[]ContactCommunicationItem").
type Field struct {
	JSON     string `json:"json"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
}

type route struct {
	segs []string // "" for a placeholder
	ep   *Endpoint
}

// ParseContract parses a contract file (see the package documentation). A
// file without endpoints or without models is an error: a fake that cannot
// check the contract checks nothing.
func ParseContract(b []byte) (*Contract, error) {
	var raw struct {
		Source    string                     `json:"source"`
		Endpoints []Endpoint                 `json:"endpoints"`
		Models    map[string]json.RawMessage `json:"models"`
		FoldCase  bool                       `json:"fold_case"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("psafake: parse contract: %w", err)
	}
	if len(raw.Endpoints) == 0 || len(raw.Models) == 0 {
		return nil, errors.New("psafake: the contract has no endpoints or no models")
	}
	c := &Contract{Source: raw.Source, Endpoints: raw.Endpoints, Models: map[string][]Field{}, FoldCase: raw.FoldCase}
	for name, m := range raw.Models {
		var fs []Field
		if json.Unmarshal(m, &fs) != nil {
			continue // an {"enum": […]} model: a plain value, checked by its type
		}
		c.Models[name] = fs
	}
	c.index()
	return c, nil
}

// MustParseContract is [ParseContract] for a contract embedded in a fake's
// package, which cannot be wrong at run time without a broken build.
func MustParseContract(b []byte) *Contract {
	c, err := ParseContract(b)
	if err != nil {
		panic(err)
	}
	return c
}

func (c *Contract) index() {
	c.routes = map[string][]route{}
	for i := range c.Endpoints {
		ep := &c.Endpoints[i]
		var segs []string
		for _, s := range strings.Split(strings.Trim(ep.Path, "/"), "/") {
			// Placeholders, including truncated route regexes
			// ("{memberIdentifier:regex(^(types. |("), match one segment.
			if strings.HasPrefix(s, "{") {
				s = ""
			}
			segs = append(segs, s)
		}
		c.routes[ep.Method] = append(c.routes[ep.Method], route{segs: segs, ep: ep})
	}
	c.fields = map[string]map[string]Field{}
	for name, fs := range c.Models {
		m := map[string]Field{}
		for _, f := range fs {
			m[c.key(f.JSON)] = f
		}
		c.fields[name] = m
	}
}

func (c *Contract) key(name string) string {
	if c.FoldCase {
		return strings.ToLower(name)
	}
	return name
}

// Match returns the endpoint for method and path (relative to the API's
// base, e.g. "/company/contacts/12"). Literal segments match
// case-sensitively and beat placeholders: /company/contacts/count is not
// /company/contacts/{id}. otherMethods says whether the path exists under
// another method (a 405 rather than a 404).
func (c *Contract) Match(method, path string) (ep *Endpoint, otherMethods bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, s := range segs {
		if s == "" {
			return nil, false
		}
	}
	best := func(rs []route) *Endpoint {
		var found *Endpoint
		bestLiterals := -1
		for _, r := range rs {
			if len(r.segs) != len(segs) {
				continue
			}
			lit, ok := 0, true
			for i, s := range r.segs {
				if s == "" {
					continue
				}
				if s != segs[i] {
					ok = false
					break
				}
				lit++
			}
			if ok && lit > bestLiterals {
				found, bestLiterals = r.ep, lit
			}
		}
		return found
	}
	if ep := best(c.routes[method]); ep != nil {
		return ep, false
	}
	for m, rs := range c.routes {
		if m != method && best(rs) != nil {
			return nil, true
		}
	}
	return nil, false
}

// HasModel reports whether the contract declares model name.
func (c *Contract) HasModel(name string) bool {
	_, ok := c.fields[name]
	return ok
}

// ModelField returns the field named json of model.
func (c *Contract) ModelField(model, json string) (Field, bool) {
	f, ok := c.fields[model][c.key(json)]
	return f, ok
}

// MissingFieldsError is what [Contract.ValidateBody] returns when a POST or
// PUT body lacks required fields: the vendor's own validation error, which
// a fake answers as the vendor would rather than as a violation.
type MissingFieldsError struct {
	Model  string
	Fields []string
}

func (e *MissingFieldsError) Error() string {
	return fmt.Sprintf("%s misses required fields %s", e.Model, strings.Join(e.Fields, ", "))
}

// ValidateBody checks a request body against the endpoint's body model: no
// body when the contract has none; otherwise JSON whose every key, at every
// level, the model declares, with values of the declared kinds; and, for
// POST and PUT, every required key present (a [*MissingFieldsError]
// otherwise).
func (c *Contract) ValidateBody(ep *Endpoint, body []byte) error {
	body = bytes.TrimSpace(body)
	if ep.Body == nil {
		if len(body) > 0 {
			return fmt.Errorf("%s %s takes no body", ep.Method, ep.Path)
		}
		return nil
	}
	if len(body) == 0 {
		return fmt.Errorf("%s %s needs a %s body", ep.Method, ep.Path, *ep.Body)
	}
	if !json.Valid(body) {
		return errors.New("the body is not valid JSON")
	}
	required := ep.Method == "POST" || ep.Method == "PUT"
	return c.checkValue(*ep.Body, body, "", required)
}

// ValidateModel checks v (JSON) against model, or []model when list: a
// fake's own answers go through it, so that they hold only fields the
// vendor would send. Required fields are not checked: answers may be
// partial (ConnectWise's fields=…).
func (c *Contract) ValidateModel(model string, v []byte, list bool) error {
	typ := model
	if list {
		typ = "[]" + model
	}
	return c.checkValue(typ, v, "", false)
}

var nullables = map[string]string{"Bool": "bool", "Int32": "int32", "Int64": "int64", "Float64": "float64", "String": "string"}

// checkValue checks raw against the type typ.
func (c *Contract) checkValue(typ string, raw json.RawMessage, path string, required bool) error {
	name := path
	if name == "" {
		name = "the body"
	}
	typ, nullable := contractType(typ)
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		if nullable || typ == "interface{}" {
			return nil
		}
		return fmt.Errorf("%s must not be null", name)
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if known, err := checkScalar(typ, v, name); known {
		return err
	}
	switch {
	case strings.HasPrefix(typ, "[]"):
		return c.checkArray(typ[2:], raw, path, name, required)
	case strings.HasPrefix(typ, "map[string]"):
		return c.checkMap(strings.TrimPrefix(typ, "map[string]"), raw, path, name)
	}
	return c.checkModel(typ, raw, path, name, required)
}

// contractType is the type a value of the generator's type typ is
// checked as, and whether it may be null.
func contractType(typ string) (string, bool) {
	if typ == "map[string]interface{}" || typ == "map[string]map[string]interface{}" {
		// Generator artefacts that carry any JSON, scalars included
		// (ConnectWise's PatchOperation.value).
		typ = "interface{}"
	}
	nullable := false
	if t, ok := strings.CutPrefix(typ, "*"); ok {
		typ, nullable = t, true
	}
	if t, ok := strings.CutPrefix(typ, "Nullable"); ok {
		typ, nullable = nullables[t], true
	}
	if strings.HasPrefix(typ, "[]") || strings.HasPrefix(typ, "map[") {
		nullable = true // nil slices and maps marshal as null
	}
	return typ, nullable
}

// checkScalar checks v, decoded with numbers kept, against a scalar type
// (or any JSON); known is false for an array, map or model type.
func checkScalar(typ string, v any, name string) (known bool, err error) {
	switch typ {
	case "interface{}":
		return true, nil
	case "string":
		if _, ok := v.(string); !ok {
			return true, fmt.Errorf("%s must be a string", name)
		}
	case "bool":
		if _, ok := v.(bool); !ok {
			return true, fmt.Errorf("%s must be true or false", name)
		}
	case "int32", "int64":
		n, ok := v.(json.Number)
		if !ok {
			return true, fmt.Errorf("%s must be a number", name)
		}
		i, err := n.Int64()
		if err != nil || typ == "int32" && (i < math.MinInt32 || i > math.MaxInt32) {
			return true, fmt.Errorf("%s must be a %s-bit integer", name, typ[3:])
		}
	case "float64":
		if _, ok := v.(json.Number); !ok {
			return true, fmt.Errorf("%s must be a number", name)
		}
	case "time.Time":
		s, ok := v.(string)
		if !ok {
			return true, fmt.Errorf("%s must be a date-time string", name)
		}
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			return true, fmt.Errorf("%s must be an RFC 3339 date-time", name)
		}
	default:
		return false, nil
	}
	return true, nil
}

// checkArray checks raw as an array of elem.
func (c *Contract) checkArray(elem string, raw json.RawMessage, path, name string, required bool) error {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return fmt.Errorf("%s must be an array", name)
	}
	for i, it := range items {
		if err := c.checkValue(elem, it, fmt.Sprintf("%s[%d]", path, i), required); err != nil {
			return err
		}
	}
	return nil
}

// checkMap checks raw as an object whose values are elem.
func (c *Contract) checkMap(elem string, raw json.RawMessage, path, name string) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s must be an object", name)
	}
	for k, it := range m {
		if err := c.checkValue(elem, it, path+"."+k, false); err != nil {
			return err
		}
	}
	return nil
}

// checkModel checks raw as an object of the contract's model typ: only
// declared fields, each of its type, in key order; with required, none
// of the model's required fields missing.
func (c *Contract) checkModel(typ string, raw json.RawMessage, path, name string, required bool) error {
	fields, ok := c.fields[typ]
	if !ok {
		return fmt.Errorf("%s has type %s, which the contract does not declare", name, typ)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s must be a %s object", name, typ)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	seen := map[string]bool{}
	for _, k := range keys {
		f, ok := fields[c.key(k)]
		if !ok {
			return fmt.Errorf("%s has field %q, which model %s does not declare", name, k, typ)
		}
		seen[c.key(f.JSON)] = true
		if err := c.checkValue(f.Type, m[k], joinPath(path, k), required); err != nil {
			return err
		}
	}
	if !required {
		return nil
	}
	var missing []string
	for _, f := range c.Models[typ] {
		if f.Required && !seen[c.key(f.JSON)] {
			missing = append(missing, f.JSON)
		}
	}
	if len(missing) > 0 {
		return &MissingFieldsError{Model: typ, Fields: missing}
	}
	return nil
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// Resolve returns the type of the field at path (segments joined by "/")
// in model: "company/id" in ConnectWise's Contact is NullableInt32. arrayAt
// is the index of the first segment that went through an array, or -1.
func (c *Contract) Resolve(model, path string) (typ string, arrayAt int, err error) {
	arrayAt = -1
	typ = model
	for i, seg := range strings.Split(path, "/") {
		t := strings.TrimPrefix(typ, "*")
		if strings.HasPrefix(t, "[]") {
			if arrayAt < 0 {
				arrayAt = i - 1
			}
			t = strings.TrimPrefix(strings.TrimPrefix(t, "[]"), "*")
		}
		f, ok := c.fields[t][c.key(seg)]
		if !ok {
			return "", -1, fmt.Errorf("%s has no field %q", t, seg)
		}
		typ = f.Type
	}
	t := strings.TrimPrefix(typ, "*")
	if strings.HasPrefix(t, "[]") && arrayAt < 0 {
		arrayAt = len(strings.Split(path, "/")) - 1
	}
	return typ, arrayAt, nil
}

// typeNames finds the model names in a type string.
var typeNames = regexp.MustCompile(`[A-Z][A-Za-z0-9_]*`)

// Subset returns the part of c a fake needs: the endpoints whose path is
// one of prefixes or lies below one (so that literal segments still beat
// placeholders as in the whole contract), and every model those endpoints'
// bodies, or the roots the fake answers with, use — directly or through
// their fields. A root the contract does not declare is an error, so that a
// typo in an extractor fails go generate.
func (c *Contract) Subset(prefixes, roots []string) (*Contract, error) {
	under := func(p string) bool {
		for _, x := range prefixes {
			if p == x || strings.HasPrefix(p, strings.TrimSuffix(x, "/")+"/") {
				return true
			}
		}
		return false
	}
	out := &Contract{Source: c.Source, Models: map[string][]Field{}, FoldCase: c.FoldCase}
	var todo []string
	for _, r := range roots {
		if _, ok := c.Models[r]; !ok {
			return nil, fmt.Errorf("psafake: the contract declares no model %q", r)
		}
		todo = append(todo, r)
	}
	for _, ep := range c.Endpoints {
		if under(ep.Path) {
			out.Endpoints = append(out.Endpoints, ep)
			if ep.Body != nil {
				todo = append(todo, typeNames.FindAllString(*ep.Body, -1)...)
			}
		}
	}
	for len(todo) > 0 {
		m := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		fs, ok := c.Models[m]
		if _, done := out.Models[m]; done || !ok {
			continue
		}
		out.Models[m] = fs
		for _, f := range fs {
			todo = append(todo, typeNames.FindAllString(f.Type, -1)...)
		}
	}
	if len(out.Endpoints) == 0 {
		return nil, fmt.Errorf("psafake: no endpoint lies under %v", prefixes)
	}
	out.index()
	return out, nil
}

// WriteFile writes c to path as indented JSON, endpoints in the order
// given and models sorted by name, so that a regenerated extract diffs
// cleanly.
func (c *Contract) WriteFile(path string) error {
	b, err := json.MarshalIndent(c, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadContractFile reads and parses a contract file; extractors use it on
// the vendor's document, fakes embed theirs instead.
func ReadContractFile(path string) (*Contract, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("psafake: read contract: %w", err)
	}
	c, err := ParseContract(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
