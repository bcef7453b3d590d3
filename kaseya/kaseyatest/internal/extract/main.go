// Command extract writes the part of the Kaseya BMS v2 OpenAPI document
// that kaseyatest serves into kaseyatest's testdata, in psafake's contract
// form, so that tests never read shared/contracts. kaseyatest runs it with
// go generate:
//
//	go run ./internal/extract -in ../../../shared/contracts/kaseya-bms/openapi.json -out testdata/bms-v2.json
//
// When shared/ is not beside the module, set COUNTERSIGN_SHARED to its
// directory; -in is then read from there.
//
// The OpenAPI schemas become psafake models: "integer" (int32/int64),
// "number" (float64), "boolean" (bool), "string" (a date-time stays a
// string: BMS sends dates without a zone), arrays as "[]T", references by
// model name, nullable values with a leading "*". The two sign-in
// operations take a form, not JSON: their fields become the models
// "form:Authenticate" and "form:RefreshToken", which the fake checks form
// keys against. The document spells fields in PascalCase and the service
// sends camelCase, so the contract folds case.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/countersign/countersign/core/psa/psafake"
)

// prefixes are the paths whose endpoints the fake needs (every endpoint at
// or below one is kept, all methods, so that a wrong method is a 405).
var prefixes = []string{
	"/v2/security/authenticate",
	"/v2/security/refreshtoken",
	"/v2/security/userinfo",
	"/v2/crm/contacts/summary",
	"/v2/crm/contacts/search",
	"/v2/crm/accounts/lookup",
	"/v2/crm/accounts/summary",
	"/v2/crm/accounts/{accountId}/locations/lookup",
	"/v2/servicedesk/tickets",
	"/v2/servicedesk/templates/notes/lookup",
	"/v2/crm/contacts/{contactId}/phones",
	"/v2/hr/employees/searchselect",
	"/v2/system/priorities/lookup",
	"/v2/system/statuses/lookup",
}

// roots are the models the fake answers with, beyond the request bodies.
var roots = []string{
	"ContactsSummaryOutputDto", "ContactSummaryOutputDto", "AccountLookupOutputDto", "AccountSummaryOutputDto", "AccountLocationLookupOutputDto",
	"TicketOutputDto", "TicketListDto", "TicketNoteOutputDto", "TicketNoteTemplateLookupOutputDto", "TokenOutputDto", "UserInfoOutputDto", "ErrorInfo",
	"ContactsSearchSelectOutputDto", "ContactPhonePatchResultDto", "EmployeesListSearchSelectOutputDto", "PriorityLookupOutputDto", "StatusLookupOutputDto",
}

type schema struct {
	Type                 string             `json:"type"`
	Format               string             `json:"format"`
	Ref                  string             `json:"$ref"`
	Nullable             bool               `json:"nullable"`
	Items                *schema            `json:"items"`
	Properties           map[string]*schema `json:"properties"`
	Required             []string           `json:"required"`
	AdditionalProperties json.RawMessage    `json:"additionalProperties"`
	Enum                 []any              `json:"enum"`
}

