package connectwise_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/connectwise/cwtest"
	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

const (
	testPodURL = "https://cs.example/pod/acme/int_1"
	testOrigin = "https://cs.example"
)

func TestSetupGuide(t *testing.T) {
	e := newCBEnv(t)
	st := e.client.Setup(testPodURL, testOrigin)
	assert.Contains(t, st.Where, "Manage Hosted API")
	require.Len(t, st.Pods, 2)
	want := map[psa.Screen]string{psa.ScreenContact: "Contacts", psa.ScreenTicket: "Service Tickets"}
	for _, p := range st.Pods {
		assert.Equal(t, want[p.Screen], p.ScreenName)
		assert.Equal(t, testPodURL+"?id=[cw_id]&screen=[cw_screen]", p.URL)
		assert.Equal(t, testOrigin, p.Origin)
		assert.Equal(t, "Pod", p.Type)
		assert.Equal(t, "Countersign", p.Description)
	}
	notes := strings.Join(st.Notes, " ")
	assert.Contains(t, notes, "Origin must be exactly "+testOrigin)
	assert.Contains(t, notes, "Displayed")
	assert.Contains(t, notes, "web client")
	var areas []string
	for _, p := range st.Permissions {
		areas = append(areas, p.Area+" "+p.Access)
	}
	for _, a := range []string{"Companies › Contacts Inquire", "Service Desk › Service Tickets Inquire",
		"Service Desk › Service Tickets Add", "System › Table Setup Add"} {
		assert.Contains(t, strings.Join(areas, "\n"), a)
	}
	assert.Zero(t, e.srv.Requests(), "the guide makes no call")
}

func TestInstallPods(t *testing.T) {
	e := newCBEnv(t)
	ctx := t.Context()
	screens, err := e.client.PodScreens(ctx)
	require.NoError(t, err)
	byScreen := map[psa.Screen]int{}
	for _, s := range screens {
		if s.Screen != "" {
			byScreen[s.Screen] = s.ID
		}
	}
	assert.Equal(t, map[psa.Screen]int{psa.ScreenContact: 2, psa.ScreenTicket: 3}, byScreen)

	entries := e.client.Setup(testPodURL, testOrigin).Pods
	done, err := e.client.InstallPods(ctx, entries, nil)
	require.NoError(t, err)
	require.Len(t, done, 2)
	for _, d := range done {
		assert.True(t, d.Created)
		assert.Equal(t, byScreen[d.Screen], d.ScreenID)
	}
	got := e.srv.HostedSetups()
	require.Len(t, got, 2)
	for _, h := range got {
		assert.Equal(t, testPodURL+"?id=[cw_id]&screen=[cw_screen]", h.URL)
		assert.Equal(t, testOrigin, h.Origin)
		assert.Equal(t, "Pod", h.Type)
		assert.Equal(t, "Countersign", h.Description)
	}
	assert.ElementsMatch(t, []int{2, 3}, []int{got[0].ScreenID, got[1].ScreenID})

	// Twice: nothing new.
	done, err = e.client.InstallPods(ctx, entries, map[psa.Screen]int{psa.ScreenContact: 2, psa.ScreenTicket: 3})
	require.NoError(t, err)
	for _, d := range done {
		assert.False(t, d.Created)
		assert.NotEmpty(t, d.Ref)
	}
	assert.Len(t, e.srv.HostedSetups(), 2)
}

func TestInstallPodsScreens(t *testing.T) {
	t.Run("ambiguous names: the admin chooses", func(t *testing.T) {
		e := newCBEnv(t)
		e.srv.SetHostedScreens(cwtest.HostedScreen{ID: 10, ScreenID: "Contact", Name: "Contacts"},
			cwtest.HostedScreen{ID: 11, ScreenID: "ContactV2", Name: "Contacts"},
			cwtest.HostedScreen{ID: 12, ScreenID: "ServiceTicket", Name: "Service Tickets"})
		entries := e.client.Setup(testPodURL, testOrigin).Pods
		_, err := e.client.InstallPods(t.Context(), entries, nil)
		require.ErrorIs(t, err, core.ErrInvalid)
		assert.Contains(t, core.ErrorMessage(err), "choose the screen for the Contacts pod")
		assert.Empty(t, e.srv.HostedSetups())

		done, err := e.client.InstallPods(t.Context(), entries, map[psa.Screen]int{psa.ScreenContact: 11})
		require.NoError(t, err)
		assert.Equal(t, []string{"11", "12"}, []string{strconv.Itoa(done[0].ScreenID), strconv.Itoa(done[1].ScreenID)})
	})
	t.Run("a screen ConnectWise does not have", func(t *testing.T) {
		e := newCBEnv(t)
		entries := e.client.Setup(testPodURL, testOrigin).Pods
		_, err := e.client.InstallPods(t.Context(), entries, map[psa.Screen]int{psa.ScreenContact: 99, psa.ScreenTicket: 3})
		require.ErrorIs(t, err, core.ErrInvalid)
		assert.Contains(t, core.ErrorMessage(err), "screen 99 is not valid")
		assert.Empty(t, e.srv.HostedSetups())
	})
	t.Run("role may not add to the setup table", func(t *testing.T) {
		e := newCBEnv(t)
		e.srv.Forbid("", "POST /system/connectwisehostedsetups")
		_, err := e.client.InstallPods(t.Context(), e.client.Setup(testPodURL, testOrigin).Pods, nil)
		require.ErrorIs(t, err, core.ErrForbidden)
		assert.Contains(t, core.ErrorMessage(err), "Manage Hosted API (System › Table Setup, add)")
	})
	t.Run("origin too long for ConnectWise", func(t *testing.T) {
		e := newCBEnv(t)
		long := "https://" + strings.Repeat("a", 100) + ".example"
		_, err := e.client.InstallPods(t.Context(), e.client.Setup(testPodURL, long).Pods, nil)
		require.ErrorIs(t, err, core.ErrInvalid)
		assert.Contains(t, core.ErrorMessage(err), "at most 100")
		assert.Zero(t, e.srv.Requests())
	})
}

func TestLearnedSettings(t *testing.T) {
	e := newCBEnv(t)
	assert.Nil(t, e.client.LearnedSettings())
	require.NoError(t, e.client.Check(t.Context()))
	assert.Equal(t, map[string]string{"codebase": cwtest.DefaultCodebase}, e.client.LearnedSettings())
}
