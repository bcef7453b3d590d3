package autotask

import (
	"embed"
	"io/fs"
)

// The files the plugin ships (psa.Assets): the Insight's script (Autotask's
// dark theme) and its stylesheet, and the setup help page.
//
//go:embed assets/pod.js assets/dark.css assets/setup.html
var assetFiles embed.FS

// assets returns the plugin's files, without the embed prefix.
func assets() fs.FS {
	sub, err := fs.Sub(assetFiles, "assets")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}
