package halotest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// ContractFile is the extract of Halo's OpenAPI file the fake checks
// requests against, relative to the module root. It is made by
// halo/internal/extract (go generate ./halo/halotest) and checked in, so
// tests need nothing beside the checkout.
const ContractFile = "halo/testdata/contract.json"

// Contract is the extract: operations (method, path under /api, query
// parameter types, body schema) and schemas (property types).
type Contract struct {
	Source     string                         `json:"source"`
	Title      string                         `json:"title"`
	Version    string                         `json:"version"`
	Operations []Operation                    `json:"operations"`
	Schemas    map[string]map[string]Property `json:"schemas"`
}

// Operation is one method + path of the contract.
type Operation struct {
	Method string            `json:"method"`
	Path   string            `json:"path"`  // "/Users/{id}", as the file spells it
	Query  map[string]string `json:"query"` // name → "int", "bool", "string", "double", …
	Body   string            `json:"body"`  // the schema of the body array's items; "" for none
	segs   []string          // lower-cased path segments; "" for a placeholder
}

// Property is one field of a schema.
type Property struct {
	Type   string `json:"type"`
	Format string `json:"format"`
	Ref    string `json:"ref"`
	Items  string `json:"items"`
}

var (
	contractOnce sync.Once
	contract     *Contract
	contractErr  error
)

// LoadContract returns the contract, read once per process from
// [ContractFile] under the module root (found by walking up from the
// working directory to go.mod).
func LoadContract() (*Contract, error) {
	contractOnce.Do(func() {
		contract, contractErr = readContract()
	})
	return contract, contractErr
}

func readContract() (*Contract, error) {
	dir, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil, errors.New("halotest: no go.mod above the working directory, so " + ContractFile + " cannot be found")
		}
		dir = parent
	}
	path := filepath.Join(dir, filepath.FromSlash(ContractFile))
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("halotest: read the Halo contract extract (go generate ./halo/halotest makes it): %w", err)
	}
	var c Contract
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("halotest: parse %s: %w", path, err)
	}
	if len(c.Operations) == 0 || len(c.Schemas) == 0 {
		return nil, fmt.Errorf("halotest: %s has no operations or no schemas", path)
	}
	for i := range c.Operations {
		op := &c.Operations[i]
		for _, s := range strings.Split(strings.Trim(op.Path, "/"), "/") {
			if strings.HasPrefix(s, "{") {
				s = ""
			}
			op.segs = append(op.segs, strings.ToLower(s))
		}
	}
	return &c, nil
}

// Match returns the operation for method and path (relative to /api,
// e.g. "/users/12"), matched case-insensitively as Halo does; literal
// segments beat placeholders (/Agent/me is not /Agent/{id}).
// otherMethods says whether the path exists under another method.
func (c *Contract) Match(method, path string) (op *Operation, params []string, otherMethods bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	best := func(m string) (*Operation, []string) {
		var found *Operation
		var vals []string
		bestLit := -1
		for i := range c.Operations {
			o := &c.Operations[i]
			if o.Method != m || len(o.segs) != len(segs) {
				continue
			}
			lit, ok := 0, true
			var v []string
			for j, s := range o.segs {
				if s == "" {
					if segs[j] == "" {
						ok = false
						break
					}
					v = append(v, segs[j])
					continue
				}
				if s != strings.ToLower(segs[j]) {
					ok = false
					break
				}
				lit++
			}
			if ok && lit > bestLit {
				found, vals, bestLit = o, v, lit
			}
		}
		return found, vals
	}
	if o, v := best(method); o != nil {
		return o, v, false
	}
	for _, m := range []string{"GET", "POST", "DELETE"} {
		if m != method {
			if o, _ := best(m); o != nil {
				return nil, nil, true
			}
		}
	}
	return nil, nil, false
}

// CheckQuery checks query parameter names against op's declared ones
// (exactly: Halo's names are lower case, and a typo such as "paginate" is
// silently ignored by the real API) and their values against the declared
// types, mapping the file's "int" and "bool" to integer and boolean.
func (op *Operation) CheckQuery(q map[string][]string) error {
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		typ, ok := op.Query[k]
		if !ok {
			return fmt.Errorf("%s %s declares no query parameter %q", op.Method, op.Path, k)
		}
		for _, v := range q[k] {
			if err := checkScalar(typ, v); err != nil {
				return fmt.Errorf("query parameter %s=%q: %w", k, v, err)
			}
		}
	}
	return nil
}

func checkScalar(typ, v string) error {
	switch strings.ToLower(typ) {
	case "int", "integer", "int32", "int64", "long":
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return errors.New("must be an integer")
		}
	case "bool", "boolean":
		if v != "true" && v != "false" {
			return errors.New("must be true or false")
		}
	case "double", "number", "float", "decimal":
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return errors.New("must be a number")
		}
	}
	return nil
}

// CheckBody checks a POST body: a JSON array (Halo takes one for create
// and update alike; a bare object is refused) of op.Body objects whose
// every key the schema declares, with values of the declared JSON kinds.
func (c *Contract) CheckBody(op *Operation, body []byte) error {
	body = bytes.TrimSpace(body)
	if op.Body == "" {
		if len(body) > 0 {
			return fmt.Errorf("%s %s takes no body", op.Method, op.Path)
		}
		return nil
	}
	if len(body) == 0 || body[0] != '[' {
		return fmt.Errorf("%s %s takes a JSON array of %s, not a bare object", op.Method, op.Path, op.Body)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		return fmt.Errorf("the body is not a JSON array: %w", err)
	}
	if len(items) == 0 {
		return errors.New("the body is an empty array")
	}
	for i, it := range items {
		if err := c.CheckObject(op.Body, it, fmt.Sprintf("[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

// CheckObject checks that raw is a schema object whose keys the schema
// declares, recursively for the schemas the extract holds. The fake's own
// answers go through it too, so that they hold only fields Halo declares.
func (c *Contract) CheckObject(schema string, raw json.RawMessage, path string) error {
	props, ok := c.Schemas[schema]
	if !ok {
		return fmt.Errorf("%s: schema %s is not in the extract: add it to halo/internal/extract and go generate", path, schema)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s must be a %s object", path, schema)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p, ok := props[k]
		if !ok {
			return fmt.Errorf("%s has field %q, which schema %s does not declare", path, k, schema)
		}
		if err := c.checkValue(p, m[k], path+"."+k); err != nil {
			return err
		}
	}
	return nil
}

func (c *Contract) checkValue(p Property, raw json.RawMessage, path string) error {
	raw = bytes.TrimSpace(raw)
	if bytes.Equal(raw, []byte("null")) {
		return nil // every property of the file is nullable
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	switch p.Type {
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s must be a string", path)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s must be true or false", path)
		}
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%s must be an integer", path)
		}
		i, err := n.Int64()
		if err != nil || (p.Format == "int32" && (i < math.MinInt32 || i > math.MaxInt32)) {
			return fmt.Errorf("%s must be a %s integer", path, p.Format)
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			return fmt.Errorf("%s must be a number", path)
		}
	case "array":
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return fmt.Errorf("%s must be an array", path)
		}
		for i, it := range items {
			ip := Property{Type: p.Items}
			if p.Ref != "" {
				ip = Property{Type: "object", Ref: p.Ref}
			}
			if err := c.checkValue(ip, it, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case "object":
		if p.Ref == "" {
			if _, ok := v.(map[string]any); !ok {
				return fmt.Errorf("%s must be an object", path)
			}
			return nil
		}
		return c.CheckObject(p.Ref, raw, path)
	}
	return nil
}
