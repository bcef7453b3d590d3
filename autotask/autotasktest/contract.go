package autotasktest

//go:generate go run ./internal/extract -out testdata/contract.json

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Contract is the part of Autotask's REST contract the fake is held to:
// testdata/contract.json, extracted from the vendor's Swagger file by
// ./internal/extract (go generate) and embedded, plus the routes
// [supplement] adds by hand for what Autotask added after the 2020 copy.
type Contract struct {
	Source      string                         `json:"source"`
	BasePath    string                         `json:"basePath"`
	Endpoints   []Endpoint                     `json:"endpoints"`
	Definitions map[string]map[string]Property `json:"definitions"`

	fields map[string]map[string]Property // by definition, then lower-case property name
}

// Endpoint is one operation: Path relative to the base path, spelled as
// the contract spells it ("/V1.0/Contacts/{id}").
type Endpoint struct {
	Method string   `json:"method"`
	Path   string   `json:"path"`
	Query  []string `json:"query,omitempty"`
	Body   string   `json:"body,omitempty"`

	segs []string // lower case; "" for a placeholder
}

// Property is one property of a definition.
type Property struct {
	Type   string `json:"type"`
	Format string `json:"format,omitempty"`
	Ref    string `json:"ref,omitempty"`
}

// operators are the filter operators Autotask's query syntax has
// (reference, "Query syntax and paging").
var operators = []string{"eq", "noteq", "gt", "gte", "lt", "lte", "beginswith", "endswith", "contains",
	"exist", "notexist", "in", "notin", "and", "or"}

var (
	contractOnce sync.Once
	contract     *Contract
	contractErr  error
)

// contractJSON is the extract, made by go generate from the vendor's file.
//
//go:embed testdata/contract.json
var contractJSON []byte

// LoadContract returns the contract, read once per process.
func LoadContract() (*Contract, error) {
	contractOnce.Do(func() {
		b := bytes.TrimPrefix(contractJSON, []byte("\xef\xbb\xbf"))
		var c Contract
		if err := json.Unmarshal(b, &c); err != nil {
			contractErr = fmt.Errorf("autotasktest: parse testdata/contract.json (run go generate ./autotask/autotasktest): %w", err)
			return
		}
		if len(c.Endpoints) == 0 || len(c.Definitions) == 0 {
			contractErr = errors.New("autotasktest: the contract extract has no endpoints or no definitions")
			return
		}
		supplement(&c)
		c.index()
		contract = &c
	})
	return contract, contractErr
}

// supplement adds, by hand, routes Autotask has that the 2020 contract copy
// lacks (reference, "Traps": no …/query/next paging URLs, no
// IntegrationVendorInsights; ticket webhooks likewise). Their shapes follow
// the vendor's current swagger as described in the reference.
func supplement(c *Contract) {
	add := func(method, path, body string) {
		c.Endpoints = append(c.Endpoints, Endpoint{Method: method, Path: path, Body: body})
	}
	for _, e := range []string{"Contacts", "Companies", "Tickets", "TicketNotes", "Resources"} {
		add("POST", "/V1.0/"+e+"/query/next", "QueryModel")
		add("GET", "/V1.0/"+e+"/query/next", "")
	}
	c.Definitions["IntegrationVendorInsightModel"] = map[string]Property{
		"id": {Type: "integer", Format: "int64"}, "title": {Type: "string"}, "description": {Type: "string"},
		"referenceUrl": {Type: "string"}, "secret": {Type: "string"}, "height": {Type: "integer", Format: "int32"},
		"insightCategory": {Type: "integer", Format: "int32"}, "insightKey": {Type: "string"},
		"vendorSuppliedID": {Type: "string"}, "isActive": {Type: "boolean"},
		"createDateTime": {Type: "string", Format: "date-time"}, "lastModifiedDateTime": {Type: "string", Format: "date-time"},
	}
	add("POST", "/V1.0/IntegrationVendorInsights/query", "QueryModel")
	add("POST", "/V1.0/IntegrationVendorInsights", "IntegrationVendorInsightModel")
	add("GET", "/V1.0/IntegrationVendorInsights/{id}", "")
	// Ticket webhooks have the shape of the contact webhooks the contract
	// declares (reference, "Webhooks").
	c.Definitions["TicketWebhookModel"] = c.Definitions["ContactWebhookModel"]
	c.Definitions["TicketWebhookFieldModel"] = c.Definitions["ContactWebhookFieldModel"]
	add("POST", "/V1.0/TicketWebhooks/query", "QueryModel")
	c.Endpoints = append(c.Endpoints, Endpoint{Method: "GET", Path: "/V1.0/TicketWebhooks/query", Query: []string{"search"}})
	c.Endpoints = append(c.Endpoints, Endpoint{Method: "GET", Path: "/V1.0/IntegrationVendorInsights/query", Query: []string{"search"}})
	add("POST", "/V1.0/TicketWebhooks", "TicketWebhookModel")
	add("PATCH", "/V1.0/TicketWebhooks", "TicketWebhookModel")
	add("POST", "/V1.0/TicketWebhooks/{parentId}/Fields", "TicketWebhookFieldModel")
	add("GET", "/V1.0/TicketWebhooks/{parentId}/Fields", "")
}

