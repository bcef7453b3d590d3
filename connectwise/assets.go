package connectwise

import (
	"embed"
	"io/fs"
)

// The files the plugin ships (psa.Assets): the pod's half of ConnectWise's
// Hosted API postMessage protocol, and the setup help page.
//
//go:embed assets/pod.js assets/setup.html
var assetFiles embed.FS

// assets returns the plugin's files, without the embed prefix.
func assets() fs.FS {
	sub, err := fs.Sub(assetFiles, "assets")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}
