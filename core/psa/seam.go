package psa

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
)

// What a plugin brings besides its client: the embedded files it ships (the
// PSA side of its pod, its setup help) and how its PSA posts events to us.
// Both are declared on the [Descriptor], so that nothing outside the
// plugin's folder names the PSA.

// MaxInboundBody is the largest inbound event body the host reads, and the
// largest a [CallbackVerifier] accepts: a bigger one is an error of kind
// core.ErrInvalid, whatever its signature.
const MaxInboundBody = 1 << 20

// Assets are the files a plugin embeds (with go:embed) and the host serves
// at /static/psa/{descriptor id}/{name}, fingerprinted and cached like its
// own static files.
type Assets struct {
	// FS holds the files; nil means the plugin ships none.
	FS fs.FS
	// PodScripts name files of FS that the pod page loads, in order, before
	// its own pod.js: the PSA's half of the embedding (ConnectWise's
	// postMessage protocol). They run under the pod's CSP (script-src
	// 'self'), so they may not load anything from elsewhere. A script
	// that can prove who is looking at the pod defines window.CSPodPSA for
	// pod.js (assets/static/pod.js documents it).
	PodScripts []string
	// SetupHelp names a file of FS, a whole HTML page, that the integrations
	// page links to beside the setup steps: where to click in the PSA, with
	// pictures if need be. "" for none.
	SetupHelp string
}

// Inbound says how a PSA posts events (callbacks, webhooks) to Countersign.
// Every integration takes its events at one generic route,
// POST /webhooks/psa/{tenant slug}/{integration id}, where the host reads
// at most [MaxInboundBody] bytes, hands them to the integration client's
// [CallbackVerifier], drops a replayed event, and acts on the verified
// [Callback] (a new ticket: the banner, show-on-load or an automatic send,
// as the client's policy says). The zero value needs nothing more.
type Inbound struct {
	// Query is appended to the event URL wherever the host shows or
	// registers it ("?recordId=": ConnectWise appends the record id to
	// whatever URL it was given, and this keeps it out of the path). It
	// starts with "?" or is "".
	Query string
	// LegacyPaths are route templates, with {tenant} and {integration},
	// that also take this PSA's events, for registrations made in the PSA
	// before the generic route existed. The host serves them for
	// integrations of this PSA only.
	LegacyPaths []string
}

// legacyPathRE is what a legacy inbound route looks like: under /webhooks/,
// plain segments, ending in /{tenant}/{integration}.
var legacyPathRE = regexp.MustCompile(`^/webhooks/[a-z0-9-]+(/[a-z0-9-]+)*/\{tenant\}/\{integration\}$`)

// checkSeam reports what is wrong with d's assets and inbound settings.
func (d Descriptor) checkSeam() error {
	a := d.Assets
	named := append([]string(nil), a.PodScripts...)
	if a.SetupHelp != "" {
		named = append(named, a.SetupHelp)
	}
	if a.FS == nil && len(named) > 0 {
		return fmt.Errorf("psa: descriptor %q names assets %v but has no Assets.FS", d.ID, named)
	}
	for _, n := range named {
		if !fs.ValidPath(n) || path.Clean(n) != n {
			return fmt.Errorf("psa: descriptor %q: asset name %q is not a plain relative path", d.ID, n)
		}
		if _, err := fs.Stat(a.FS, n); err != nil {
			return fmt.Errorf("psa: descriptor %q: asset %q is not in Assets.FS: %w", d.ID, n, err)
		}
	}
	for _, s := range a.PodScripts {
		if !strings.HasSuffix(s, ".js") {
			return fmt.Errorf("psa: descriptor %q: pod script %q does not end in .js", d.ID, s)
		}
	}
	if a.SetupHelp != "" && !strings.HasSuffix(a.SetupHelp, ".html") {
		return fmt.Errorf("psa: descriptor %q: setup help %q does not end in .html", d.ID, a.SetupHelp)
	}
	if q := d.Inbound.Query; q != "" && (!strings.HasPrefix(q, "?") || strings.ContainsAny(q, " #\"<>\\")) {
		return fmt.Errorf("psa: descriptor %q: inbound query %q must start with ? and hold no spaces, quotes or #", d.ID, q)
	}
	for _, p := range d.Inbound.LegacyPaths {
		if !legacyPathRE.MatchString(p) || strings.HasPrefix(p, "/webhooks/psa/") || strings.HasPrefix(p, "/webhooks/twilio/") {
			return fmt.Errorf("psa: descriptor %q: legacy inbound path %q must look like /webhooks/<name>/{tenant}/{integration} and not be the generic or Twilio route", d.ID, p)
		}
	}
	return nil
}