func (c *Contract) index() {
	for i := range c.Endpoints {
		ep := &c.Endpoints[i]
		ep.segs = nil
		for _, s := range strings.Split(strings.Trim(ep.Path, "/"), "/") {
			if strings.HasPrefix(s, "{") {
				s = ""
			}
			ep.segs = append(ep.segs, strings.ToLower(s))
		}
	}
	c.fields = map[string]map[string]Property{}
	for name, props := range c.Definitions {
		m := map[string]Property{}
		for k, p := range props {
			m[strings.ToLower(k)] = p
		}
		c.fields[name] = m
	}
}

// Match returns the endpoint for method and path (after the base path),
// matched case-insensitively; placeholders match integers. Literal segments
// beat placeholders. otherMethods says whether the path exists under
// another method (405 rather than 404).
func (c *Contract) Match(method, path string) (ep *Endpoint, params []string, otherMethods bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	best, bestLit := (*Endpoint)(nil), -1
	var bestParams []string
	other := false
	for i := range c.Endpoints {
		e := &c.Endpoints[i]
		if len(e.segs) != len(segs) {
			continue
		}
		lit, ok := 0, true
		var ps []string
		for j, s := range e.segs {
			if s == "" {
				if !isDigits(segs[j]) {
					ok = false
					break
				}
				ps = append(ps, segs[j])
				continue
			}
			if s != strings.ToLower(segs[j]) {
				ok = false
				break
			}
			lit++
		}
		if !ok {
			continue
		}
		if !strings.EqualFold(e.Method, method) {
			other = true
			continue
		}
		if lit > bestLit {
			best, bestLit, bestParams = e, lit, ps
		}
	}
	if best != nil {
		return best, bestParams, false
	}
	return nil, nil, other
}

