package web

import (
	"testing"

	"github.com/countersign/countersign/core"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCheckOwnerKept covers the last-owner rule directly: through the API
// it is also guarded by "nobody changes their own role" and "only owners
// touch the owner role", so only a race could reach it there.
func TestCheckOwnerKept(t *testing.T) {
	techs := []core.Technician{{ID: "o1", Role: core.RoleOwner}, {ID: "a1", Role: core.RoleAdmin}}
	err := checkOwnerKept(techs, "o1", core.RoleAdmin)
	require.Error(t, err)
	assert.Equal(t, core.KindConflict, core.ErrorKind(err))
	assert.Contains(t, core.ErrorMessage(err), "last owner")
	require.NoError(t, checkOwnerKept(techs, "o1", core.RoleOwner))
	require.NoError(t, checkOwnerKept(techs, "a1", core.RoleTechnician))
	require.NoError(t, checkOwnerKept(append(techs, core.Technician{ID: "o2", Role: core.RoleOwner}), "o1", core.RoleTechnician))
}

func TestCheckRoleGrant(t *testing.T) {
	owner := core.Technician{ID: "o1", Role: core.RoleOwner}
	admin := core.Technician{ID: "a1", Role: core.RoleAdmin}
	tech := core.Technician{ID: "t1", Role: core.RoleTechnician}
	assert.Error(t, checkRoleGrant(owner, owner, core.RoleAdmin), "own role")
	assert.Error(t, checkRoleGrant(admin, admin, core.RoleOwner), "own role")
	assert.Error(t, checkRoleGrant(admin, owner, core.RoleAdmin), "admin demotes owner")
	assert.Error(t, checkRoleGrant(admin, tech, core.RoleOwner), "admin grants owner")
	assert.NoError(t, checkRoleGrant(admin, tech, core.RoleAdmin))
	assert.NoError(t, checkRoleGrant(owner, admin, core.RoleOwner))
	assert.NoError(t, checkRoleGrant(owner, owner, core.RoleOwner), "no change")
}

func TestCSVCell(t *testing.T) {
	tests := map[string]string{
		"=1+1": "'=1+1", "+cmd": "'+cmd", "-2": "'-2", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "\rx": "'\rx",
		"tech:abc": "tech:abc", "": "", "a=b": "a=b", "policy.updated": "policy.updated",
	}
	for in, want := range tests {
		assert.Equal(t, want, csvCell(in), "%q", in)
	}
}

func TestSMSSegments(t *testing.T) {
	assert.Equal(t, 1, smsSegments(string(make([]byte, 160))))
	assert.Equal(t, 2, smsSegments(string(make([]byte, 161))))
	assert.Equal(t, 2, smsSegments(string(make([]byte, 306))))
	assert.Equal(t, 3, smsSegments(string(make([]byte, 307))))
	assert.Equal(t, 2, smsSegments(string(make([]byte, 159))+"€"), "extension characters count twice")
}
