package cwtest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/psa"
)

var psaContact = psa.Contact{Ref: "1", CompanyRef: "9", FirstName: "A", LastName: "B", Title: "T",
	Emails: []psa.Email{{Address: "a@b.example", Default: true}},
	Phones: []psa.Phone{{Number: "(555) 010-0100", Label: "Mobile", Default: true}}}

// TestContractExtractServesEveryHandler keeps the testdata extract and the
// fake together: every route cwtest implements must be in the extract, or
// a new handler would answer nothing but violations until go generate runs
// with its path added to internal/extract.
func TestContractExtractServesEveryHandler(t *testing.T) {
	s := &Server{}
	var routes []string
	for r := range s.handlers() {
		routes = append(routes, r)
	}
	for r := range s.setupHandlers() {
		routes = append(routes, r)
	}
	require.NotEmpty(t, routes)
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		ep, _ := contract.Match(method, strings.NewReplacer("{id}", "1", "{parentId}", "1").Replace(path))
		if assert.NotNil(t, ep, "%s is served by cwtest but not in testdata/manage-2025.1.json; add it to internal/extract and run go generate", r) {
			assert.Equal(t, r, ep.Route())
		}
	}
	for _, m := range []string{"Contact", "Ticket", "ServiceNote", "Company", "CallbackEntry", "MyMemberInfo"} {
		assert.True(t, contract.HasModel(m), m)
	}
}

func TestContractMatch(t *testing.T) {
	c := contract
	for _, tc := range []struct {
		method, path, want string
		other              bool
	}{
		{"GET", "/company/contacts", "/company/contacts", false},
		{"GET", "/company/contacts/12", "/company/contacts/{id}", false},
		{"GET", "/company/contacts/count", "/company/contacts/count", false},
		{"POST", "/service/tickets/5/notes", "/service/tickets/{parentId}/notes", false},
		{"GET", "/system/myMembers/info", "/system/myMembers/info", false},
		{"GET", "/system/mymembers/info", "", false},
		{"POST", "/company/contacts/12", "", true},
		{"GET", "/company//contacts", "", false},
		{"GET", "/system/members/jsmith", "/system/members/{id}", false},
	} {
		ep, other := c.Match(tc.method, tc.path)
		if tc.want == "" {
			assert.Nil(t, ep, "%s %s", tc.method, tc.path)
			assert.Equal(t, tc.other, other, "%s %s", tc.method, tc.path)
			continue
		}
		require.NotNil(t, ep, "%s %s", tc.method, tc.path)
		assert.Equal(t, tc.want, ep.Path)
	}
}

// TestFixturesFollowTheContract checks the fake's own records against
// their models, so that the fake cannot send a field ConnectWise would not.
func TestFixturesFollowTheContract(t *testing.T) {
	c := contract
	s := &Server{commTypes: defaultCommTypes(), lastID: 100}
	ct, err := s.contactFromPSA(psaContact)
	require.NoError(t, err)
	for _, tc := range []struct {
		model string
		v     any
	}{
		{"Contact", ct},
		{"CommunicationType", defaultCommTypes()[0]},
		{"Company", companyRec{ID: 1, Identifier: "Acme", Name: "Acme", Status: &reference{ID: 1, Name: "Active"}, Types: []any{}, Info: info{}}},
		{"Ticket", ticketRec{ID: 1, Summary: "x", RecordType: "ServiceTicket", Company: reference{ID: 1, Identifier: "Acme", Name: "Acme"}, Contact: &reference{ID: 2, Name: "A B"}, Info: info{}}},
		{"ServiceNote", noteRec{ID: 1, TicketID: 1, Text: "x", InternalAnalysisFlag: true, DateCreated: "2026-01-01T00:00:00Z", Info: info{}}},
		{"Member", memberRec{ID: 1, Identifier: "a", FirstName: "A", LastName: "B", LicenseClass: "F", DefaultEmail: "Office", DefaultPhone: "Office", Info: info{}}},
		{"MyMemberInfo", member{rec: memberRec{ID: 1, Identifier: "a"}}.info()},
		{"Info", systemInfoRec{Version: "v2025.1", IsCloud: true}},
	} {
		b, err := json.Marshal(tc.v)
		require.NoError(t, err)
		assert.NoError(t, c.ValidateModel(tc.model, b, false), tc.model)
	}
	assert.Error(t, c.ValidateModel("Contact", []byte(`{"id":1,"email":"a@b"}`), false))
	assert.Error(t, c.ValidateModel("Contact", []byte(`{"id":"1"}`), false))
	assert.Error(t, c.ValidateModel("Contact", []byte(`{"id":1.5}`), false))
	assert.NoError(t, c.ValidateModel("Contact", []byte(`{"id":1,"inactiveFlag":null,"company":{"id":null}}`), false))
}

func TestConditions(t *testing.T) {
	c := contract
	rec := map[string]any{
		"id": 7.0, "firstName": "Mary Ann", "lastName": "Lee", "inactiveFlag": false,
		"company": map[string]any{"id": 250.0, "name": "Acme"},
		"communicationItems": []any{
			map[string]any{"value": "Mary@Acme.example", "communicationType": "Email"},
			map[string]any{"value": "(555) 010-0142", "communicationType": "Phone"},
		},
	}
	for _, tc := range []struct {
		expr  string
		child bool
		want  bool
	}{
		{`company/id=250 AND inactiveFlag=false`, false, true},
		{`company/id=251 OR (firstName="mary ann" AND lastName="LEE")`, false, true},
		{`firstName="Mary" AND lastName="Ann Lee"`, false, false},
		{`id in (1,7,9)`, false, true},
		{`firstName not like "M%"`, false, false},
		{`company/name contains "cm"`, false, true},
		{`communicationItems/value="mary@acme.example" AND communicationItems/communicationType="Email"`, true, true},
		{`communicationItems/value contains "0142" AND communicationItems/communicationType="Phone"`, true, true},
		{`communicationItems/value contains "0142" AND communicationItems/communicationType="Email"`, true, false},
	} {
		match, err := compileConditions(c, "Contact", tc.expr, tc.child)
		require.NoError(t, err, tc.expr)
		assert.Equal(t, tc.want, match(rec), tc.expr)
	}
	for _, tc := range []struct {
		expr  string
		child bool
	}{
		{`firstName=Mary`, false},
		{`firstName="Mary`, false},
		{`firstName="Mary" AND`, false},
		{`nickname2="x"`, false},
		{`company="x"`, false},
		{`company/id="250"`, false},
		{`communicationItems/value="x"`, false},
		{`firstName="x"`, true},
		{`communicationItems/value in ("a","b")`, true},
		{`inactiveFlag contains "f"`, false},
		{`(firstName="x"`, false},
	} {
		_, err := compileConditions(c, "Contact", tc.expr, tc.child)
		assert.Error(t, err, tc.expr)
	}
}