func isDigits(s string) bool {
	if s == "" || len(s) > 19 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// HasField reports whether definition def declares prop, case aside.
func (c *Contract) HasField(def, prop string) bool {
	_, ok := c.fields[def][strings.ToLower(prop)]
	return ok
}

// ValidateBody checks a request body against definition def: a JSON
// object whose every property def declares (case-insensitively), with
// values of the declared kinds. A QueryModel's filter is walked: each
// item's op must be one of Autotask's operators and each field one of
// entity's model (value is not checked: the contract mistypes it).
func (c *Contract) ValidateBody(def string, body []byte, entityModel string) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return fmt.Errorf("the request needs a %s body", def)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("the body is not a JSON object: %v", err)
	}
	if err := c.checkObject(def, m, ""); err != nil {
		return err
	}
	if def != "QueryModel" {
		return nil
	}
	for k, raw := range m {
		switch strings.ToLower(k) {
		case "filter":
			var items []json.RawMessage
			if err := json.Unmarshal(raw, &items); err != nil {
				return errors.New("filter must be an array")
			}
			for i, it := range items {
				if err := c.checkFilter(it, entityModel, fmt.Sprintf("filter[%d]", i), 0); err != nil {
					return err
				}
			}
		case "includefields":
			var fs []string
			if err := json.Unmarshal(raw, &fs); err != nil {
				return errors.New("IncludeFields must be an array of strings")
			}
			for _, f := range fs {
				if !c.HasField(entityModel, f) {
					return fmt.Errorf("IncludeFields names %q, which %s does not declare", f, entityModel)
				}
			}
		}
	}
	return nil
}

func (c *Contract) checkObject(def string, m map[string]json.RawMessage, path string) error {
	fields, ok := c.fields[def]
	if !ok {
		return fmt.Errorf("definition %s is not in the contract", def)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p, ok := fields[strings.ToLower(k)]
		if !ok {
			return fmt.Errorf("%s has property %q, which %s does not declare", nameOr(path, "the body"), k, def)
		}
		if err := c.checkKind(p, m[k], joinPath(path, k)); err != nil {
			return err
		}
	}
	return nil
}

func (c *Contract) checkKind(p Property, raw json.RawMessage, path string) error {
	raw = bytes.TrimSpace(raw)
	if bytes.Equal(raw, []byte("null")) {
		return nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	switch p.Type {
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s must be a string", path)
		}
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%s must be an integer", path)
		}
		if _, err := n.Int64(); err != nil {
			return fmt.Errorf("%s must be an integer", path)
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			return fmt.Errorf("%s must be a number", path)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s must be true or false", path)
		}
	case "array":
		if _, ok := v.([]any); !ok {
			return fmt.Errorf("%s must be an array", path)
		}
	case "object":
		if p.Ref == "ValueItem" {
			return nil // Filter.value: a scalar or array on the wire
		}
		if _, ok := v.(map[string]any); !ok {
			return fmt.Errorf("%s must be an object", path)
		}
	}
	return nil
}

func (c *Contract) checkFilter(raw json.RawMessage, model, path string, depth int) error {
	if depth > 10 {
		return fmt.Errorf("%s is nested too deeply", path)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s must be an object", path)
	}
	if err := c.checkObject("Filter", m, path); err != nil {
		return err
	}
	var f struct {
		Op    string            `json:"op"`
		Field string            `json:"field"`
		Items []json.RawMessage `json:"items"`
		UDF   bool              `json:"udf"`
	}
	_ = json.Unmarshal(raw, &f)
	op := strings.ToLower(f.Op)
	if !slices.Contains(operators, op) {
		return fmt.Errorf("%s has op %q, which Autotask does not have", path, f.Op)
	}
	if op == "and" || op == "or" {
		if len(f.Items) == 0 {
			return fmt.Errorf("%s: %s needs items", path, op)
		}
		for i, it := range f.Items {
			if err := c.checkFilter(it, model, fmt.Sprintf("%s.items[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if !f.UDF && !c.HasField(model, f.Field) {
		return fmt.Errorf("%s filters on %q, which %s does not declare", path, f.Field, model)
	}
	return nil
}

// ValidateAnswer checks an object the fake answers with against def: every
// key declared (the fake must not send what Autotask would not).
func (c *Contract) ValidateAnswer(def string, obj map[string]any) error {
	fields, ok := c.fields[def]
	if !ok {
		return fmt.Errorf("definition %s is not in the contract", def)
	}
	for k := range obj {
		if _, ok := fields[strings.ToLower(k)]; !ok {
			return fmt.Errorf("answer has property %q, which %s does not declare", k, def)
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

func nameOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
