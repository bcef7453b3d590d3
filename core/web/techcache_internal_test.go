package web

import (
	"fmt"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTechCache(t *testing.T) {
	now := time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)
	inSync := true
	c := newTechCache(30*time.Second, 10, func() bool { return inSync })
	tom := core.Technician{ID: "tec_tom", TenantID: "ten_a", Role: core.RoleTechnician}

	t.Run("a read that raced with a change is not kept", func(t *testing.T) {
		gen, ok := c.begin()
		require.True(t, ok)
		c.invalidate("ten_a", "tec_other") // any change between the read and the fill
		c.fill(tom, gen, now)
		_, hit := c.get("ten_a", "tec_tom", now)
		assert.False(t, hit)
		gen, _ = c.begin()
		c.fill(tom, gen, now)
		got, hit := c.get("ten_a", "tec_tom", now)
		assert.True(t, hit)
		assert.Equal(t, tom, got)
	})
	t.Run("expires after the TTL", func(t *testing.T) {
		_, hit := c.get("ten_a", "tec_tom", now.Add(30*time.Second))
		assert.False(t, hit)
	})
	t.Run("nothing is cacheable out of sync", func(t *testing.T) {
		inSync = false
		defer func() { inSync = true }()
		_, ok := c.begin()
		assert.False(t, ok)
	})
	t.Run("bounded", func(t *testing.T) {
		for i := range 100 {
			gen, _ := c.begin()
			c.fill(core.Technician{ID: fmt.Sprint("tec_", i), TenantID: "ten_a"}, gen, now)
			require.LessOrEqual(t, c.len(), 10)
		}
		c.invalidate("", "")
		assert.Zero(t, c.len())
	})
}
