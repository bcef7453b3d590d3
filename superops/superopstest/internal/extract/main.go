// Command extract writes the part of SuperOps' MSP GraphQL API reference
// (a text copy of the vendor's documentation: there is no SDL) that
// superopstest checks requests against into superopstest's testdata, so
// that tests never read shared/contracts. superopstest runs it with go
// generate:
//
//	go run ./internal/extract -in ../../../shared/contracts/superops/msp-api-reference.md -out testdata/msp-graphql.json
//
// When shared/ is not beside the module, set COUNTERSIGN_SHARED to its
// directory; -in is then read from there.
//
// The reference's layout (shared/reference/superops.md, "Contract file"):
// a line "Queries" or "Mutations" is followed by the operation's name, its
// description, "Returns a T", and under "Arguments" the line
// "input - T!<tab>"; a line "Types" is followed by the type's name and a
// table whose header says what it is ("Input Field", "Field Name" or "Enum
// Value"), with field lines "name - Type<tab>description" up to "Example".
// Field arguments (an "Arguments" block inside an output table, e.g.
// "fields - [String]" under customFields) have no tab and are not fields.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// operations are the ones the plugin calls.
var operations = []string{
	"getClientUserList", "getClientUser", "createClientUser",
	"getClientList", "getClient",
	"getTicket", "getTicketList", "createTicketNote",
	"createTicket", "updateTicket", "updateClientUser", "getTechnicianList", "getStatusList",
}

// Operation is one query or mutation.
type Operation struct {
	Kind    string `json:"kind"`    // "query" or "mutation"
	Input   string `json:"input"`   // the type of its one argument, input: "GetClientUserListInput!"
	Returns string `json:"returns"` // "ClientUserList", "[Note]"
}

// Type is one GraphQL type of the reference.
type Type struct {
	Kind   string            `json:"kind"` // "input", "object" or "enum"
	Fields map[string]string `json:"fields,omitempty"`
	Values []string          `json:"values,omitempty"`
}

// Contract is what the fake checks against.
type Contract struct {
	Source     string               `json:"source"`
	Operations map[string]Operation `json:"operations"`
	Types      map[string]Type      `json:"types"`
}

var (
	fieldLine = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*) - ([\[\]A-Za-z0-9_!]+)\t`)
	enumValue = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	returns   = regexp.MustCompile(`^Returns (?:an? )?(\[?[A-Za-z0-9_]+\]?)`)
	typeNames = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
)

var scalars = map[string]bool{"ID": true, "String": true, "Int": true, "Float": true, "Boolean": true, "JSON": true, "Long": true}

func main() {
	in := flag.String("in", "", "the reference (shared/contracts/superops/msp-api-reference.md)")
	out := flag.String("out", "", "where to write the extract")
	flag.Parse()
	if dir := os.Getenv("COUNTERSIGN_SHARED"); dir != "" && *in != "" {
		*in = filepath.Join(dir, "contracts", "superops", filepath.Base(*in))
	}
	if *in == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: extract -in msp-api-reference.md -out testdata/msp-graphql.json")
		os.Exit(2)
	}
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "extract:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return fmt.Errorf("%w (run go generate in a checkout with shared/ beside the module, or set COUNTERSIGN_SHARED)", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return err
	}
	ops, types := parse(lines)
	c := Contract{Source: "SuperOps MSP GraphQL API reference — the part superopstest checks, extracted by superops/superopstest/internal/extract",
		Operations: map[string]Operation{}, Types: map[string]Type{}}
	var todo []string
	for _, name := range operations {
		op, ok := ops[name]
		if !ok {
			return fmt.Errorf("the reference has no operation %q", name)
		}
		c.Operations[name] = op
		todo = append(todo, typeNames.FindAllString(op.Input, -1)...)
		todo = append(todo, typeNames.FindAllString(op.Returns, -1)...)
	}
	for len(todo) > 0 {
		n := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if scalars[n] {
			continue
		}
		if _, done := c.Types[n]; done {
			continue
		}
		t, ok := types[n]
		if !ok {
			return fmt.Errorf("the reference uses type %q but does not declare it", n)
		}
		c.Types[n] = t
		for _, ft := range t.Fields {
			todo = append(todo, typeNames.FindAllString(ft, -1)...)
		}
	}
	b, err := json.MarshalIndent(c, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(b, '\n'), 0o644)
}

func parse(lines []string) (map[string]Operation, map[string]Type) {
	ops := map[string]Operation{}
	types := map[string]Type{}
	for i := 0; i+1 < len(lines); i++ {
		switch lines[i] {
		case "Queries", "Mutations":
			name := strings.TrimSpace(lines[i+1])
			op := Operation{Kind: "query"}
			if lines[i] == "Mutations" {
				op.Kind = "mutation"
			}
			for j := i + 2; j < len(lines) && lines[j] != "Queries" && lines[j] != "Mutations" && lines[j] != "Types"; j++ {
				if m := returns.FindStringSubmatch(lines[j]); m != nil && op.Returns == "" {
					op.Returns = m[1]
				}
				if m := fieldLine.FindStringSubmatch(lines[j]); m != nil && m[1] == "input" && op.Input == "" {
					op.Input = m[2]
				}
			}
			ops[name] = op
		case "Types":
			name := strings.TrimSpace(lines[i+1])
			t := Type{Fields: map[string]string{}}
			j := i + 2
			for ; j < len(lines) && lines[j] != "Example" && lines[j] != "Types"; j++ {
				switch {
				case strings.HasPrefix(lines[j], "Input Field\t"):
					t.Kind = "input"
				case strings.HasPrefix(lines[j], "Field Name\t"):
					t.Kind = "object"
				case strings.HasPrefix(lines[j], "Enum Value\t"):
					t.Kind = "enum"
				case t.Kind == "enum" && enumValue.MatchString(strings.TrimSpace(lines[j])):
					t.Values = append(t.Values, strings.TrimSpace(lines[j]))
				case t.Kind == "input" || t.Kind == "object":
					if m := fieldLine.FindStringSubmatch(lines[j]); m != nil {
						t.Fields[m[1]] = m[2]
					}
				}
			}
			if t.Kind == "" {
				continue // a scalar's description
			}
			if len(t.Fields) == 0 {
				t.Fields = nil
			}
			sort.Strings(t.Values)
			types[name] = t
		}
	}
	return ops, types
}
