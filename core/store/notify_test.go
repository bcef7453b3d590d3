package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNotifyGroups: groups, users with their schedules and the time zone
// round-trip on both stores, stay within their tenant, and a group's users
// go with it.
func TestNotifyGroups(t *testing.T) {
	storetest.ForEachDialect(t, func(t *testing.T, s *store.Store) {
		f := seed(t, s)
		g := core.NotifyGroup{TenantID: f.A.ID, Name: "On call", Events: []core.NotifyEvent{core.NotifyTechVerify, core.NotifyNotMe},
			CreatedAt: t0, UpdatedAt: t0}
		u := core.NotifyUser{TenantID: f.A.ID, Name: "Nina", Email: "nina@acme.example", SMS: "+15550100300", Voice: "+15550100301",
			ByEmail: true, BySMS: true, Source: "technician:tec_1", CreatedAt: t0, UpdatedAt: t0,
			Schedule: core.Schedule{{From: "2026-01-05", Until: "2026-12-31", Start: "09:00", End: "24:00", Days: core.WorkingDays, EveryDays: 1, OnDays: 1}}}
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			require.NoError(t, tx.CreateNotifyGroup(ctx, &g))
			u.GroupID = g.ID
			require.NoError(t, tx.CreateNotifyUser(ctx, &u))
			// The same name in another tenant is fine.
			other := core.NotifyGroup{TenantID: f.B.ID, Name: "On call"}
			require.NoError(t, tx.CreateNotifyGroup(ctx, &other))
			require.NoError(t, tx.SetNotifyTimeZone(ctx, f.A.ID, "Europe/London"))
			require.NoError(t, tx.SetNotifyTimeZone(ctx, f.A.ID, "America/New_York"))
			return nil
		})
		// A failed statement aborts a PostgreSQL transaction: one each.
		fails := func(fn func(ctx context.Context, tx core.Tx) error) error {
			return s.Update(context.Background(), func(tx core.Tx) error { return fn(context.Background(), tx) })
		}
		assert.ErrorIs(t, fails(func(ctx context.Context, tx core.Tx) error {
			return tx.CreateNotifyGroup(ctx, &core.NotifyGroup{TenantID: f.A.ID, Name: "On call"})
		}), core.ErrConflict)
		assert.ErrorIs(t, fails(func(ctx context.Context, tx core.Tx) error {
			// A user of tenant B cannot join tenant A's group.
			return tx.CreateNotifyUser(ctx, &core.NotifyUser{TenantID: f.B.ID, GroupID: g.ID, Name: "Eve"})
		}), core.ErrNotFound)
		require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
			got, err := tx.NotifyGroup(ctx, f.A.ID, g.ID)
			require.NoError(t, err)
			assert.Equal(t, g, got)
			_, err = tx.NotifyGroup(ctx, f.B.ID, g.ID)
			assert.ErrorIs(t, err, core.ErrNotFound, "another tenant's group")
			gu, err := tx.NotifyUser(ctx, f.A.ID, u.ID)
			require.NoError(t, err)
			assert.Equal(t, u, gu)
			_, err = tx.NotifyUser(ctx, f.B.ID, u.ID)
			assert.ErrorIs(t, err, core.ErrNotFound)
			all, err := tx.ListNotifyUsers(ctx, f.A.ID, "")
			require.NoError(t, err)
			assert.Len(t, all, 1)
			inB, err := tx.ListNotifyUsers(ctx, f.B.ID, "")
			require.NoError(t, err)
			assert.Empty(t, inB)
			zone, err := tx.NotifyTimeZone(ctx, f.A.ID)
			require.NoError(t, err)
			assert.Equal(t, "America/New_York", zone)
			zone, err = tx.NotifyTimeZone(ctx, f.B.ID)
			require.NoError(t, err)
			assert.Empty(t, zone, "no zone chosen")
			return nil
		}))

		u.Name, u.BySMS, u.ByVoice, u.UpdatedAt = "Nina K", false, true, t0.Add(time.Hour)
		u.Schedule = append(u.Schedule, core.ScheduleRule{From: "2026-01-01", Until: "2026-01-31", Start: "22:00", End: "06:00", Days: core.AllDays, EveryDays: 3, OnDays: 1})
		g.Name, g.Events, g.UpdatedAt = "Night desk", nil, t0.Add(time.Hour)
		update(t, s, func(ctx context.Context, tx core.Tx) error {
			require.NoError(t, tx.UpdateNotifyUser(ctx, &u))
			require.NoError(t, tx.UpdateNotifyGroup(ctx, &g))
			wrong := u
			wrong.TenantID = f.B.ID
			assert.ErrorIs(t, tx.UpdateNotifyUser(ctx, &wrong), core.ErrNotFound, "no row affected: no statement error")
			return nil
		})
		require.NoError(t, view(s, func(ctx context.Context, tx core.Tx) error {
			gu, err := tx.NotifyUser(ctx, f.A.ID, u.ID)
			require.NoError(t, err)
			assert.Equal(t, u, gu)
			got, err := tx.NotifyGroup(ctx, f.A.ID, g.ID)
			require.NoError(t, err)
			assert.Equal(t, "Night desk", got.Name)
			assert.Empty(t, got.Events)
			return nil
		}))

		update(t, s, func(ctx context.Context, tx core.Tx) error {
			assert.ErrorIs(t, tx.DeleteNotifyGroup(ctx, f.B.ID, g.ID), core.ErrNotFound, "another tenant's group")
			require.NoError(t, tx.DeleteNotifyGroup(ctx, f.A.ID, g.ID))
			assert.ErrorIs(t, tx.DeleteNotifyUser(ctx, f.A.ID, u.ID), core.ErrNotFound, "the users go with the group")
			return nil
		})
	})
}
