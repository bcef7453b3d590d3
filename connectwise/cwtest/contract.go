package cwtest

import (
	_ "embed"
	"strings"

	"github.com/countersign/countersign/core/psa/psafake"
)

//go:generate go run ./internal/extract -in ../../../shared/contracts/connectwise/manage-2025.1.json -out testdata/manage-2025.1.json

// contractJSON is the part of the ConnectWise 2025.1 contract (reference
// §11) the fake serves, extracted by go generate from
// shared/contracts/connectwise/manage-2025.1.json: every endpoint under the
// paths the connectwise client uses, and the models they need. Tests never
// read shared/; to serve another endpoint, add its path to
// internal/extract and run go generate here.
//
//go:embed testdata/manage-2025.1.json
var contractJSON []byte

// Contract is the ConnectWise contract the fake holds clients to.
type Contract = psafake.Contract

// Endpoint is one operation of the contract.
type Endpoint = psafake.Endpoint

// Field is one JSON field of a model.
type Field = psafake.Field

// contract is the parsed extract; a broken extract fails every test of
// the package at once.
var contract = psafake.MustParseContract(contractJSON)

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
