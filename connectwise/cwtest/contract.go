package cwtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// ContractFile is where the vendor contract lives, relative to the
// directory that holds the module (CI checks shared/ out beside it).
const ContractFile = "../shared/contracts/connectwise/manage-2025.1.json"

// ContractEnv names an environment variable that, when set, is the path of
// the contract file, for checkouts laid out differently.
const ContractEnv = "COUNTERSIGN_CW_CONTRACT"

// Contract is the ConnectWise 2025.1 contract (reference §11): the
// endpoints and the models their bodies use.
type Contract struct {
	Source    string     `json:"source"`
	Endpoints []Endpoint `json:"endpoints"`
	Models    map[string][]Field

	routes map[string][]route // by method
	fields map[string]map[string]Field
}

// Endpoint is one operation of the contract. Path is relative to
// /{codebase}apis/3.0.
type Endpoint struct {
	Op     string   `json:"op"`
	Method string   `json:"method"`
	Path   string   `json:"path"`
	Query  []string `json:"query"`
	Body   *string  `json:"body"`
}

// Field is one JSON field of a model, typed as the generated Go client
// typed it ("*string", "NullableInt32", "[]ContactCommunicationItem").
type Field struct {
	JSON     string `json:"json"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
}

type route struct {
	segs []string // "" for a placeholder
	ep   *Endpoint
}

var (
	contractOnce sync.Once
	contract     *Contract
	contractErr  error
)

// LoadContract returns the contract, read once per process from
// [ContractEnv] or [ContractFile] beside the module root (found by walking
// up from the working directory to go.mod). Tests fail when it is missing:
// a fake that cannot check the contract checks nothing.
func LoadContract() (*Contract, error) {
	contractOnce.Do(func() {
		path, err := contractPath()
		if err != nil {
			contractErr = err
			return
		}
		contract, contractErr = readContract(path)
	})
	return contract, contractErr
}

func readContract(path string) (*Contract, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cwtest: read the ConnectWise contract: %w", err)
	}
	var c Contract
	var raw struct {
		Source    string                     `json:"source"`
		Endpoints []Endpoint                 `json:"endpoints"`
		Models    map[string]json.RawMessage `json:"models"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("cwtest: parse %s: %w", path, err)
	}
	if len(raw.Endpoints) == 0 || len(raw.Models) == 0 {
		return nil, fmt.Errorf("cwtest: %s has no endpoints or no models", path)
	}
	c.Source, c.Endpoints, c.Models = raw.Source, raw.Endpoints, map[string][]Field{}
	for name, m := range raw.Models {
		var fs []Field
		if json.Unmarshal(m, &fs) != nil {
			continue // an {"enum": […]} model; the 2025.1 file has none
		}
		c.Models[name] = fs
	}
	c.index()
	return &c, nil
}

func contractPath() (string, error) {
	if p := os.Getenv(ContractEnv); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, filepath.FromSlash(ContractFile))
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("cwtest: the ConnectWise contract is not at %s (module root %s); check out shared/ beside the module or set %s: %w", p, dir, ContractEnv, err)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cwtest: no go.mod above the working directory, so the ConnectWise contract cannot be found; set " + ContractEnv)
		}
		dir = parent
	}
}

func (c *Contract) index() {
	c.routes = map[string][]route{}
	for i := range c.Endpoints {
		ep := &c.Endpoints[i]
		var segs []string
		for _, s := range strings.Split(strings.Trim(ep.Path, "/"), "/") {
			// Placeholders, including the two truncated route regexes
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
			m[f.JSON] = f
		}
		c.fields[name] = m
	}
}

// Match returns the endpoint for method and path (relative to apis/3.0,
// e.g. "/company/contacts/12"). Literal segments match case-sensitively
// and beat placeholders: /company/contacts/count is not
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

// ModelField returns field json of model name.
func (c *Contract) ModelField(model, json string) (Field, bool) {
	f, ok := c.fields[model][json]
	return f, ok
}

// ValidateBody checks a request body against the endpoint's body model:
// no body when the contract has none; otherwise JSON whose every key, at
// every level, the model declares, with values of the declared kinds; and,
// for POST and PUT, every required key present.
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

