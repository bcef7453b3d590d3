package superopstest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/superops/superopstest"
)

// post sends a raw GraphQL request to the fake.
func post(t *testing.T, srv *superopstest.Server, query string, input any, headers map[string]string) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"input": input}})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "https://"+superopstest.Host+"/msp", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+superopstest.Token)
	req.Header.Set("CustomerSubDomain", superopstest.Subdomain)
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := srv.HTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(body) > 0 {
		require.NoError(t, json.Unmarshal(body, &out), "%s", body)
	}
	return resp.StatusCode, out
}

func firstError(out map[string]any) string {
	errs, _ := out["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	return errs[0].(map[string]any)["message"].(string)
}

// The fake holds clients to the reference: each mistake the reference
// warns about is refused and recorded.
func TestFakeRefusesWhatSuperOpsRefuses(t *testing.T) {
	srv := superopstest.NewServer(t)
	srv.Seed([]psa.Company{{Ref: "1", Name: "Acme"}}, []psa.Contact{{Ref: "2", CompanyRef: "1", FirstName: "A", Emails: []psa.Email{{Address: "a@acme.example"}}}},
		[]psa.Ticket{{Ref: "3", Number: "120226-0001", Summary: "s", CompanyRef: "1", ContactRef: "2"}})

	status, out := post(t, srv, `query { getClientList(input: {page: 1}) { clients { accountId } } }`, nil, map[string]string{"Authorization": ""})
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Nil(t, out)
	status, out = post(t, srv, `query { getClientList(input: {page: 1}) { clients { accountId } } }`, nil, map[string]string{"CustomerSubDomain": ""})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Nil(t, out, "an empty body, as the live ingress")

	for _, tc := range []struct {
		name, query string
		input       any
		want        string
	}{
		{"invented mutation", `mutation m($input: CreateTicketNoteInput!) { createNote(input: $input) { noteId } }`,
			map[string]any{"ticket": map[string]any{"ticketId": "3"}, "content": "x"}, "FieldUndefined"},
		{"query under mutation", `mutation m($input: TicketIdentifierInput!) { getTicket(input: $input) { ticketId } }`,
			map[string]any{"ticketId": "3"}, "FieldUndefined"},
		{"invented argument shape", `query { getTicket(id: "3") { ticketId } }`, nil, "UnknownArgument"},
		{"unknown input field", `query q($input: TicketIdentifierInput!) { getTicket(input: $input) { ticketId } }`,
			map[string]any{"ticketId": "3", "displayId": "120226-0001"}, "does not declare"},
		{"missing required field", `mutation m($input: CreateTicketNoteInput!) { createTicketNote(input: $input) { noteId } }`,
			map[string]any{"content": "x"}, "input.ticket is required"},
		{"enum value not listed", `mutation m($input: CreateTicketNoteInput!) { createTicketNote(input: $input) { noteId } }`,
			map[string]any{"ticket": map[string]any{"ticketId": "3"}, "content": "x", "privacyType": "INTERNAL"}, "must be one of"},
		{"sub-selection on a JSON field", `query q($input: TicketIdentifierInput!) { getTicket(input: $input) { ticketId client { name } } }`,
			map[string]any{"ticketId": "3"}, "SubSelectionNotAllowed"},
		{"unknown output field", `query q($input: TicketIdentifierInput!) { getTicket(input: $input) { ticketId description } }`,
			map[string]any{"ticketId": "3"}, "FieldUndefined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := post(t, srv, tc.query, tc.input, nil)
			assert.Equal(t, http.StatusOK, status, "GraphQL errors come in a 200")
			assert.Nil(t, out["data"])
			assert.Contains(t, firstError(out), tc.want)
		})
	}
	assert.NotEmpty(t, srv.TakeViolations(), "the client-side mistakes are recorded as violations")

	// And what the reference documents works, ids in JSON scalars as long
	// unquoted numbers.
	status, out = post(t, srv, `query q($input: TicketIdentifierInput!) { getTicket(input: $input) { ticketId displayId client requester } }`,
		map[string]any{"ticketId": 3}, nil)
	require.Equal(t, http.StatusOK, status)
	require.Empty(t, firstError(out))
	tk := out["data"].(map[string]any)["getTicket"].(map[string]any)
	assert.Equal(t, "120226-0001", tk["displayId"])
	assert.NotContains(t, tk, "subject", "only what was selected")
	status, out = post(t, srv, `query q($input: ListInfoInput!) { getClientList(input: $input) { clients { accountId } listInfo { hasMore totalCount } } }`,
		map[string]any{"page": 1, "pageSize": 10, "condition": map[string]any{"joinOperator": "AND", "operands": []any{
			map[string]any{"attribute": "name", "operator": "contains", "value": "acm"}}}}, nil)
	require.Equal(t, http.StatusOK, status)
	require.Empty(t, firstError(out))
	li := out["data"].(map[string]any)["getClientList"].(map[string]any)["listInfo"].(map[string]any)
	assert.Nil(t, li["hasMore"], "hasMore is null on the last page")
	assert.Empty(t, srv.TakeViolations())
}
