package main

import (
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/countersign/countersign/cmd/countersign/internal/seampsa"
	"github.com/countersign/countersign/cmd/countersign/internal/seampsa/seampsatest"
	"github.com/countersign/countersign/core/psa"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSeamPSAPlugsInThroughItsDescriptor is issue 10's proof of the plugin
// seam: a PSA written only for this test (internal/seampsa, with its fake)
// passes psatest (its package's TestConformance) and, registered here the
// way run.go registers the real ones, works through the server's generic
// parts alone — its pod page loads the plugin's own embedded script, its
// setup help is linked and served, a verification from its pod writes the
// note to its ticket, and its signed events go through the generic route
// (forged ones refused, replays dropped). No file outside its folder and
// this one names it.
func TestSeamPSAPlugsInThroughItsDescriptor(t *testing.T) {
	s := startServer(t, func(c *Config) { c.extraPSAs = []psa.Descriptor{seampsa.Descriptor()} })
	fake := seampsatest.NewServer("seam-key-1", "seam-secret-1")
	fake.Seed(nil, []psa.Contact{{Ref: "c7", FirstName: "Sid", LastName: "Seam", Phones: []psa.Phone{{Number: "(555) 010-0188"}}}},
		[]psa.Ticket{{Ref: "4242", Summary: "Locked out", ContactRef: "c7"}})
	fakeURL := ServeOtherOrigin(t, fake)
	intID := s.AddIntegration(t, seampsa.ID, "Seam desk", seampsa.Config{BaseURL: fakeURL, APIKey: "seam-key-1", WebhookSecret: "seam-secret-1"})
	base := "http://" + s.Addr

	// The pod page: framed only by the PSA, loading the plugin's script.
	resp, err := http.Get(base + "/pod/" + testTenantSlug + "/" + intID + "?seam_ticket=4242")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(page))
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors "+fakeURL)
	script := regexp.MustCompile(`/static/psa/` + seampsa.ID + `/pod-seam\.js\?v=[0-9a-f]+`).FindString(string(page))
	require.NotEmpty(t, script, "the pod page loads the plugin's own script")
	resp, err = http.Get(base + script)
	require.NoError(t, err)
	js, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(js), "seamPsa")

	// The integrations page offers it, with its setup help.
	status, body := s.API.do("GET", "/admin/integrations", nil)
	require.Equal(t, http.StatusOK, status, body)
	var help string
	kinds := map[string]bool{}
	for _, k := range body["kinds"].([]any) {
		kinds[k.(map[string]any)["id"].(string)] = true
	}
	assert.True(t, kinds[seampsa.ID], "the seam PSA is offered for new integrations")
	for _, in := range body["integrations"].([]any) {
		if in := in.(map[string]any); in["id"] == intID {
			help, _ = in["setup_help_url"].(string)
			assert.Equal(t, "Seam Test PSA", in["kind_name"])
			assert.NotNil(t, in["setup"], "its setup guide is shown")
		}
	}
	require.NotEmpty(t, help, "the descriptor's setup help is linked: %v", body["integrations"])
	resp, err = http.Get(base + help)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// A verification from its pod: the caller comes from the PSA's
	// ticket, the result lands on it as a note.
	cookie := podSignIn(t, s)
	api := base + "/api/v1"
	status, pc, _ := rawDo(t, "GET", api+"/pod/"+intID+"/context?seam_ticket=4242", nil, cookie)
	require.Equal(t, http.StatusOK, status, pc)
	contact := pc["contact"].(map[string]any)
	assert.Equal(t, "Sid", contact["first_name"])
	seen := len(s.Twilio.Messages())
	status, v, _ := rawDo(t, "POST", api+"/pod/"+intID+"/verifications",
		map[string]string{"scope": pc["scope"].(string), "contact_id": contact["id"].(string), "method": "sms_code"}, cookie)
	require.Equal(t, http.StatusCreated, status, v)
	code := s.WaitForSMSCode(t, "+15550100188", seen)
	status, v, _ = rawDo(t, "POST", api+"/verifications/"+v["id"].(string)+"/check", map[string]string{"code": code}, cookie)
	require.Equal(t, http.StatusOK, status, v)
	waitFor(t, "the note on the seam PSA's ticket", func() bool { return len(fake.Notes("4242")) == 1 })
	assert.Contains(t, fake.Notes("4242")[0].Text, "Sid Seam was VERIFIED by SMS code")

	// Its events, through the generic route.
	hook := api[:len(api)-len("/api/v1")] + "/webhooks/psa/" + testTenantSlug + "/" + intID
	post := func(h http.Header, b []byte) (int, string) {
		req, err := http.NewRequestWithContext(t.Context(), "POST", hook, strings.NewReader(string(b)))
		require.NoError(t, err)
		req.Header = h.Clone()
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	h, b := fake.SignedEvent("ticket", psa.CallbackAdded, "4242")
	st, out := post(h, b)
	require.Equal(t, http.StatusOK, st, out)
	assert.Contains(t, out, `"accepted"`)
	st, out = post(h, b)
	assert.Equal(t, http.StatusOK, st)
	assert.Contains(t, out, "delivered already", "a replay is dropped")
	forged := h.Clone()
	forged.Set(seampsa.SignatureHeader, seampsa.Sign("not-the-secret", 1, b))
	st, _ = post(forged, b)
	assert.Equal(t, http.StatusUnauthorized, st)

	// No other file names it.
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	own := filepath.Join(root, "cmd", "countersign", "internal", "seampsa") + string(filepath.Separator)
	self := filepath.Join(root, "cmd", "countersign", "seam_test.go")
	name := regexp.MustCompile(`(?i)seampsa|seam test psa`)
	var named []string
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == ".git" || n == "node_modules" || (strings.HasPrefix(n, ".") && p != root) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(p, own) || p == self {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > 4<<20 {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if name.Match(b) {
			named = append(named, strings.TrimPrefix(p, root+string(filepath.Separator)))
		}
		return nil
	}))
	assert.Empty(t, named, "only the seam PSA's folder and this test may name it")
}