type operation struct {
	OperationID string `json:"operationId"`
	Parameters  []struct {
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
	RequestBody *struct {
		Content map[string]struct {
			Schema *schema `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
}

type document struct {
	Info struct {
		Title   string `json:"title"`
		Version string `json:"version"`
	} `json:"info"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]*schema `json:"schemas"`
	} `json:"components"`
}

func main() {
	in := flag.String("in", "", "the vendor's document (shared/contracts/kaseya-bms/openapi.json)")
	out := flag.String("out", "", "where to write the extract")
	flag.Parse()
	if dir := os.Getenv("COUNTERSIGN_SHARED"); dir != "" && *in != "" {
		*in = filepath.Join(dir, "contracts", "kaseya-bms", filepath.Base(*in))
	}
	if *in == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: extract -in openapi.json -out testdata/bms-v2.json")
		os.Exit(2)
	}
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "extract:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return fmt.Errorf("%w (run go generate in a checkout with shared/ beside the module, or set COUNTERSIGN_SHARED)", err)
	}
	var doc document
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("parse %s: %w", in, err)
	}
	c := psafake.Contract{
		Source:   fmt.Sprintf("%s %s (Kaseya BMS OpenAPI document)", doc.Info.Title, doc.Info.Version),
		Models:   map[string][]psafake.Field{},
		FoldCase: true,
	}
	for name, s := range doc.Components.Schemas {
		if s.Properties == nil && s.Type != "" && s.Type != "object" {
			scalars[name] = s // an enum or a plain value: checked by its type
		}
	}
	for name, s := range doc.Components.Schemas {
		if s.Properties == nil {
			continue // enums and plain values: checked by their type
		}
		c.Models[name] = fields(s)
	}
	paths := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		methods := make([]string, 0, len(doc.Paths[p]))
		for m := range doc.Paths[p] {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		for _, m := range methods {
			var op operation
			if err := json.Unmarshal(doc.Paths[p][m], &op); err != nil || op.OperationID == "" {
				continue // "parameters" and the like
			}
			ep := psafake.Endpoint{Op: op.OperationID, Method: strings.ToUpper(m), Path: p, Query: []string{}}
			for _, prm := range op.Parameters {
				if prm.In == "query" {
					ep.Query = append(ep.Query, prm.Name)
				}
			}
			if op.RequestBody != nil {
				if js, ok := op.RequestBody.Content["application/json"]; ok && js.Schema != nil {
					t := typeOf(js.Schema)
					ep.Body = &t
				} else if form, ok := op.RequestBody.Content["multipart/form-data"]; ok && form.Schema != nil {
					c.Models["form:"+op.OperationID] = fields(form.Schema)
				}
			}
			c.Endpoints = append(c.Endpoints, ep)
		}
	}
	full, err := psafake.ParseContract(mustJSON(c))
	if err != nil {
		return err
	}
	sub, err := full.Subset(prefixes, append(roots, "form:Authenticate", "form:RefreshToken"))
	if err != nil {
		return err
	}
	sub.Source += " — the part kaseyatest serves, extracted by kaseya/kaseyatest/internal/extract"
	return sub.WriteFile(out)
}

func fields(s *schema) []psafake.Field {
	req := map[string]bool{}
	for _, r := range s.Required {
		req[r] = true
	}
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	sort.Strings(names)
	fs := []psafake.Field{}
	for _, n := range names {
		fs = append(fs, psafake.Field{JSON: n, Type: typeOf(s.Properties[n]), Required: req[n]})
	}
	return fs
}

// scalars are the document's named schemas that are not objects (the
// integer enums RelatedItemOperationType, OperationType…): a reference to
// one is checked as its scalar type.
var scalars = map[string]*schema{}

func typeOf(s *schema) string {
	var t string
	switch {
	case s.Ref != "" && scalars[s.Ref[strings.LastIndexByte(s.Ref, '/')+1:]] != nil:
		e := *scalars[s.Ref[strings.LastIndexByte(s.Ref, '/')+1:]]
		e.Nullable = e.Nullable || s.Nullable
		return typeOf(&e)
	case s.Ref != "":
		t = s.Ref[strings.LastIndexByte(s.Ref, '/')+1:]
	case s.Type == "array" && s.Items != nil:
		return "[]" + typeOf(s.Items) // nil arrays marshal as null: nullable already
	case s.Type == "integer" && s.Format == "int64":
		t = "int64"
	case s.Type == "integer":
		t = "int32"
	case s.Type == "number":
		t = "float64"
	case s.Type == "boolean":
		t = "bool"
	case s.Type == "string":
		t = "string"
	default:
		t = "interface{}"
	}
	if s.Nullable && t != "interface{}" {
		return "*" + t
	}
	return t
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
