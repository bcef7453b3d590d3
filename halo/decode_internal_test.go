package halo

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The decoding traps of the reference, each on its own.

func TestUserSiteIDIsADouble(t *testing.T) {
	raw := []byte(`{"id":5,"firstname":"Pat","site_id":34.0,"client_id":12}`)
	var strict struct {
		SiteID int `json:"site_id"`
	}
	require.Error(t, json.Unmarshal(raw, &strict), "an int field breaks on Halo's 34.0")
	var w wireUser
	require.NoError(t, json.Unmarshal(raw, &w))
	assert.Equal(t, 34, w.siteID())
	require.NoError(t, json.Unmarshal([]byte(`{"id":5,"site_id":34.0,"site_id_int":35}`), &w))
	assert.Equal(t, 35, w.siteID(), "site_id_int wins when present")
	require.Error(t, json.Unmarshal([]byte(`{"id":5,"site_id":34.5}`), &w), "not an id")
}

func TestBareAndWrappedLists(t *testing.T) {
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(`{"page_no":1,"page_size":50,"record_count":2,"users":[{"id":1},{"id":2}]}`), &raw))
	us, total, err := unwrapList[wireUser](raw, "users")
	require.NoError(t, err)
	assert.Len(t, us, 2)
	assert.Equal(t, 2, total)
	raw = nil
	require.NoError(t, json.Unmarshal([]byte(`{"record_count":0}`), &raw))
	us, _, err = unwrapList[wireUser](raw, "users")
	require.NoError(t, err, "an empty list may leave out its array")
	assert.Empty(t, us)
	raw = nil
	require.NoError(t, json.Unmarshal([]byte(`{"record_count":3}`), &raw))
	_, _, err = unwrapList[wireUser](raw, "users")
	require.Error(t, err, "records promised, none sent")
}

func TestLenientPostAnswers(t *testing.T) {
	for _, body := range []string{`{"id":9,"firstname":"A"}`, `[{"id":9,"firstname":"A"}]`, " \n[{\"id\":9}]"} {
		var w wireUser
		require.NoError(t, decodeLenient([]byte(body), &w), body)
		assert.Equal(t, 9, w.ID)
	}
	var w wireUser
	require.Error(t, decodeLenient([]byte(`[]`), &w))
	require.Error(t, decodeLenient([]byte(`<html>`), &w))
}
