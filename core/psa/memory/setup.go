package memory

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

// Setup implements [psa.SetupGuide].
func (c *Client) Setup(podURL, origin string) psa.Setup {
	return psa.Setup{
		Where: "Memory PSA › Settings › Pods",
		Pods: []psa.PodEntry{
			{Screen: psa.ScreenContact, ScreenName: "Contacts", Description: "Countersign", URL: podURL, Origin: origin, Type: "pod"},
			{Screen: psa.ScreenTicket, ScreenName: "Tickets", Description: "Countersign", URL: podURL, Origin: origin, Type: "pod"},
		},
		Notes: []string{"The demo PSA adds ?contact= or ?ticket= to the pod URL itself."},
		Permissions: []psa.Permission{
			{Area: "API key", Access: "any", Why: "the demo PSA has one kind of key, which may do everything"},
		},
	}
}

// PodScreens implements [psa.PodInstaller].
func (c *Client) PodScreens(ctx context.Context) ([]psa.PodScreen, error) {
	var ws []wirePodScreen
	if _, err := c.get(ctx, "GET /pod-screens", "pod-screens", nil, &ws); err != nil {
		return nil, fmt.Errorf("memory: pod screens: %w", err)
	}
	var out []psa.PodScreen
	for _, w := range ws {
		out = append(out, psa.PodScreen{ID: w.ID, Key: w.Key, Name: w.Name, Screen: psa.Screen(w.Key)})
	}
	return out, nil
}

// InstallPods implements [psa.PodInstaller]: an entry with the same screen
// and URL is kept.
func (c *Client) InstallPods(ctx context.Context, entries []psa.PodEntry, screens map[psa.Screen]int) ([]psa.InstalledPod, error) {
	var existing []wirePod
	if _, err := c.get(ctx, "GET /pods", "pods", nil, &existing); err != nil {
		return nil, fmt.Errorf("memory: list pods: %w", err)
	}
	var known []psa.PodScreen
	var out []psa.InstalledPod
	for _, e := range entries {
		id, ok := screens[e.Screen]
		if !ok {
			if known == nil {
				var err error
				if known, err = c.PodScreens(ctx); err != nil {
					return nil, err
				}
			}
			for _, k := range known {
				if k.Screen == e.Screen {
					id, ok = k.ID, true
				}
			}
			if !ok {
				return nil, core.Errorf(core.KindInvalid, "the memory PSA has no %s screen", e.Screen)
			}
		}
		done := false
		for _, p := range existing {
			if p.ScreenID == id && p.URL == e.URL {
				out, done = append(out, psa.InstalledPod{Screen: e.Screen, Ref: p.ID, ScreenID: id}), true
				break
			}
		}
		if done {
			continue
		}
		var created wirePod
		if err := c.post(ctx, "POST /pods", "pods", wirePod{ScreenID: id, URL: e.URL, Description: e.Description}, &created); err != nil {
			return nil, fmt.Errorf("memory: add pod: %w", err)
		}
		existing = append(existing, created)
		out = append(out, psa.InstalledPod{Screen: e.Screen, Ref: created.ID, ScreenID: id, Created: true})
	}
	return out, nil
}

// RegisterCallbacks implements [psa.CallbackRegistrar]: a webhook with the
// same URL is reused, and enabled again if the PSA had disabled it.
func (c *Client) RegisterCallbacks(ctx context.Context, target string) ([]psa.CallbackRegistration, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(target) > 1000 {
		return nil, core.Errorf(core.KindInvalid, "the webhook URL %q is not an absolute http(s) URL", target)
	}
	var hooks []wireWebhook
	if _, err := c.get(ctx, "GET /webhooks", "webhooks", nil, &hooks); err != nil {
		return nil, fmt.Errorf("memory: list webhooks: %w", err)
	}
	for _, h := range hooks {
		if h.URL != target {
			continue
		}
		if !h.Disabled {
			return []psa.CallbackRegistration{{Ref: h.ID, Type: "ticket"}}, nil
		}
		if err := c.patch(ctx, "PATCH /webhooks/{id}", "webhooks/"+url.PathEscape(h.ID), wireWebhookPatch{Disabled: false}); err != nil {
			return nil, fmt.Errorf("memory: enable webhook %s: %w", h.ID, err)
		}
		return []psa.CallbackRegistration{{Ref: h.ID, Type: "ticket", Reenabled: true}}, nil
	}
	var created wireWebhook
	if err := c.post(ctx, "POST /webhooks", "webhooks", wireWebhook{URL: target}, &created); err != nil {
		return nil, fmt.Errorf("memory: add webhook: %w", err)
	}
	if _, err := strconv.Atoi(created.ID); err != nil {
		return nil, fmt.Errorf("memory: add webhook: id %q: %w", created.ID, core.ErrUnavailable)
	}
	return []psa.CallbackRegistration{{Ref: created.ID, Type: "ticket", Created: true}}, nil
}