// ValidateModel checks v (JSON) against model, or []model when list: the
// fake's own answers go through it, so that they hold only fields
// ConnectWise would send. Required fields are not checked: answers may be
// partial (fields=…).
func (c *Contract) ValidateModel(model string, v []byte, list bool) error {
	typ := model
	if list {
		typ = "[]" + model
	}
	return c.checkValue(typ, v, "", false)
}

// checkValue checks raw against the Go type string typ.
func (c *Contract) checkValue(typ string, raw json.RawMessage, path string, required bool) error {
	name := path
	if name == "" {
		name = "the body"
	}
	if typ == "map[string]interface{}" || typ == "map[string]map[string]interface{}" {
		// Generator artefacts that carry any JSON, scalars included
		// (PatchOperation.value; reference §11).
		typ = "interface{}"
	}
	isNull := bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
	nullable := false
	if t, ok := strings.CutPrefix(typ, "*"); ok {
		typ, nullable = t, true
	}
	if t, ok := strings.CutPrefix(typ, "Nullable"); ok {
		typ, nullable = map[string]string{"Bool": "bool", "Int32": "int32", "Float64": "float64", "String": "string"}[t], true
	}
	if strings.HasPrefix(typ, "[]") || strings.HasPrefix(typ, "map[") {
		nullable = true // nil slices and maps marshal as null
	}
	if isNull {
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
	switch {
	case typ == "interface{}":
		return nil
	case typ == "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s must be a string", name)
		}
	case typ == "bool":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s must be true or false", name)
		}
	case typ == "int32":
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%s must be a number", name)
		}
		i, err := n.Int64()
		if err != nil || i < math.MinInt32 || i > math.MaxInt32 {
			return fmt.Errorf("%s must be a 32-bit integer", name)
		}
	case typ == "float64":
		if _, ok := v.(json.Number); !ok {
			return fmt.Errorf("%s must be a number", name)
		}
	case typ == "time.Time":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s must be a date-time string", name)
		}
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			return fmt.Errorf("%s must be an RFC 3339 date-time", name)
		}
	case strings.HasPrefix(typ, "[]"):
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return fmt.Errorf("%s must be an array", name)
		}
		for i, it := range items {
			if err := c.checkValue(typ[2:], it, fmt.Sprintf("%s[%d]", path, i), required); err != nil {
				return err
			}
		}
	case strings.HasPrefix(typ, "map[string]"):
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("%s must be an object", name)
		}
		for k, it := range m {
			if err := c.checkValue(strings.TrimPrefix(typ, "map[string]"), it, path+"."+k, false); err != nil {
				return err
			}
		}
	default:
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
		for _, k := range keys {
			f, ok := fields[k]
			if !ok {
				return fmt.Errorf("%s has field %q, which model %s does not declare", name, k, typ)
			}
			if err := c.checkValue(f.Type, m[k], joinPath(path, k), required); err != nil {
				return err
			}
		}
		if required {
			var missing []string
			for _, f := range c.Models[typ] {
				if _, ok := m[f.JSON]; f.Required && !ok {
					missing = append(missing, f.JSON)
				}
			}
			if len(missing) > 0 {
				return &missingFieldError{model: typ, fields: missing}
			}
		}
	}
	return nil
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

type missingFieldError struct {
	model  string
	fields []string
}

func (e *missingFieldError) Error() string {
	return fmt.Sprintf("%s misses required fields %s", e.model, strings.Join(e.fields, ", "))
}

// resolve returns the type of the field at path (segments joined by "/")
// in model: "company/id" in Contact is NullableInt32. arrays says whether a
// segment went through an array (childConditions territory), and at which
// segment.
func (c *Contract) resolve(model, path string) (typ string, arrayAt int, err error) {
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
		f, ok := c.fields[t][seg]
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

// scalarKind returns "string", "number", "bool", "time" or "" (an object
// or array) for a contract type.
func scalarKind(typ string) string {
	typ = strings.TrimPrefix(typ, "*")
	typ = strings.TrimPrefix(typ, "Nullable")
	switch strings.ToLower(typ) {
	case "string":
		return "string"
	case "int32", "float64":
		return "number"
	case "bool":
		return "bool"
	case "time.time":
		return "time"
	}
	return ""
}

// allowsQuery reports whether ep accepts the query parameter name.
func (ep *Endpoint) allowsQuery(name string) bool { return slices.Contains(ep.Query, name) }
