package halo

import (
	"context"
	"embed"
	"io/fs"
)

// The files the plugin ships (psa.Assets), served by the host at
// /static/psa/halo/: the tab's script (Halo agent sign-in), the page Halo
// sends the sign-in pop-out back to, and the setup help.
//
//go:embed assets/tab.js assets/agent-callback.html assets/agent-callback.js assets/setup.html
var assetFiles embed.FS

// assets returns the plugin's files, without the embed prefix.
func assets() fs.FS {
	sub, err := fs.Sub(assetFiles, "assets")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// PodScriptConfig implements [psa.PodScriptConfigurer]: what the tab's
// script needs to start Halo agent sign-in — the authorisation endpoint,
// the agent-login application's client id, the tenant, the scope and the
// callback path, none of them secret — or nil when the integration has no
// agent-login application. With the authorisation server stored at setup
// it makes no call.
func (c *Client) PodScriptConfig(ctx context.Context) (map[string]string, error) {
	si, ok, err := c.AgentSignIn(ctx)
	if err != nil || !ok {
		return nil, err
	}
	m := map[string]string{"authorize_url": si.AuthorizeURL, "client_id": si.ClientID, "scope": si.Scope, "callback_path": AgentCallbackPath}
	if si.Tenant != "" {
		m["tenant"] = si.Tenant
	}
	return m, nil
}
