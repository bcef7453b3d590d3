package halo_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/countersign/countersign/halo"
)

func TestTabContext(t *testing.T) {
	c, err := halo.New(halo.Config{InstanceURL: "https://acme.halopsa.com:8443/", ClientID: "i", ClientSecret: "s"}, psa.Deps{})
	require.NoError(t, err)
	assert.Equal(t, []string{"https://acme.halopsa.com:8443"}, c.FrameOrigins(), "only the instance frames the tab")
	assert.Equal(t, "?ticket=$FAULTID", c.TabQuery())

	pc, err := c.PodContext(url.Values{"ticket": {"0042"}, "agent": {"7"}, "user": {"99"}})
	require.NoError(t, err)
	assert.Equal(t, psa.PodContext{Screen: psa.ScreenTicket, TicketRef: "42"}, pc, "the ticket only; anything else in the URL is ignored")
	for name, q := range map[string]string{
		"missing":    "",
		"unfilled":   "$FAULTID",
		"braces":     "{$FAULTID}",
		"not a num":  "12a",
		"zero":       "0",
		"too big":    "99999999999",
		"negative":   "-4",
		"script-ish": "<x>",
	} {
		_, err := c.PodContext(url.Values{"ticket": {q}})
		assert.ErrorIs(t, err, core.ErrInvalid, name)
	}
	_, err = c.PodContext(url.Values{"ticket": {"$FAULTID"}})
	assert.Contains(t, core.ErrorMessage(err), "did not fill in")
}
