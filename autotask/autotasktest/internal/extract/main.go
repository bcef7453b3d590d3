// Command extract writes the part of Autotask's REST contract
// (shared/contracts/autotask/v1.json, Swagger 2.0, 3.8 MB) that the fake
// server autotasktest needs into autotasktest/testdata/contract.json, which
// the fake embeds, so that the repository's tests pass on a clone with
// nothing beside it. It is run by go generate in package autotasktest:
//
//	go generate ./autotask/autotasktest
//
// It keeps the operations of the entities Countersign calls (Contacts,
// Companies and their child Contacts and Notes, CompanyNotes (contact
// notes are company notes naming the contact), Tickets and their child Notes,
// TicketNotes, Resources, the webhook entities, ZoneInformation,
// ThresholdInformation, VersionInformation) and the definitions their
// bodies and answers use. Model artefacts of the spec generator
// (SoapParentPropertyId, Xml) are dropped, so the fake refuses a client
// that sends them. A leading UTF-8 BOM is stripped (reference, "Traps").
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// entities are the top-level path segments after /V1.0/ whose operations
// are kept; children lists the child collections kept under a parent.
var (
	entities = []string{"Contacts", "Companies", "Tickets", "TicketNotes", "Resources", "CompanyNotes",
		"CompanyWebhooks", "ContactWebhooks", "CompanyWebhookFields", "ContactWebhookFields",
		"ZoneInformation", "ThresholdInformation"}
	children = map[string][]string{"Companies": {"Contacts", "Notes"}, "Tickets": {"Notes"},
		"CompanyWebhooks": {"Fields"}, "ContactWebhooks": {"Fields"}}
	// answers are definitions the fake answers with (the spec's response
	// schemas are wrong for queries and writes, so they are named here).
	answers = []string{"ZoneInformationResultModel", "ThresholdStatusResultModel", "FieldInformationResultModel",
		"EntityInformationResultModel", "ApiVersionResultModel", "QueryCountResultModel",
		"ContactModel", "CompanyModel", "TicketModel", "TicketNoteModel", "ResourceModel", "CompanyNoteModel"}
	artefacts = []string{"SoapParentPropertyId", "Xml"}
)

// Extract is the file written.
type Extract struct {
	Source      string                         `json:"source"`
	BasePath    string                         `json:"basePath"`
	Endpoints   []Endpoint                     `json:"endpoints"`
	Definitions map[string]map[string]Property `json:"definitions"`
}

// Endpoint is one operation.
type Endpoint struct {
	Method string   `json:"method"`
	Path   string   `json:"path"`
	Query  []string `json:"query,omitempty"` // query parameters the spec declares
	Body   string   `json:"body,omitempty"`  // the body's definition; "" for none
}

// Property is one property of a definition.
type Property struct {
	Type   string `json:"type"`             // string, integer, number, boolean, array, object
	Format string `json:"format,omitempty"` // int32, int64, date-time, double
	Ref    string `json:"ref,omitempty"`    // the definition of an object or of array items
}

type swagger struct {
	BasePath    string                                `json:"basePath"`
	Paths       map[string]map[string]json.RawMessage `json:"paths"`
	Definitions map[string]struct {
		Properties map[string]schema `json:"properties"`
	} `json:"definitions"`
}

type schema struct {
	Type   string  `json:"type"`
	Format string  `json:"format"`
	Ref    string  `json:"$ref"`
	Items  *schema `json:"items"`
}

type operation struct {
	Parameters []struct {
		Name   string  `json:"name"`
		In     string  `json:"in"`
		Schema *schema `json:"schema"`
	} `json:"parameters"`
}

func main() {
	in := flag.String("in", "", "the Swagger file; empty means $"+contractEnv+", else "+contractRel+" in the nearest directory above that has it")
	out := flag.String("out", "", "the extract to write")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "usage: extract [-in v1.json] -out contract.json")
		os.Exit(2)
	}
	src := *in
	if src == "" {
		var err error
		if src, err = findContract(); err != nil {
			fmt.Fprintln(os.Stderr, "extract:", err)
			os.Exit(1)
		}
	}
	if err := run(src, *out); err != nil {
		fmt.Fprintln(os.Stderr, "extract:", err)
		os.Exit(1)
	}
}

