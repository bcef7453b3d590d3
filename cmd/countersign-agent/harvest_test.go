//go:build !windows

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServiceAccountPassword: the first start takes the password from
// the environment and keeps it; later starts go without it; a new one in
// the environment replaces the kept one; the variable is cleared once
// read; with neither, the harvester says where to put it.
func TestServiceAccountPassword(t *testing.T) {
	const env = "COUNTERSIGN_TEST_AD_SVC_PASSWORD"
	_, store := harvesterSecrets(t.TempDir())

	t.Setenv(env, "")
	_, err := serviceAccountPassword(store, env)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "set the service account's password in "+env)

	t.Setenv(env, "First-Pass!1")
	got, err := serviceAccountPassword(store, env)
	require.NoError(t, err)
	assert.Equal(t, "First-Pass!1", got)
	_, set := os.LookupEnv(env)
	assert.False(t, set, "cleared once read")

	got, err = serviceAccountPassword(store, env)
	require.NoError(t, err)
	assert.Equal(t, "First-Pass!1", got, "a restart without it in the environment")

	t.Setenv(env, "Second-Pass!2")
	got, err = serviceAccountPassword(store, env)
	require.NoError(t, err)
	assert.Equal(t, "Second-Pass!2", got)
	got, err = serviceAccountPassword(store, env)
	require.NoError(t, err)
	assert.Equal(t, "Second-Pass!2", got, "the new one is kept")

	info, err := os.Stat(filepath.Join(filepath.Dir(string(store.(fileStore))), "service-account.cred"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}
