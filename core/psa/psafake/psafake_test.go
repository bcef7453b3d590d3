package psafake_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core/psa/psafake"
)

const contractJSON = `{
 "source": "test",
 "endpoints": [
  {"op": "list", "method": "GET", "path": "/things", "query": ["page"], "body": null},
  {"op": "count", "method": "GET", "path": "/things/count", "query": [], "body": null},
  {"op": "get", "method": "GET", "path": "/things/{id}", "query": [], "body": null},
  {"op": "add", "method": "POST", "path": "/things", "query": [], "body": "Thing"},
  {"op": "other", "method": "GET", "path": "/other", "query": [], "body": null}
 ],
 "models": {
  "Thing": [{"json": "id", "type": "NullableInt32"}, {"json": "name", "type": "*string", "required": true},
            {"json": "parts", "type": "[]Part"}, {"json": "when", "type": "time.Time"}, {"json": "big", "type": "int64"}],
  "Part": [{"json": "label", "type": "string"}],
  "Unused": [{"json": "x", "type": "string"}]
 }
}`

func TestContract(t *testing.T) {
	c, err := psafake.ParseContract([]byte(contractJSON))
	require.NoError(t, err)

	ep, other := c.Match("GET", "/things/count")
	require.NotNil(t, ep)
	assert.Equal(t, "count", ep.Op, "a literal beats a placeholder")
	ep, _ = c.Match("GET", "/things/7")
	require.NotNil(t, ep)
	assert.Equal(t, "GET /things/{id}", ep.Route())
	ep, other = c.Match("DELETE", "/things/7")
	assert.Nil(t, ep)
	assert.True(t, other, "the path exists under another method")
	ep, other = c.Match("GET", "/nothing")
	assert.Nil(t, ep)
	assert.False(t, other)
	ep, _ = c.Match("GET", "/things//7")
	assert.Nil(t, ep, "empty segments match nothing")

	add, _ := c.Match("POST", "/things")
	require.NotNil(t, add)
	assert.True(t, add.AllowsQuery("page") == false)
	assert.NoError(t, c.ValidateBody(add, []byte(`{"name":"a","parts":[{"label":"x"}],"when":"2026-01-01T00:00:00Z","big":9007199254740993}`)))
	for _, bad := range []string{
		`{"name":"a","colour":"red"}`,      // undeclared field
		`{"name":1}`,                       // wrong type
		`{"name":"a","parts":[{"lbl":1}]}`, // undeclared nested field
		`{"name":"a","id":3000000000}`,     // not an int32
		`{"name":"a","when":"yesterday"}`,  // not RFC 3339
		`{"name":"a"`,                      // not JSON
		``,                                 // no body
	} {
		assert.Error(t, c.ValidateBody(add, []byte(bad)), bad)
	}
	err = c.ValidateBody(add, []byte(`{"id":null}`))
	var mf *psafake.MissingFieldsError
	require.ErrorAs(t, err, &mf)
	assert.Equal(t, []string{"name"}, mf.Fields)
	get, _ := c.Match("GET", "/things/1")
	assert.Error(t, c.ValidateBody(get, []byte(`{}`)), "a GET takes no body")
	assert.NoError(t, c.ValidateModel("Thing", []byte(`[{"id":1}]`), true), "answers may be partial")

	typ, arrayAt, err := c.Resolve("Thing", "parts/label")
	require.NoError(t, err)
	assert.Equal(t, "string", typ)
	assert.Equal(t, 0, arrayAt)
	_, _, err = c.Resolve("Thing", "nope")
	assert.Error(t, err)

	_, err = psafake.ParseContract([]byte(`{"endpoints":[],"models":{}}`))
	assert.Error(t, err, "an empty contract checks nothing")
}

func TestContractSubsetRoundTrip(t *testing.T) {
	c, err := psafake.ParseContract([]byte(contractJSON))
	require.NoError(t, err)
	sub, err := c.Subset([]string{"/things"}, nil)
	require.NoError(t, err)
	assert.Len(t, sub.Endpoints, 4, "every endpoint at or under /things, none of /other")
	assert.True(t, sub.HasModel("Thing"))
	assert.True(t, sub.HasModel("Part"), "reached through Thing.parts")
	assert.False(t, sub.HasModel("Unused"))
	_, err = c.Subset([]string{"/things"}, []string{"Missing"})
	assert.Error(t, err, "a root the contract lacks is a typo in the extractor")

	p := filepath.Join(t.TempDir(), "c.json")
	require.NoError(t, sub.WriteFile(p))
	again, err := psafake.ReadContractFile(p)
	require.NoError(t, err)
	assert.Equal(t, sub.Endpoints, again.Endpoints)
	assert.Equal(t, sub.Models, again.Models)
}

