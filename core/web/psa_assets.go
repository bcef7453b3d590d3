package web

import (
	"net/http"
	"path"

	"github.com/gorilla/mux"

	"github.com/countersign/countersign/assets"
	"github.com/countersign/countersign/core/psa"
)

// Files a PSA plugin ships with its descriptor (psa.Assets): its pod
// script and its setup help, served at /static/psa/{id}/{name} with the
// same fingerprinted, long-lived caching as our own static files.

// psaAssets is one plugin's files and their fingerprints.
type psaAssets struct {
	desc    psa.Descriptor
	prints  map[string]string
	handler http.Handler
}

// loadPSAAssets fingerprints every plugin's files once, at start.
func loadPSAAssets(reg *psa.Registry) (map[string]*psaAssets, error) {
	out := map[string]*psaAssets{}
	if reg == nil {
		return out, nil
	}
	for _, d := range reg.List() {
		if d.Assets.FS == nil {
			continue
		}
		prints, err := assets.Fingerprints(d.Assets.FS)
		if err != nil {
			return nil, err
		}
		out[d.ID] = &psaAssets{desc: d, prints: prints, handler: assets.StaticHandler(d.Assets.FS)}
	}
	return out, nil
}

func (s *Server) registerPSAAssetRoutes(r *mux.Router) {
	r.PathPrefix("/static/psa/{psa}/").Methods(http.MethodGet, http.MethodHead).HandlerFunc(s.handlePSAAsset)
}

// handlePSAAsset handles "GET /static/psa/{psa}/{name}": a file a plugin
// ships.
func (s *Server) handlePSAAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := s.psaAssets[pathVar(r, "psa")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	http.StripPrefix("/static/psa/"+a.desc.ID+"/", a.handler).ServeHTTP(w, r)
}

// psaAssetURL returns the fingerprinted URL of a plugin's file, or "" when
// the plugin does not ship it.
func (s *Server) psaAssetURL(kind, name string) string {
	a, ok := s.psaAssets[kind]
	if !ok {
		return ""
	}
	sum, ok := a.prints[path.Clean(name)]
	if !ok {
		return ""
	}
	return "/static/psa/" + kind + "/" + name + "?v=" + sum
}

// podScripts returns the URLs of the pod scripts of kind's plugin.
func (s *Server) podScripts(kind string) []string {
	a, ok := s.psaAssets[kind]
	if !ok {
		return nil
	}
	var out []string
	for _, n := range a.desc.Assets.PodScripts {
		if u := s.psaAssetURL(kind, n); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// setupHelpURL returns the URL of kind's setup help page, or "".
func (s *Server) setupHelpURL(kind string) string {
	a, ok := s.psaAssets[kind]
	if !ok || a.desc.Assets.SetupHelp == "" {
		return ""
	}
	return s.psaAssetURL(kind, a.desc.Assets.SetupHelp)
}
