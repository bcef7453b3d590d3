package core

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCheckOwnerKept covers the last-owner rule directly: through the
// engine it is also guarded by "nobody changes their own role" and "only
// owners touch the owner role", so only a race could reach it there.
func TestCheckOwnerKept(t *testing.T) {
	techs := []Technician{{ID: "o1", Role: RoleOwner}, {ID: "a1", Role: RoleAdmin}}
	err := checkOwnerKept(techs, Technician{ID: "o1", Role: RoleAdmin})
	require.Error(t, err)
	assert.Equal(t, KindConflict, ErrorKind(err))
	assert.Contains(t, ErrorMessage(err), "last enabled owner")
	require.NoError(t, checkOwnerKept(techs, Technician{ID: "o1", Role: RoleOwner}))
	require.NoError(t, checkOwnerKept(techs, Technician{ID: "a1", Role: RoleTechnician}))
	require.NoError(t, checkOwnerKept(append(techs, Technician{ID: "o2", Role: RoleOwner}), Technician{ID: "o1", Role: RoleTechnician}))
	// A disabled owner is no owner: disabling the only enabled one is refused.
	disabledOwner := Technician{ID: "o2", Role: RoleOwner, DisabledAt: time.Unix(1, 0)}
	err = checkOwnerKept(append(techs, disabledOwner), Technician{ID: "o1", Role: RoleOwner, DisabledAt: time.Unix(2, 0)})
	assert.Equal(t, KindConflict, ErrorKind(err))
}

func TestCheckRoleGrant(t *testing.T) {
	owner := Technician{ID: "o1", Role: RoleOwner}
	admin := Technician{ID: "a1", Role: RoleAdmin}
	tech := Technician{ID: "t1", Role: RoleTechnician}
	assert.Error(t, CheckRoleGrant(owner, owner, RoleAdmin), "own role")
	assert.Error(t, CheckRoleGrant(admin, admin, RoleOwner), "own role")
	assert.Error(t, CheckRoleGrant(admin, owner, RoleAdmin), "admin demotes owner")
	assert.Error(t, CheckRoleGrant(admin, tech, RoleOwner), "admin grants owner")
	assert.NoError(t, CheckRoleGrant(admin, tech, RoleAdmin))
	assert.NoError(t, CheckRoleGrant(owner, admin, RoleOwner))
	assert.NoError(t, CheckRoleGrant(owner, owner, RoleOwner), "no change")
}