func TestContractFoldCase(t *testing.T) {
	c, err := psafake.ParseContract([]byte(`{"fold_case":true,"endpoints":[{"method":"POST","path":"/x","body":"T"}],"models":{"T":[{"json":"FirstName","type":"string","required":true}]}}`))
	require.NoError(t, err)
	ep, _ := c.Match("POST", "/x")
	assert.NoError(t, c.ValidateBody(ep, []byte(`{"firstName":"a"}`)))
	assert.Error(t, c.ValidateBody(ep, []byte(`{"lastName":"a"}`)))
}

func TestFaults(t *testing.T) {
	var f psafake.Faults
	_, fail := f.Begin()
	assert.False(t, fail, "the zero value is a well-behaved server")
	f.FailNext(2, 429, "3")
	for range 2 {
		fl, ok := f.Begin()
		require.True(t, ok)
		assert.Equal(t, 429, fl.Status)
		rec := httptest.NewRecorder()
		fl.Write(rec, func(w http.ResponseWriter, status int) { w.WriteHeader(status) })
		assert.Equal(t, "3", rec.Header().Get("Retry-After"))
		assert.Equal(t, 429, rec.Code)
	}
	_, fail = f.Begin()
	assert.False(t, fail)
	assert.Equal(t, 4, f.Requests())

	f.MalformedNext()
	assert.Equal(t, []byte(`{"a`), f.Body([]byte(`{"a":1}`)))
	assert.Equal(t, []byte(`{"a":1}`), f.Body([]byte(`{"a":1}`)), "only once")

	f.SetDown(true)
	fl, fail := f.Begin()
	assert.True(t, fail)
	assert.True(t, fl.Down)
	assert.Equal(t, 503, fl.Status)
	assert.Equal(t, 4, f.Requests(), "a down service counts nothing")
	f.SetDown(false)
	assert.False(t, f.Down())
}

func TestPaging(t *testing.T) {
	start, end, last := psafake.PageBounds(5, 2, 2)
	assert.Equal(t, []int{2, 4, 3}, []int{start, end, last})
	start, end, last = psafake.PageBounds(0, 1, 25)
	assert.Equal(t, []int{0, 0, 1}, []int{start, end, last})
	start, end, _ = psafake.PageBounds(5, 9, 2)
	assert.Equal(t, start, end, "past the last page is empty")

	s, e, next, err := psafake.CursorBounds(5, "", 2)
	require.NoError(t, err)
	assert.Equal(t, []int{0, 2}, []int{s, e})
	assert.Equal(t, "2", next)
	_, _, next, err = psafake.CursorBounds(5, "4", 2)
	require.NoError(t, err)
	assert.Empty(t, next)
	_, _, _, err = psafake.CursorBounds(5, "x", 2)
	assert.Error(t, err)

	u, _ := url.Parse("/things?pageSize=2&page=2")
	links := psafake.PageLinks(psafake.RequestURL(true, "api.example", u), "page", 2, 3)
	assert.Equal(t, `<https://api.example/things?page=1&pageSize=2>; rel="first", `+
		`<https://api.example/things?page=1&pageSize=2>; rel="prev", `+
		`<https://api.example/things?page=3&pageSize=2>; rel="next", `+
		`<https://api.example/things?page=3&pageSize=2>; rel="last"`, psafake.LinkHeader(links...))
	assert.Len(t, psafake.PageLinks(u, "page", 1, 1), 2, "one page: first and last only")
}

func TestTLS(t *testing.T) {
	srv := psafake.NewTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Host)
	}), psafake.Hosts("api.vendor.example"), "api.vendor.example")
	resp, err := srv.Client.Get("https://API.vendor.example/x")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "API.vendor.example", string(b), "the client reaches the fake under the vendor's name, over verified TLS")

	_, err = srv.Client.Get("https://elsewhere.example/x")
	require.Error(t, err, "no other host exists")
	assert.Contains(t, err.Error(), "no such host")

	_, err = http.Get(srv.URL)
	assert.Error(t, err, "the certificate is self-signed: only the fake's client trusts it")
}
