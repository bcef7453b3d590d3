package psa_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/countersign/countersign/core/psa"
)

func TestContactCache(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	cc := psa.NewContactCache(time.Minute, 2)
	c := psa.Contact{Ref: "1", FirstName: "Alice", Phones: []psa.Phone{{Number: "+15550100142"}}}
	cc.Put("1", c, now)

	got, ok := cc.Get("1", now.Add(59*time.Second))
	assert.True(t, ok)
	assert.Equal(t, c, got)
	got.Phones[0].Number = "changed"
	again, _ := cc.Get("1", now)
	assert.Equal(t, "+15550100142", again.Phones[0].Number, "a caller's change does not reach the cache")

	_, ok = cc.Get("1", now.Add(time.Minute))
	assert.False(t, ok, "expired")
	_, ok = cc.Get("1", now.Add(-time.Second))
	assert.False(t, ok, "a clock that went back does not resurrect it")

	cc.Forget("1")
	_, ok = cc.Get("1", now)
	assert.False(t, ok, "forgotten")

	cc.Put("1", c, now)
	cc.Put("2", c, now)
	cc.Put("3", c, now)
	_, ok1 := cc.Get("1", now)
	_, ok3 := cc.Get("3", now)
	assert.False(t, ok1, "past its size the cache starts again")
	assert.True(t, ok3)
}