// contractRel is where the contract sits in the shared checkout that lies
// beside the repository (../shared from the module root).
const contractRel = "shared/contracts/autotask/v1.json"

// contractEnv names a variable that gives the contract's path instead.
const contractEnv = "COUNTERSIGN_AUTOTASK_CONTRACT"

// findContract looks for contractRel in the working directory's ancestors,
// so that the command works from a worktree at any depth.
func findContract() (string, error) {
	if p := os.Getenv(contractEnv); p != "" {
		return p, nil
	}
	if dir := os.Getenv("COUNTERSIGN_SHARED"); dir != "" {
		return filepath.Join(dir, "contracts", "autotask", "v1.json"), nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, filepath.FromSlash(contractRel))
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s is in no directory above the working directory; set %s", contractRel, contractEnv)
		}
		dir = parent
	}
}

func run(in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	var sw swagger
	if err := json.Unmarshal(b, &sw); err != nil {
		return fmt.Errorf("parse %s: %w", in, err)
	}
	x := Extract{Source: "shared/contracts/autotask/v1.json (Datto|Autotask PSA Rest API, Swagger 2.0, 2020 community copy)",
		BasePath: sw.BasePath, Definitions: map[string]map[string]Property{}}
	need := map[string]bool{}
	for _, a := range answers {
		need[a] = true
	}
	for path, ops := range sw.Paths {
		if !keep(path) {
			continue
		}
		for method, raw := range ops {
			var op operation
			if err := json.Unmarshal(raw, &op); err != nil {
				return fmt.Errorf("%s %s: %w", method, path, err)
			}
			ep := Endpoint{Method: strings.ToUpper(method), Path: path}
			for _, p := range op.Parameters {
				switch p.In {
				case "query":
					ep.Query = append(ep.Query, p.Name)
				case "body":
					if p.Schema != nil {
						ep.Body = refName(p.Schema.Ref)
						need[ep.Body] = true
					}
				}
			}
			x.Endpoints = append(x.Endpoints, ep)
		}
	}
	sort.Slice(x.Endpoints, func(i, j int) bool {
		if x.Endpoints[i].Path != x.Endpoints[j].Path {
			return x.Endpoints[i].Path < x.Endpoints[j].Path
		}
		return x.Endpoints[i].Method < x.Endpoints[j].Method
	})
	// Close over the definitions the kept ones refer to.
	for len(need) > 0 {
		for name := range need {
			delete(need, name)
			if _, done := x.Definitions[name]; done {
				continue
			}
			def, ok := sw.Definitions[name]
			if !ok {
				return fmt.Errorf("definition %s is missing from %s", name, in)
			}
			props := map[string]Property{}
			for pn, s := range def.Properties {
				if slices.Contains(artefacts, pn) {
					continue
				}
				p := Property{Type: s.Type, Format: s.Format, Ref: refName(s.Ref)}
				if s.Ref != "" {
					p.Type = "object"
				}
				if s.Items != nil {
					p.Ref = refName(s.Items.Ref)
					if p.Ref == "" {
						p.Format = s.Items.Type // the items' scalar type
					}
				}
				if p.Ref != "" {
					need[p.Ref] = true
				}
				props[pn] = p
			}
			x.Definitions[name] = props
		}
	}
	j, err := json.MarshalIndent(x, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(j, '\n'), 0o644)
}

// keep reports whether the operations of path go into the extract.
func keep(path string) bool {
	if path == "/VersionInformation" {
		return true
	}
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(segs) < 2 || segs[0] != "V1.0" || !slices.Contains(entities, segs[1]) {
		return false
	}
	if len(segs) >= 4 && strings.HasPrefix(segs[2], "{") {
		return slices.Contains(children[segs[1]], segs[3])
	}
	return true
}

func refName(ref string) string { return strings.TrimPrefix(ref, "#/definitions/") }
