package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBrowserTechnicianDisabled: an admin disables a technician from the
// technicians page while the technician has a contact open in the console.
// The technician's page says, within moments and without "Offline", that an
// admin disabled the account, with a "Sign in again" button that leads to
// the sign-in page; the admin's list shows the last sign-in and "Disabled",
// and re-enabling puts the account back.
func TestBrowserTechnicianDisabled(t *testing.T) {
	s := startServer(t)
	status, body := s.API.do("POST", "/admin/technicians", map[string]string{
		"name": "Tom Tech", "email": "tom@acme.example", "role": "technician", "password": techPassword})
	require.Equal(t, http.StatusCreated, status, body)
	tomID := body["technician"].(map[string]any)["id"].(string)

	tom := NewTab(t)
	s.SignIn(t, tom, "tom@acme.example", techPassword, "")
	openContact(t, tom, "Sam", "Sam Caller")
	tom.WaitText("#live", "Live")

	admin := NewTab(t)
	s.SignIn(t, admin, techEmail, techPassword, "")
	admin.Visit(s.URL + "/app/admin/technicians")
	admin.WaitVisible("#disable-" + tomID)
	assert.Contains(t, admin.Text("#signin-"+tomID), "last sign-in")
	admin.CheckA11y("technicians")

	start := time.Now()
	admin.Click("#disable-" + tomID)
	admin.WaitText("#tech-list-msg", "Tom Tech is disabled")
	tom.WaitText("#live", "An admin disabled your account")
	t.Logf("the technician's page said so %v after the click", time.Since(start))
	var states string
	tom.Eval(`document.getElementById("live").dataset.state`, &states)
	assert.Equal(t, "signedout", states, "signed out, not offline")
	admin.WaitText("#signin-"+tomID, "Disabled")
	admin.WaitVisible("#enable-" + tomID)
	tom.Screenshot("console-signed-out-by-admin")
	admin.Screenshot("admin-technician-disabled")
	admin.CheckA11y("technicians (one disabled)")

	// "Sign in again" leads to the sign-in page, where the account is refused.
	tom.Click("#live button")
	tom.WaitVisible("#login")

	admin.Click("#enable-" + tomID)
	admin.WaitText("#tech-list-msg", "can sign in again")
	admin.WaitVisible("#disable-" + tomID)
}
