package autotask_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/autotask"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

func TestInsightContext(t *testing.T) {
	e := newEnv(t, func(c *autotask.Config) { c.WebURL = "https://ww5.autotask.net/" })
	assert.Equal(t, []string{"https://ww5.autotask.net"}, e.client.FrameOrigins())
	q := url.Values{"entityid": {"3001"}, "resourceid": {"42"}, "isdarktheme": {"True"}, "signature": {"AAAA"}}
	pc, err := e.client.PodContext(q)
	require.NoError(t, err)
	assert.Equal(t, psa.PodContext{Screen: psa.ScreenTicket, TicketRef: "3001"}, pc, "the resource is not part of the context")
	for _, bad := range []string{"", "0", "-1", "12a", "1 OR 1=1"} {
		_, err := e.client.PodContext(url.Values{"entityid": {bad}})
		assert.ErrorIs(t, err, core.ErrInvalid, "%q", bad)
	}
	p, err := autotask.ParseInsight(q)
	require.NoError(t, err)
	assert.True(t, p.DarkTheme)
	assert.Equal(t, "42", p.ResourceID)
	v, err := autotask.Unchecked{}.Verify(q, []byte("secret"))
	require.NoError(t, err)
	assert.Equal(t, autotask.Unverified, v, "the default verifier never vouches for anything")
}

func TestInstallInsight(t *testing.T) {
	e := newEnv(t, nil)
	entries := e.client.Setup("https://cs.example/pod/acme/int_1", "https://cs.example").Pods
	require.Len(t, entries, 2)
	got, err := e.client.InstallInsights(t.Context(), entries)
	require.NoError(t, err)
	require.Len(t, got, 1, "the Insight; a LiveLink cannot be made through the API")
	assert.True(t, got[0].Created)
	assert.Equal(t, []string{"https://cs.example/pod/acme/int_1"}, e.fake.Insights())
	again, err := e.client.InstallInsights(t.Context(), entries)
	require.NoError(t, err)
	assert.False(t, again[0].Created, "kept, not duplicated")
	assert.Len(t, e.fake.Insights(), 1)

	e2 := newEnv(t, nil)
	e2.fake.RefuseInsights(true)
	_, err = e2.client.InstallInsights(t.Context(), entries)
	require.ErrorIs(t, err, core.ErrForbidden)
	assert.Contains(t, core.ErrorMessage(err), "add it by hand with the Insight URL")
}
