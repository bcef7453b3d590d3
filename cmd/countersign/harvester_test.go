package main

import (
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/agent"
	"github.com/countersign/countersign/agent/directory"
)

// scriptedDirectory is a directory.Conn stand-in answering Sync from a
// script: it records the state each round started from.
type scriptedDirectory struct {
	rounds []func(prev directory.State) (*directory.Result, error)
	seen   []directory.State
}

func (d *scriptedDirectory) dial() (agent.Syncer, error) { return d, nil }
func (d *scriptedDirectory) Close() error                { return nil }
func (d *scriptedDirectory) Sync(prev directory.State, _ time.Time) (*directory.Result, error) {
	d.seen = append(d.seen, prev)
	next := d.rounds[0]
	d.rounds = d.rounds[1:]
	return next(prev)
}

// TestHarvesterRounds: the agent's harvester (activated with the client's
// key through the real agent client) uploads a full sync and then an
// incremental one to the running server, which keeps them for the client;
// a round whose read fails, or whose upload the server refuses, keeps the
// old state, so the next round starts again from it; a restart (a new
// harvester over the same state file) goes on incrementally.
func TestHarvesterRounds(t *testing.T) {
	s := startServer(t)
	status, body := s.API.do("GET", "/clients/"+s.ClientID+"/activation-key", nil)
	require.Equal(t, http.StatusOK, status, body)
	client := &agent.Client{ServerURL: "http://" + s.Addr}
	_, _, err := client.Activate(t.Context(), body["activation_key"].(string), agent.Report{Name: "CONTOSO-DC1", OS: "Windows Server 2022"})
	require.NoError(t, err)

	u := func(guid, sam, mail string) directory.User {
		return directory.User{GUID: guid, SID: "S-1-5-21-7-8-9-" + guid[len(guid)-4:], DN: "CN=" + sam + ",OU=Staff,DC=contoso,DC=example",
			SAMAccountName: sam, DisplayName: sam, Mail: mail, Enabled: true}
	}
	const (
		g1 = "2b3c4d5e-0000-4000-8000-000000001001"
		g2 = "2b3c4d5e-0000-4000-8000-000000001002"
		g3 = "2b3c4d5e-0000-4000-8000-000000001003"
	)
	st1 := directory.State{DC: "dc1.contoso.example", InvocationID: "inv-1", USN: 100, Scope: "s"}
	st2 := st1
	st2.USN = 120
	dir := &scriptedDirectory{rounds: []func(directory.State) (*directory.Result, error){
		func(directory.State) (*directory.Result, error) {
			return &directory.Result{Full: true, Reason: "first sync", State: st1,
				Users: []directory.User{u(g1, "sam", "sam@contoso.example"), u(g2, "pat", ""), u(g3, "lee", "")}}, nil
		},
		func(directory.State) (*directory.Result, error) {
			return nil, errors.New("directory: the DC dropped the connection")
		},
		func(directory.State) (*directory.Result, error) {
			bad := u(g2, "pat", "")
			bad.SID = "not-a-sid"
			return &directory.Result{State: st2, Users: []directory.User{bad}}, nil
		},
		func(directory.State) (*directory.Result, error) {
			return &directory.Result{State: st2, Users: []directory.User{u(g2, "pat", "pat@contoso.example")}, Removed: []string{g3}}, nil
		},
		func(directory.State) (*directory.Result, error) { return &directory.Result{State: st2}, nil },
	}}
	state := agent.FileState(filepath.Join(t.TempDir(), "harvester.json"))
	h := &agent.Harvester{Client: client, Dial: dir.dial, State: state}

	sum, err := h.Once(t.Context())
	require.NoError(t, err)
	assert.Equal(t, agent.DirectorySummary{Full: true, Added: 3, Total: 3}, sum)

	_, err = h.Once(t.Context())
	require.ErrorContains(t, err, "dropped the connection")
	_, err = h.Once(t.Context())
	var apiErr *agent.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusBadRequest, apiErr.Status)
	assert.Contains(t, apiErr.Message, "is not a SID")

	sum, err = h.Once(t.Context())
	require.NoError(t, err)
	assert.Equal(t, agent.DirectorySummary{Changed: 1, Removed: 1, Total: 2}, sum)
	assert.Equal(t, []directory.State{{}, st1, st1, st1}, dir.seen, "failed rounds kept the state they started from")

	// A restart: a new harvester over the same state file goes on from it.
	h = &agent.Harvester{Client: client, Dial: dir.dial, State: state}
	sum, err = h.Once(t.Context())
	require.NoError(t, err)
	assert.Equal(t, agent.DirectorySummary{Total: 2}, sum)
	assert.Equal(t, st2, dir.seen[4])

	_, body = s.API.do("GET", "/clients/"+s.ClientID+"/directory/matches", nil)
	rows := map[string]string{}
	for _, m := range body["matches"].([]any) {
		mm := m.(map[string]any)
		rows[mm["guid"].(string)] = mm["status"].(string)
	}
	assert.Equal(t, map[string]string{g1: "matched", g2: "unmatched"}, rows, "Sam matched by e-mail, Pat unmatched, Lee removed")

	// A revoked or unknown credential is refused as such.
	h.Client = &agent.Client{ServerURL: "http://" + s.Addr, Credential: "csd1.dev_nosuch.AAAA"}
	dir.rounds = append(dir.rounds, func(directory.State) (*directory.Result, error) { return &directory.Result{State: st2}, nil })
	_, err = h.Once(t.Context())
	assert.ErrorIs(t, err, agent.ErrUnauthorized)
}
