// Command extract copies the part of Halo's OpenAPI file that the fake
// Halo (halo/halotest) holds the client to into halo/testdata, so that the
// repository's tests need nothing beside the checkout. Run it through
// go generate in halo/halotest:
//
//	go generate ./halo/halotest
//
// It keeps, for each operation in [operations], the method, the path (as
// the file spells it, relative to /api), the names and schema types of its
// query parameters, and the schema of its request body (every POST body is
// an array of it); and, for each schema in [schemas], its properties with
// their type, format, and the schema an object or array item refers to. A
// reference to a schema that is not extracted is kept by name, and the fake
// refuses any non-null value for it: extend [schemas] when the client
// starts sending one.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// operations are the calls the halo client, its setup and its fake make.
var operations = []string{
	"GET /AuthInfo",
	"GET /Users", "GET /Users/{id}", "POST /Users",
	"GET /Client", "GET /Client/{id}",
	"GET /Site", "GET /Site/{id}",
	"GET /Tickets", "GET /Tickets/{id}", "POST /Tickets",
	"GET /Actions", "POST /Actions",
	"GET /Agent", "GET /Agent/{id}", "GET /Agent/me",
	"GET /Outcome",
	"POST /CRMNote",
	"GET /Tabs", "POST /Tabs",
	"GET /Webhook", "POST /Webhook",
}

// schemas are the request and response records whose fields the fake
// checks: Users (end users), Faults (tickets), Area (clients), Site,
// Actions, Uname (agents), TOutcome (action types), Tabname (custom tabs),
// Webhook and the events a webhook subscribes to, and AreaNote (CRM
// notes, the notes Halo keeps on a client's users).
var schemas = []string{"Users", "Faults", "Area", "Site", "Actions", "Uname", "TOutcome", "Tabname", "Webhook", "UnameNotification", "AreaNote"}

// Contract is the extract's shape; halotest reads the same.
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
	Path   string            `json:"path"`
	Query  map[string]string `json:"query"`          // parameter name → schema type as the file has it ("int", "bool", "string", "integer")
	Body   string            `json:"body,omitempty"` // the schema of the body's array items
}

// Property is one field of a schema.
type Property struct {
	Type   string `json:"type,omitempty"`   // integer, number, string, boolean, array, object; "" for a bare $ref
	Format string `json:"format,omitempty"` // int32, double, date-time, uuid, …
	Ref    string `json:"ref,omitempty"`    // the schema an object (or, for arrays, each item) refers to
	Items  string `json:"items,omitempty"`  // the type of an array's items when they are not a $ref
}

type swagger struct {
	Info struct {
		Title   string `json:"title"`
		Version string `json:"version"`
	} `json:"info"`
	Paths      map[string]map[string]swOp `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]swProp `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

type swOp struct {
	Parameters []struct {
		Name   string `json:"name"`
		In     string `json:"in"`
		Schema swProp `json:"schema"`
	} `json:"parameters"`
	RequestBody *struct {
		Content map[string]struct {
			Schema swProp `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
}

type swProp struct {
	Type   string  `json:"type"`
	Format string  `json:"format"`
	Ref    string  `json:"$ref"`
	Items  *swProp `json:"items"`
}

func refName(r string) string { return r[strings.LastIndex(r, "/")+1:] }

func main() {
	in := flag.String("in", "", "Halo's swagger.json")
	out := flag.String("out", "", "the extract to write")
	source := flag.String("source", "shared/contracts/halo/swagger.json", "what to record as the extract's source")
	sharedEnv := flag.String("shared-env", "", "an environment variable that, when set, is shared/'s path; -in is then shared/contracts/halo/swagger.json under it")
	flag.Parse()
	if *sharedEnv != "" {
		if dir := os.Getenv(*sharedEnv); dir != "" {
			*in = filepath.Join(dir, "contracts", "halo", "swagger.json")
		}
	}
	if *in == "" || *out == "" {
		log.Fatal("usage: extract -in swagger.json -out contract.json")
	}
	b, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	var sw swagger
	if err := json.Unmarshal(b, &sw); err != nil {
		log.Fatalf("parse %s: %v", *in, err)
	}
	c := Contract{Source: *source, Title: sw.Info.Title, Version: sw.Info.Version, Schemas: map[string]map[string]Property{}}
	for _, o := range operations {
		method, path, _ := strings.Cut(o, " ")
		ops, ok := sw.Paths[path]
		if !ok {
			log.Fatalf("%s is not in %s", path, *in)
		}
		op, ok := ops[strings.ToLower(method)]
		if !ok {
			log.Fatalf("%s %s is not in %s", method, path, *in)
		}
		eo := Operation{Method: method, Path: path, Query: map[string]string{}}
		for _, p := range op.Parameters {
			if p.In == "query" {
				eo.Query[p.Name] = p.Schema.Type
			}
		}
		if op.RequestBody != nil {
			s, ok := op.RequestBody.Content["application/json"]
			if !ok || s.Schema.Type != "array" || s.Schema.Items == nil || s.Schema.Items.Ref == "" {
				log.Fatalf("%s %s: the body is not an array of a schema", method, path)
			}
			eo.Body = refName(s.Schema.Items.Ref)
		}
		c.Operations = append(c.Operations, eo)
	}
	for _, name := range schemas {
		s, ok := sw.Components.Schemas[name]
		if !ok {
			log.Fatalf("schema %s is not in %s", name, *in)
		}
		props := map[string]Property{}
		for k, p := range s.Properties {
			ep := Property{Type: p.Type, Format: p.Format}
			switch {
			case p.Ref != "":
				ep.Type, ep.Ref = "object", refName(p.Ref)
			case p.Type == "array" && p.Items != nil && p.Items.Ref != "":
				ep.Ref = refName(p.Items.Ref)
			case p.Type == "array" && p.Items != nil:
				ep.Items = p.Items.Type
			}
			props[k] = ep
		}
		c.Schemas[name] = props
	}
	sort.Slice(c.Operations, func(i, j int) bool {
		return c.Operations[i].Path+" "+c.Operations[i].Method < c.Operations[j].Path+" "+c.Operations[j].Method
	})
	outB, err := json.MarshalIndent(c, "", " ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, append(outB, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("extract: %d operations, %d schemas -> %s\n", len(c.Operations), len(c.Schemas), *out)
}
