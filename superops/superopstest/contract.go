package superopstest

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

//go:generate go run ./internal/extract -in ../../../shared/contracts/superops/msp-api-reference.md -out testdata/msp-graphql.json

//go:embed testdata/msp-graphql.json
var contractJSON []byte

// contract is the part of the MSP GraphQL reference the fake checks
// requests against.
type contract struct {
	Operations map[string]operation `json:"operations"`
	Types      map[string]gqlType   `json:"types"`
}

type operation struct {
	Kind    string `json:"kind"`
	Input   string `json:"input"`
	Returns string `json:"returns"`
}

type gqlType struct {
	Kind   string            `json:"kind"`
	Fields map[string]string `json:"fields"`
	Values []string          `json:"values"`
}

var schema = func() *contract {
	var c contract
	if err := json.Unmarshal(contractJSON, &c); err != nil || len(c.Operations) == 0 || len(c.Types) == 0 {
		panic(fmt.Sprintf("superopstest: bad contract extract: %v", err))
	}
	// getAllFields is in SuperOps' IT-Teams reference, not the MSP one,
	// and is reported working on MSP tenants (shared/reference/superops.md,
	// "Custom fields and the mobile number"): the one operation the fake
	// serves beyond the contract, with the shape that reference gives.
	c.Operations["getAllFields"] = operation{Kind: "query", Input: "String!", Returns: "[Field]"}
	c.Types["Field"] = gqlType{Kind: "object", Fields: map[string]string{
		"id": "ID!", "module": "String", "columnName": "String", "label": "String", "fieldType": "String",
		"options": "JSON", "showToRequester": "Boolean", "fieldCategory": "String",
	}}
	return &c
}()

// checkInput checks v (decoded with UseNumber) against the GraphQL type t
// ("GetClientUserListInput!", "[SortInput]", "ID").
func (c *contract) checkInput(t string, v any, path string) error {
	required := strings.HasSuffix(t, "!")
	t = strings.TrimSuffix(t, "!")
	if v == nil {
		if required {
			return fmt.Errorf("%s is required", path)
		}
		return nil
	}
	if inner, ok := strings.CutPrefix(t, "["); ok {
		inner = strings.TrimSuffix(inner, "]")
		items, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s must be a list", path)
		}
		for i, it := range items {
			if err := c.checkInput(inner, it, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	}
	switch t {
	case "JSON":
		return nil
	case "ID":
		switch v.(type) {
		case string, json.Number:
			return nil
		}
		return fmt.Errorf("%s must be an ID (a string or an integer)", path)
	case "String":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s must be a String", path)
		}
		return nil
	case "Int", "Long", "Float":
		if _, ok := v.(json.Number); !ok {
			return fmt.Errorf("%s must be a number", path)
		}
		return nil
	case "Boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s must be a Boolean", path)
		}
		return nil
	}
	typ, ok := c.Types[t]
	if !ok {
		return fmt.Errorf("%s has type %s, which the contract does not declare", path, t)
	}
	switch typ.Kind {
	case "enum":
		s, ok := v.(string)
		if !ok || !slices.Contains(typ.Values, s) {
			return fmt.Errorf("%s must be one of %v", path, typ.Values)
		}
		return nil
	case "input":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s must be a %s object", path, t)
		}
		// A condition may also be compound: {joinOperator, operands}
		// (reference, "Paging and filters").
		if t == "RuleConditionInput" {
			if ops, ok := m["operands"]; ok {
				for k := range m {
					if k != "joinOperator" && k != "operands" {
						return fmt.Errorf("%s: a compound condition has only joinOperator and operands, not %q", path, k)
					}
				}
				if j, _ := m["joinOperator"].(string); j != "AND" && j != "OR" {
					return fmt.Errorf("%s.joinOperator must be AND or OR", path)
				}
				return c.checkInput("[RuleConditionInput!]!", ops, path+".operands")
			}
		}
		for k, fv := range m {
			ft, ok := typ.Fields[k]
			if !ok {
				return fmt.Errorf("%s has field %q, which %s does not declare", path, k, t)
			}
			if err := c.checkInput(ft, fv, path+"."+k); err != nil {
				return err
			}
		}
		for k, ft := range typ.Fields {
			if _, ok := m[k]; !ok && strings.HasSuffix(ft, "!") {
				return fmt.Errorf("%s.%s is required", path, k)
			}
		}
		return nil
	}
	return fmt.Errorf("%s has type %s, which is not an input type", path, t)
}

// named returns the named type of a GraphQL type: "[Note]!" → "Note".
func named(t string) string {
	return strings.Trim(t, "[]!")
}
