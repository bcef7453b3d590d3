package psa_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

func TestError(t *testing.T) {
	notFound := psa.StatusError(404, []byte(`{"code":"NotFound"}`))
	e := psa.NewError("acme", "get contact 12", core.KindNotFound, notFound, "Acme has no contact %d", 12)
	assert.Equal(t, 404, e.Status, "the HTTP status comes from the cause")
	assert.Equal(t, core.KindNotFound, e.Kind())
	assert.Equal(t, "Acme has no contact 12", core.ErrorMessage(e))
	assert.Equal(t, `acme: get contact 12: Acme has no contact 12 (http 404: {"code":"NotFound"})`, e.Error())
	require.ErrorIs(t, e, core.ErrNotFound)
	var he *psa.HTTPError
	require.ErrorAs(t, e, &he, "a cause of the same kind stays visible")

	// A 404 that is really "cannot route": unavailable, never also not found.
	routing := psa.NewError("acme", "get contact 12", core.KindUnavailable, notFound, "Acme could not route the request")
	require.ErrorIs(t, routing, core.ErrUnavailable)
	assert.NotErrorIs(t, routing, core.ErrNotFound)

	canceled := psa.NewError("acme", "list", core.KindUnavailable, context.Canceled, "stopped")
	assert.ErrorIs(t, canceled, context.Canceled, "a cause of no kind stays visible")
	assert.Zero(t, canceled.Status)

	wrapped := psa.WrapWhat("acme", "get ticket 7", fmt.Errorf("outer: %w", e))
	var we *psa.Error
	require.ErrorAs(t, wrapped, &we)
	assert.Equal(t, "get ticket 7: get contact 12", we.What)
	assert.Equal(t, "Acme has no contact 12", core.ErrorMessage(wrapped), "the message is kept")
	assert.Equal(t, "get contact 12", e.What, "the original is not changed")

	plain := psa.WrapWhat("acme", "get ticket 7", errors.New("boom"))
	assert.Equal(t, "acme: get ticket 7: boom", plain.Error())
	assert.Equal(t, core.KindInternal, core.ErrorKind(plain))
}
