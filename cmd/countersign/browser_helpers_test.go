package main

// The browser-test harness: the real server started with Run (SQLite in a
// temp dir, the Twilio fake, the SMTP fake), and Debian's chromium driven
// through chromedp. One browser serves the whole package run; every Tab gets
// its own browser context, so tabs share no cookies unless a test asks for
// a sibling tab (Tab.Sibling).
//
// The server's public URL is http://localhost:PORT while it listens on
// 127.0.0.1:PORT, so a page served from http://127.0.0.1:OTHER
// (ServeOtherOrigin) is cross-site to it: a PSA page framing the pod.
//
// Screenshots go to $COUNTERSIGN_ARTIFACTS (default <repo>/artifacts/screenshots).
// When a wait fails, the tab's console log, URL, text and a screenshot named
// FAIL-<test>-<n>.png are reported.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/smtp/smtptest"
	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/twilio/twiliotest"
)

// Timeouts: every browser step is bounded, so a broken page fails fast.
const (
	browserStartTimeout = 30 * time.Second
	waitTimeout         = 10 * time.Second
)

// The seeded tenant and people of every test server.
const (
	testTenantSlug = "acme-it"
	testTenantName = "Acme IT"
	techEmail      = "jane@acme.example"
	techName       = "Jane Tech"
	techPassword   = "correct horse battery staple"
	opsEmail       = "ops@acme.example" // the API client's user, for seeding and state checks
)

// ---------------------------------------------------------------------------
// The shared browser.

var shared struct {
	once  sync.Once
	ctx   context.Context // the browser's first tab; parent of every Tab
	err   error
	stop  func()
	dir   string
	mu    sync.Mutex
	shots map[string]int // FAIL screenshots per test
}

// TestMain closes the shared browser after the package's tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared.stop != nil {
		shared.stop()
	}
	os.Exit(code)
}

// chromiumPath returns the browser binary: $COUNTERSIGN_TEST_CHROMIUM, or
// Debian's /usr/bin/chromium.
func chromiumPath() string {
	if p := os.Getenv("COUNTERSIGN_TEST_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// browser returns the shared browser, starting it on first use. A missing
// chromium fails the test: browser tests are part of the suite, and the
// README's test command (scripts/test.sh) installs it.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if _, err := exec.LookPath(path); err != nil {
		t.Fatalf("chromium not found at %s (%v): run the README test command, `make test` (scripts/test.sh), "+
			"which installs Debian's chromium, or set COUNTERSIGN_TEST_CHROMIUM to a Chromium binary", path, err)
	}
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "countersign-chromium-")
		if shared.err != nil {
			return
		}
		opts := chromiumOptions(path, shared.dir)
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		// cdproto may not know every event this chromium sends; those
		// decoding complaints are noise, not test failures.
		quiet := func(string, ...any) {}
		bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(quiet), chromedp.WithLogf(quiet))
		// The first Run starts the browser and binds it to the context it
		// is given, so it gets no deadline of its own; the wait is bounded
		// here instead.
		if err := runBounded(bctx, browserStartTimeout); err != nil {
			cancelBrowser()
			cancelAlloc()
			shared.err = fmt.Errorf("start %s: %w", path, err)
			return
		}
		shared.ctx = bctx
		shared.shots = map[string]int{}
		shared.stop = func() {
			cancelBrowser()
			cancelAlloc()
			_ = os.RemoveAll(shared.dir)
		}
	})
	require.NoError(t, shared.err, "the shared chromium did not start")
	return shared.ctx
}

// ---------------------------------------------------------------------------
// Tabs.

// Tab is one browser tab of a test, with what its pages logged.
type Tab struct {
	t   *testing.T
	Ctx context.Context // chromedp context of this tab; use with chromedp.Run

	mu   sync.Mutex
	logs []string // console output, exceptions and browser log entries
	errs []string // the ones that fail the test: console errors, exceptions, CSP violations
}

// NewTab opens a tab in a new browser context of its own: fresh cookies and
// storage, like a separate browser profile. Two NewTabs are two people.
// The tab closes when the test ends; console errors, uncaught exceptions
// and CSP violations its pages logged fail the test then.
func NewTab(t *testing.T) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser(t), chromedp.WithNewBrowserContext())
	return startTab(t, ctx, cancel)
}

// Sibling opens another tab in tb's browser context (shared cookies), e.g.
// for a pop-out sign-in window.
func (tb *Tab) Sibling(t *testing.T) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(tb.Ctx)
	return startTab(t, ctx, cancel)
}

func startTab(t *testing.T, ctx context.Context, cancel context.CancelFunc) *Tab {
	t.Helper()
	tb := &Tab{t: t, Ctx: ctx}
	chromedp.ListenTarget(ctx, tb.onEvent)
	t.Cleanup(func() {
		tb.mu.Lock()
		errs := append([]string(nil), tb.errs...)
		tb.mu.Unlock()
		for _, e := range errs {
			t.Errorf("browser console: %s", e)
		}
		cancel()
	})
	// Like the browser, a tab's target is bound to the context of its first
	// Run: that Run must not carry a timeout.
	if err := runBounded(ctx, browserStartTimeout); err != nil {
		t.Fatalf("open a browser tab: %v", err)
	}
	tb.SetViewport(1024, 768)
	return tb
}

// runBounded runs an empty action list on ctx (creating the browser or the
// tab on first use) and gives up waiting after d.
func runBounded(ctx context.Context, d time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- chromedp.Run(ctx) }()
	select {
	case err := <-errc:
		return err
	case <-time.After(d):
		return fmt.Errorf("no answer from chromium in %s", d)
	}
}

// onEvent records console output, uncaught exceptions and browser log
// entries (CSP violations, failed loads).
func (tb *Tab) onEvent(ev any) {
	var line string
	fail := false
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range ev.Args {
			if a.Value != nil {
				parts = append(parts, strings.Trim(string(a.Value), `"`))
			} else {
				parts = append(parts, a.Description)
			}
		}
		line = fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(parts, " "))
		fail = ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeAssert
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		line = fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber, msg)
		fail = true
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		line = fmt.Sprintf("log %s/%s: %s %s", e.Source, e.Level, e.Text, e.URL)
		// A page that answers 404 or 400 on purpose (an unknown link, a
		// wrong code) logs a failed load; that is network noise. CSP
		// violations and other errors are not.
		fail = e.Level == cdplog.LevelError && e.Source != cdplog.SourceNetwork
	default:
		return
	}
	tb.mu.Lock()
	tb.logs = append(tb.logs, line)
	if fail {
		tb.errs = append(tb.errs, line)
	}
	tb.mu.Unlock()
}

// Logs returns what the tab's pages logged so far.
func (tb *Tab) Logs() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.logs...)
}

// Run runs actions with the standard timeout; on error it reports the page
// state (URL, console, visible text, a screenshot) and fails the test.
func (tb *Tab) Run(what string, actions ...chromedp.Action) {
	tb.t.Helper()
	if err := tb.try(waitTimeout, actions...); err != nil {
		tb.Fail(what, err)
	}
}

// try runs actions with timeout d and returns the error.
func (tb *Tab) try(d time.Duration, actions ...chromedp.Action) error {
	ctx, cancel := context.WithTimeout(tb.Ctx, d)
	defer cancel()
	return chromedp.Run(ctx, actions...)
}

// Fail reports the page state and a screenshot, then fails the test now.
func (tb *Tab) Fail(what string, err error) {
	tb.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %v", what, err)
	var url, text string
	_ = tb.try(3*time.Second, chromedp.Location(&url),
		chromedp.Evaluate(`document.body ? document.body.innerText.slice(0, 2000) : ""`, &text))
	fmt.Fprintf(&b, "\n  url: %s\n  page text:\n%s", redactLink(url), indent(text, "    "))
	if logs := tb.Logs(); len(logs) > 0 {
		fmt.Fprintf(&b, "\n  console:\n%s", indent(strings.Join(logs, "\n"), "    "))
	}
	shared.mu.Lock()
	shared.shots[tb.t.Name()]++
	n := shared.shots[tb.t.Name()]
	shared.mu.Unlock()
	name := fmt.Sprintf("FAIL-%s-%d", strings.NewReplacer("/", "_", " ", "_").Replace(tb.t.Name()), n)
	var png []byte
	if tb.try(5*time.Second, chromedp.FullScreenshot(&png, 100)) == nil {
		if path, err := writeArtifact(name+".png", png); err == nil {
			fmt.Fprintf(&b, "\n  screenshot: %s", path)
		}
	}
	tb.t.Fatal(b.String())
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n"+prefix)
}

// SetViewport sizes the page; widths under 600 px emulate a phone (mobile
// viewport, touch), so the page's viewport meta tag takes effect.
func (tb *Tab) SetViewport(width, height int64) {
	tb.t.Helper()
	mobile := width < 600
	tb.Run(fmt.Sprintf("set viewport %dx%d", width, height),
		emulation.SetDeviceMetricsOverride(width, height, 1, mobile),
		emulation.SetTouchEmulationEnabled(mobile))
}

// Visit opens url and waits until the document has loaded.
func (tb *Tab) Visit(url string) {
	tb.t.Helper()
	tb.Run("open "+redactLink(url), chromedp.Navigate(url), chromedp.WaitReady("body", chromedp.ByQuery))
}

// redactLink hides link tokens in failure messages, as the server's own
// logs do.
func redactLink(u string) string {
	return regexp.MustCompile(`(/l/[^/]+/)[A-Za-z0-9_-]{16,}`).ReplaceAllString(u, "${1}[token]")
}

// URL returns the tab's current URL.
func (tb *Tab) URL() string {
	tb.t.Helper()
	var u string
	tb.Run("read the URL", chromedp.Location(&u))
	return u
}

// Eval evaluates a JavaScript expression and stores its JSON value in out;
// a promise is awaited.
func (tb *Tab) Eval(js string, out any) {
	tb.t.Helper()
	tb.Run("evaluate "+firstLine(js), chromedp.Evaluate(js, out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// Text returns the visible text of the first element matching sel.
func (tb *Tab) Text(sel string) string {
	tb.t.Helper()
	var s string
	tb.Run("read text of "+sel, chromedp.Text(sel, &s, chromedp.ByQuery, chromedp.NodeVisible))
	return strings.TrimSpace(s)
}

// Click waits for sel to be visible and clicks it like a mouse.
func (tb *Tab) Click(sel string) {
	tb.t.Helper()
	tb.Run("click "+sel, chromedp.Click(sel, chromedp.ByQuery, chromedp.NodeVisible))
}

// Submit clicks sel (a submit button) and waits for the page it loads.
func (tb *Tab) Submit(sel string) {
	tb.t.Helper()
	tb.MarkPage()
	tb.Click(sel)
	tb.WaitNewPage()
}

// MarkPage marks the current document, so WaitNewPage can tell when
// another one has loaded.
func (tb *Tab) MarkPage() {
	tb.t.Helper()
	tb.Eval(`window.__countersignOldPage = true`, new(bool))
}

// WaitNewPage waits until a document loaded after the last MarkPage is
// complete.
func (tb *Tab) WaitNewPage() {
	tb.t.Helper()
	tb.WaitTrue("the next page", `!window.__countersignOldPage && document.readyState === "complete"`)
}

// Type focuses sel and types text into it key by key.
func (tb *Tab) Type(sel, text string) {
	tb.t.Helper()
	tb.Run("type into "+sel, chromedp.SendKeys(sel, text, chromedp.ByQuery, chromedp.NodeVisible))
}

// Keys types keys into whatever has the focus (kb.Tab, kb.Enter, text).
func (tb *Tab) Keys(keys string) {
	tb.t.Helper()
	tb.Run("press keys", chromedp.KeyEvent(keys))
}

// WaitVisible waits for sel to be visible.
func (tb *Tab) WaitVisible(sel string) {
	tb.t.Helper()
	tb.Run("wait for "+sel+" to be visible", chromedp.WaitVisible(sel, chromedp.ByQuery))
}

// WaitTrue waits until the JavaScript expression js is true. It keeps
// asking across page loads (a form submit navigates mid-wait).
func (tb *Tab) WaitTrue(what, js string) {
	tb.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		var ok bool
		err := tb.try(2*time.Second, chromedp.Evaluate(js, &ok))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("still false after %s", waitTimeout)
			}
			tb.Fail("wait for "+what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitStable waits until the subtree of sel (the body when nothing
// matches) has not changed for quiet: scripts that re-render after a
// debounce or a live update are done.
func (tb *Tab) WaitStable(sel string, quiet time.Duration) {
	tb.t.Helper()
	tb.Eval(fmt.Sprintf(`new Promise((resolve) => {
  const el = document.querySelector(%s) || document.body;
  const done = () => { obs.disconnect(); resolve(true); };
  let timer = setTimeout(done, %d);
  const obs = new MutationObserver(() => { clearTimeout(timer); timer = setTimeout(done, %d); });
  obs.observe(el, { subtree: true, childList: true, attributes: true, characterData: true });
})`, jsString(sel), quiet.Milliseconds(), quiet.Milliseconds()), new(bool))
}

// WaitText waits until an element matching sel contains text.
func (tb *Tab) WaitText(sel, text string) {
	tb.t.Helper()
	tb.WaitTrue(fmt.Sprintf("%s to contain %q", sel, text), fmt.Sprintf(
		`[...document.querySelectorAll(%s)].some(e => e.textContent.includes(%s))`, jsString(sel), jsString(text)))
}

// WaitClass waits until the first element matching sel has class.
func (tb *Tab) WaitClass(sel, class string) {
	tb.t.Helper()
	tb.WaitTrue(fmt.Sprintf("%s to have class %q", sel, class), fmt.Sprintf(
		`(() => { const e = document.querySelector(%s); return !!e && e.classList.contains(%s); })()`, jsString(sel), jsString(class)))
}

// WaitURL waits until the tab's path is path.
func (tb *Tab) WaitURL(path string) {
	tb.t.Helper()
	tb.WaitTrue("the page "+path, fmt.Sprintf(`location.pathname === %s && document.readyState === "complete"`, jsString(path)))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Screenshot writes a full-page PNG of the tab to the artifacts directory
// as name (".png" added) and returns its path.
func (tb *Tab) Screenshot(name string) string {
	tb.t.Helper()
	var png []byte
	tb.Run("screenshot "+name, chromedp.FullScreenshot(&png, 100))
	path, err := writeArtifact(name+".png", png)
	require.NoError(tb.t, err)
	tb.t.Logf("screenshot: %s", path)
	return path
}

// ScreenshotWidths takes name-360.png and name-1024.png: a phone and a
// laptop. The viewport is left at 1024 px.
func (tb *Tab) ScreenshotWidths(name string) {
	tb.t.Helper()
	tb.SetViewport(360, 740)
	tb.Screenshot(name + "-360")
	tb.SetViewport(1024, 768)
	tb.Screenshot(name + "-1024")
}

// artifactsDir returns where screenshots go: $COUNTERSIGN_ARTIFACTS, or
// artifacts/screenshots at the repository root.
func artifactsDir() (string, error) {
	if d := os.Getenv("COUNTERSIGN_ARTIFACTS"); d != "" {
		return d, os.MkdirAll(d, 0o755)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test directory; set COUNTERSIGN_ARTIFACTS")
		}
		dir = parent
	}
	d := filepath.Join(dir, "artifacts", "screenshots")
	return d, os.MkdirAll(d, 0o755)
}

func writeArtifact(name string, data []byte) (string, error) {
	dir, err := artifactsDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, data, 0o644)
}

// ---------------------------------------------------------------------------
// Accessibility.

// a11yJS checks the page's document and returns one line per problem,
// naming the element: form fields without a label, buttons and links
// without an accessible name, images without alt, text under the WCAG AA
// contrast ratio (4.5:1, or 3:1 for large text) computed from computed
// styles with the background found by walking up (gradients are checked at
// each colour stop), and positive tabindex values.
const a11yJS = `(() => {
  const problems = [];
  const hiddenByAttr = (el) => !!el.closest('[hidden], [aria-hidden="true"], [inert]');
  const visible = (el) => {
    if (hiddenByAttr(el)) return false;
    const s = getComputedStyle(el);
    if (s.display === 'none' || s.visibility === 'hidden' || s.visibility === 'collapse') return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const describe = (el) => {
    let d = el.tagName.toLowerCase();
    if (el.id) d += '#' + el.id;
    else if (el.getAttribute('name')) d += '[name="' + el.getAttribute('name') + '"]';
    else if (typeof el.className === 'string' && el.className.trim()) d += '.' + el.className.trim().split(/\s+/).join('.');
    for (const a of ['data-method', 'value', 'type']) if (el.hasAttribute(a) && !el.id) d += '[' + a + '="' + el.getAttribute(a) + '"]';
    const text = (el.innerText || el.value || '').trim().replace(/\s+/g, ' ').slice(0, 40);
    if (text) d += ' "' + text + '"';
    return d;
  };
  const textOf = (ids) => ids.split(/\s+/).map(id => { const e = document.getElementById(id); return e ? e.textContent.trim() : ''; }).join(' ').trim();
  const name = (el) => {
    const lb = el.getAttribute('aria-labelledby');
    if (lb && textOf(lb)) return textOf(lb);
    const al = el.getAttribute('aria-label');
    if (al && al.trim()) return al.trim();
    if (el.labels && el.labels.length) {
      const t = [...el.labels].map(l => l.textContent.trim()).join(' ').trim();
      if (t) return t;
    }
    if (el.tagName === 'IMG') return (el.getAttribute('alt') || '').trim();
    if (el.tagName === 'INPUT' && ['submit', 'button', 'reset'].includes(el.type)) return (el.value || '').trim();
    if (el.tagName === 'INPUT' && el.type === 'image') return (el.getAttribute('alt') || '').trim();
    if (!['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName)) {
      const t = (el.innerText || '').trim();
      if (t) return t;
      const img = el.querySelector('img[alt]:not([alt=""]), svg[aria-label]');
      if (img) return img.getAttribute('alt') || img.getAttribute('aria-label');
    }
    return (el.getAttribute('title') || '').trim();
  };

  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden' || !visible(el)) continue;
    if (['submit', 'button', 'reset', 'image'].includes(el.type)) {
      if (!name(el)) problems.push('name: ' + describe(el) + ' has no accessible name');
      continue;
    }
    const labelled = (el.labels && el.labels.length > 0) || el.hasAttribute('aria-label') || el.hasAttribute('aria-labelledby');
    if (!labelled) problems.push('label: ' + describe(el) + ' has no <label for>, aria-label or aria-labelledby');
    else if (!name(el)) problems.push('label: ' + describe(el) + ' has an empty label');
  }
  for (const el of document.querySelectorAll('button, a[href], [role="button"], [role="link"], summary')) {
    if (visible(el) && !name(el)) problems.push('name: ' + describe(el) + ' has no accessible name');
  }
  for (const el of document.querySelectorAll('img')) {
    if (!el.hasAttribute('alt') && !hiddenByAttr(el) && el.getAttribute('role') !== 'presentation')
      problems.push('alt: ' + describe(el) + ' has no alt attribute');
  }
  for (const el of document.querySelectorAll('[tabindex]')) {
    if (el.tabIndex > 0) problems.push('focus order: ' + describe(el) + ' has tabindex=' + el.tabIndex + '; positive values break the DOM order');
  }

  const parse = (c) => {
    const m = /rgba?\(([^)]*)\)/.exec(c || '');
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(parseFloat);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const over = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a), g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a), a: 1 });
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const rgb = (c) => 'rgb(' + [c.r, c.g, c.b].map(Math.round).join(', ') + ')';
  // backgrounds returns the possible opaque backgrounds behind el: one
  // colour, or one per gradient stop; null when an image is behind it.
  const backgrounds = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      const img = s.backgroundImage;
      if (img && img !== 'none') {
        if (/url\(/.test(img)) return null;
        const stops = (img.match(/rgba?\([^)]*\)/g) || []).map(parse).filter(Boolean);
        if (stops.length) {
          const base = parse(s.backgroundColor) || { r: 255, g: 255, b: 255, a: 0 };
          return stops.map(st => layers.reduceRight((acc, l) => over(l, acc), over(st, over(base, { r: 255, g: 255, b: 255, a: 1 }))));
        }
      }
      const bg = parse(s.backgroundColor);
      if (bg && bg.a > 0) {
        if (bg.a >= 1) return [layers.reduceRight((acc, l) => over(l, acc), bg)];
        layers.push(bg);
      }
    }
    return [layers.reduceRight((acc, l) => over(l, acc), { r: 255, g: 255, b: 255, a: 1 })];
  };
  const checked = new Set();
  const check = (el) => {
    if (checked.has(el)) return;
    checked.add(el);
    if (!visible(el) || el.closest('svg, script, style, noscript, template')) return;
    if (el.disabled) return; // WCAG 1.4.3 exempts inactive controls
    const s = getComputedStyle(el);
    const fg = parse(s.color);
    const bgs = backgrounds(el);
    if (!fg || !bgs) return;
    const size = parseFloat(s.fontSize), weight = parseInt(s.fontWeight, 10) || 400;
    const large = size >= 24 || (size >= 18.66 && weight >= 700);
    const need = large ? 3 : 4.5;
    let worst = null;
    for (const bg of bgs) {
      const r = ratio(over(fg, bg), bg);
      if (!worst || r < worst.r) worst = { r, bg };
    }
    if (worst.r < need - 0.005) problems.push('contrast: ' + describe(el) + ' is ' + worst.r.toFixed(2) + ':1, needs ' + need +
      ':1 (text ' + rgb(fg) + ' on ' + rgb(worst.bg) + ')');
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.textContent.trim() && n.parentElement) check(n.parentElement);
  }
  for (const el of document.querySelectorAll('input:not([type=hidden]):not([type=checkbox]):not([type=radio]), select, textarea')) check(el);
  return problems;
})()`

// CheckA11y runs the accessibility checks on the tab's page and reports
// each problem as a test error naming page and element.
func (tb *Tab) CheckA11y(page string) {
	tb.t.Helper()
	for _, p := range tb.A11yProblems() {
		tb.t.Errorf("a11y %s: %s", page, p)
	}
}

// A11yProblems returns what the accessibility checks find on the tab's
// page, one line per problem.
func (tb *Tab) A11yProblems() []string {
	tb.t.Helper()
	var problems []string
	tb.Eval(a11yJS, &problems)
	return problems
}

// focusablesJS lists the visible, keyboard-focusable elements in DOM
// order, with how each looks when not focused, and marks each with a
// data-a11y-order attribute for the Tab walk.
const focusablesJS = `(() => {
  const sel = 'a[href], button, input, select, textarea, summary, iframe, [tabindex], [contenteditable="true"]';
  const out = [];
  let i = 0;
  for (const el of document.querySelectorAll(sel)) {
    if (el.disabled || el.type === 'hidden' || el.tabIndex < 0) continue;
    if (el.closest('[hidden], [inert]')) continue;
    const s = getComputedStyle(el);
    if (s.display === 'none' || s.visibility !== 'visible') continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    el.setAttribute('data-a11y-order', String(i++));
    let d = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '');
    const t = (el.innerText || el.getAttribute('aria-label') || el.name || '').trim().slice(0, 30);
    if (t) d += ' "' + t + '"';
    out.push({ desc: d, outline: s.outlineStyle + ' ' + s.outlineWidth + ' ' + s.outlineColor, shadow: s.boxShadow, border: s.borderColor });
  }
  return out;
})()`

// activeJS describes the focused element and whether it shows a focus
// indicator: an outline, or a box-shadow or border colour that differs from
// its unfocused look.
const activeJS = `((before) => {
  const el = document.activeElement;
  if (!el || el === document.body) return { order: -1, desc: 'body', indicator: false };
  const s = getComputedStyle(el);
  const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
  const order = el.hasAttribute('data-a11y-order') ? parseInt(el.getAttribute('data-a11y-order'), 10) : -1;
  const b = before[order];
  const changed = !!b && (s.boxShadow !== b.shadow || s.borderColor !== b.border);
  let d = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '');
  return { order, desc: d, indicator: outline || changed, focusVisible: el.matches(':focus-visible') };
})`

// CheckKeyboard walks the page with the Tab key: focus must visit the
// visible focusable elements in DOM order, and each must show a focus
// indicator. Problems are test errors naming the element. It leaves the
// focus on the last element.
func (tb *Tab) CheckKeyboard(page string) {
	tb.t.Helper()
	for _, p := range tb.KeyboardProblems() {
		tb.t.Errorf("keyboard %s: %s", page, p)
	}
}

// FocusStart moves the keyboard's starting point to the top of the page,
// as on a fresh load: the next Tab focuses the first focusable element.
// Blurring alone is not enough, since the browser continues from the last
// focused element. It focuses a temporary, unfocusable-by-Tab marker at
// the start of the body, which removes itself when it loses the focus.
func (tb *Tab) FocusStart() {
	tb.t.Helper()
	tb.Eval(`(() => {
  const m = document.createElement("span");
  m.tabIndex = -1;
  document.body.prepend(m);
  m.focus();
  m.addEventListener("blur", () => m.remove(), { once: true });
  return document.activeElement === m;
})()`, new(bool))
}

// KeyboardProblems does CheckKeyboard's walk and returns the problems.
func (tb *Tab) KeyboardProblems() []string {
	tb.t.Helper()
	type focusable struct {
		Desc    string `json:"desc"`
		Outline string `json:"outline"`
		Shadow  string `json:"shadow"`
		Border  string `json:"border"`
	}
	var want []focusable
	tb.Eval(focusablesJS, &want)
	tb.FocusStart()
	if len(want) == 0 {
		return []string{"nothing on the page can take the focus"}
	}
	before, _ := json.Marshal(want)
	var problems []string
	for i, w := range want {
		tb.Keys(kb.Tab)
		var got struct {
			Order     int    `json:"order"`
			Desc      string `json:"desc"`
			Indicator bool   `json:"indicator"`
		}
		tb.Eval(fmt.Sprintf(`(%s)(%s)`, activeJS, before), &got)
		if got.Order != i {
			// After one step out of order the rest would all differ.
			return append(problems, fmt.Sprintf("Tab press %d focused %s, want %s (DOM order)", i+1, got.Desc, w.Desc))
		}
		if !got.Indicator {
			problems = append(problems, fmt.Sprintf("%s shows no focus indicator (outline or box-shadow)", w.Desc))
		}
	}
	return problems
}

// ---------------------------------------------------------------------------
// The server.

// testServer is a running Countersign server with its fakes.
type testServer struct {
	URL       string // the public URL, http://localhost:PORT
	Addr      string // where it listens, 127.0.0.1:PORT
	DB        string // the SQLite file
	Twilio    *twiliotest.Server
	Mail      *smtptest.Server
	Logs      *syncBuffer
	API       *apiClient // signed in as opsEmail (an admin), for seeding and state checks
	ContactID string     // Sam Caller of Contoso: +15550100142, sam@contoso.example
	ClientID  string
}

// startServer starts the whole server with Run: a tenant (acme-it) with
// two admins, Jane Tech (techEmail, for the browser; no TOTP yet) and the
// API's ops user, and one client with one contact. It stops when the test
// ends. opts adjust the Config before the server starts.
func startServer(t *testing.T, opts ...func(*Config)) *testServer {
	t.Helper()
	dir := t.TempDir()
	s := &testServer{DB: filepath.Join(dir, "cs.db"), Logs: &syncBuffer{}}
	masterKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	t.Setenv("COUNTERSIGN_MASTER_KEY", masterKey)
	t.Setenv("BROWSER_TEST_PASSWORD", techPassword)
	for _, args := range [][]string{
		{"tenant", "create", "-db", s.DB, "-slug", testTenantSlug, "-name", testTenantName},
		{"user", "create", "-db", s.DB, "-tenant", testTenantSlug, "-email", techEmail, "-name", techName, "-role", "admin", "-password-env", "BROWSER_TEST_PASSWORD"},
		{"user", "create", "-db", s.DB, "-tenant", testTenantSlug, "-email", opsEmail, "-name", "Ops Robot", "-role", "admin", "-password-env", "BROWSER_TEST_PASSWORD"},
	} {
		code, out := cli(t, args...)
		require.Equal(t, 0, code, "%v: %s", args, out)
	}
	s.Twilio = twiliotest.New(t)
	s.Mail = smtptest.New(t, smtptest.WithSTARTTLS())
	log := newTestLogger(s.Logs)

	// Run binds its own listener; the public URL must name the port, so
	// pick a free one first and retry if another process takes it between.
	var done chan error
	var cancel context.CancelFunc
	for attempt := 0; ; attempt++ {
		port := freePort(t)
		s.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		s.URL = fmt.Sprintf("http://localhost:%d", port)
		cfg := Config{
			Listen: s.Addr, PublicURL: s.URL, Database: s.DB, MasterKey: masterKey, RequireTOTP: true,
			OutboxPoll:       200 * time.Millisecond,
			TwilioAccountSID: twiliotest.DefaultAccountSID, TwilioSecret: twiliotest.DefaultAuthToken, TwilioFrom: "+15550100000",
			twilioHTTP: s.Twilio.HTTPClient(),
			SMTPHost:   s.Mail.Host(), SMTPPort: s.Mail.Port(), SMTPFrom: "helpdesk@acme.example", SMTPTLS: "starttls",
			smtpRoots: s.Mail.CertPool(),
			demoPSA:   true, // the tests' PSA of choice; TestServeRefusesTheDemoPSA turns it off
		}
		for _, o := range opts {
			o(&cfg)
		}
		var ctx context.Context
		ctx, cancel = context.WithCancel(context.Background())
		ready := make(chan string, 1)
		done = make(chan error, 1)
		go func() { done <- Run(ctx, cfg, log, func(a string) { ready <- a }) }()
		var err error
		select {
		case <-ready:
		case err = <-done:
		case <-time.After(20 * time.Second):
			err = errors.New("no answer in 20 s")
		}
		if err == nil {
			break
		}
		cancel()
		if attempt == 2 || !strings.Contains(err.Error(), "listen on") {
			t.Fatalf("the server did not start: %v\n%s", err, s.Logs.String())
		}
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server shutdown: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("the server did not shut down in 20 s")
		}
	})

	s.API = newAPIClient(t, "http://"+s.Addr+"/api/v1")
	status, body := s.API.do("POST", "/login", map[string]string{"tenant": testTenantSlug, "email": opsEmail, "password": techPassword})
	require.Equal(t, http.StatusOK, status, body)
	secret, _ := body["secret"].(string)
	require.NotEmpty(t, secret, "the ops user enrols TOTP: %v", body)
	code, err := totp.GenerateCode(secret, time.Now())
	require.NoError(t, err)
	status, body = s.API.do("POST", "/login/totp", map[string]string{"code": code})
	require.Equal(t, http.StatusOK, status, body)

	status, body = s.API.do("POST", "/clients", map[string]string{"name": "Contoso"})
	require.Equal(t, http.StatusCreated, status, body)
	s.ClientID = body["id"].(string)
	s.ContactID = s.AddContact(t, "Sam", "Caller", "(555) 010-0142", "sam@contoso.example")
	return s
}

// newTestLogger logs JSON into buf at debug level.
func newTestLogger(buf *syncBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// AddContact creates a contact of the test client with one phone and one
// email, and returns its id.
func (s *testServer) AddContact(t *testing.T, first, last, phone, email string) string {
	t.Helper()
	status, body := s.API.do("POST", "/contacts", map[string]any{"client_id": s.ClientID, "first_name": first, "last_name": last,
		"phones": []map[string]any{{"value": phone, "default": true}},
		"emails": []map[string]any{{"value": email, "default": true}}})
	require.Equal(t, http.StatusCreated, status, body)
	return body["id"].(string)
}

// SetBranding sets the tenant's branding straight in the store.
func (s *testServer) SetBranding(t *testing.T, b core.Branding) {
	t.Helper()
	s.updateStore(t, func(ctx context.Context, tx core.Tx) error {
		tn, err := tx.TenantBySlug(ctx, testTenantSlug)
		if err != nil {
			return err
		}
		tn.Branding = b
		return tx.UpdateTenant(ctx, &tn)
	})
}

// ExpireVerification moves a verification's expiry into the past, as if
// its lifetime had run out; the server runs on the real clock.
func (s *testServer) ExpireVerification(t *testing.T, id string) {
	t.Helper()
	s.updateStore(t, func(ctx context.Context, tx core.Tx) error {
		tn, err := tx.TenantBySlug(ctx, testTenantSlug)
		if err != nil {
			return err
		}
		v, err := tx.LockVerification(ctx, tn.ID, id)
		if err != nil {
			return err
		}
		v.ExpiresAt = time.Now().Add(-time.Minute)
		return tx.UpdateVerification(ctx, &v)
	})
}

// updateStore runs fn in a write transaction on the server's database,
// through a second connection (SQLite in WAL mode allows it).
func (s *testServer) updateStore(t *testing.T, fn func(ctx context.Context, tx core.Tx) error) {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite", s.DB)
	require.NoError(t, err)
	defer st.Close()
	require.NoError(t, st.Update(ctx, func(tx core.Tx) error { return fn(ctx, tx) }))
}

// Verification returns the verification as the API shows it.
func (s *testServer) Verification(t *testing.T, id string) map[string]any {
	t.Helper()
	status, body := s.API.do("GET", "/verifications/"+id, nil)
	require.Equal(t, http.StatusOK, status, body)
	return body
}

var linkInMail = regexp.MustCompile(`http://localhost:\d+/l/[a-z0-9-]+/[A-Za-z0-9_-]{43}`)

// WaitForLink waits for the next email to to that arrives after the first
// `seen` messages of the SMTP fake, and returns the link in it.
func (s *testServer) WaitForLink(t *testing.T, to string, seen int) string {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		msgs := s.Mail.Messages()
		for _, m := range msgs[min(seen, len(msgs)):] {
			if containsAddr(m.To, to) {
				link := linkInMail.FindString(m.Text)
				require.NotEmpty(t, link, "no link in the email:\n%s", m.Text)
				require.True(t, strings.HasPrefix(link, s.URL+"/l/"), "the link %s is not under the public URL %s", redactLink(link), s.URL)
				return link
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no email to %s in %s", to, waitTimeout)
	return ""
}

// WaitForSMSCode waits for the next SMS to to after the first `seen`
// messages of the Twilio fake, and returns the 6-digit code in it.
func (s *testServer) WaitForSMSCode(t *testing.T, to string, seen int) string {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		msgs := s.Twilio.Messages()
		for _, m := range msgs[min(seen, len(msgs)):] {
			if m.To == to {
				code := regexp.MustCompile(`\d{6}`).FindString(strings.ReplaceAll(m.Body, " ", ""))
				require.NotEmpty(t, code, "no code in the SMS: %s", m.Body)
				return code
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no SMS to %s in %s", to, waitTimeout)
	return ""
}

// StartLink starts an email_link verification for contactID over the API
// and returns its id, the technician's code and the link from the email.
func (s *testServer) StartLink(t *testing.T, contactID, email string) (id, techCode, link string) {
	t.Helper()
	seen := len(s.Mail.Messages())
	status, body := s.API.do("POST", "/verifications", map[string]string{"contact_id": contactID, "method": "email_link", "ticket_ref": "4821"})
	require.Equal(t, http.StatusCreated, status, body)
	id, techCode = body["id"].(string), body["tech_code"].(string)
	require.Len(t, techCode, 6)
	return id, techCode, s.WaitForLink(t, email, seen)
}

func containsAddr(list any, addr string) bool {
	return strings.Contains(strings.ToLower(fmt.Sprint(list)), strings.ToLower(addr))
}

// ---------------------------------------------------------------------------
// People.

// SignIn signs the technician in on the real login page. Without a TOTP
// secret it expects the first-sign-in enrolment, completes it with a code
// computed from the secret the page shows, and returns that secret; with
// one it types the current code. Either way it waits for the console.
// A second sign-in within the same 30 s TOTP step would be a replay, so
// codes for an enrolled secret are taken one step ahead (the server allows
// one step of clock skew).
func (s *testServer) SignIn(t *testing.T, tb *Tab, email, password, totpSecret string) string {
	t.Helper()
	tb.Visit(s.URL + "/?tenant=" + testTenantSlug)
	tb.WaitVisible("#login")
	tb.Type("#email", email)
	tb.Type("#password", password)
	if totpSecret != "" {
		code, err := totp.GenerateCode(totpSecret, time.Now().Add(30*time.Second))
		require.NoError(t, err)
		tb.Type("#totp", code)
	}
	tb.Click(`#login button[type="submit"]`)
	if totpSecret == "" {
		tb.WaitVisible("#enroll")
		totpSecret = tb.Text("#enroll-secret")
		require.Regexp(t, `^[A-Z2-7]{16,}$`, totpSecret, "the enrolment page shows a base32 TOTP key")
		code, err := totp.GenerateCode(totpSecret, time.Now())
		require.NoError(t, err)
		tb.Type("#enroll-code", code)
		tb.Click(`#enroll button[type="submit"]`)
	}
	tb.WaitURL("/app")
	tb.WaitVisible("#search")
	return totpSecret
}

// ServeOtherOrigin serves handler on http://127.0.0.1:PORT, an origin
// (and site) other than the server's http://localhost:PORT: a PSA page that
// frames the pod. It stops when the test ends.
func ServeOtherOrigin(t *testing.T, handler http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// randomToken returns a well-formed link token that no link has.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// logoDataURI draws a small logo (two brand-coloured bars) as a PNG data URI.
func logoDataURI(a, b color.RGBA) string {
	img := image.NewRGBA(image.Rect(0, 0, 120, 36))
	for y := range 36 {
		for x := range 120 {
			switch {
			case x < 36 && (x-18)*(x-18)+(y-18)*(y-18) <= 17*17:
				img.Set(x, y, a)
			case x >= 44 && y >= 8 && y < 16:
				img.Set(x, y, a)
			case x >= 44 && x < 100 && y >= 20 && y < 28:
				img.Set(x, y, b)
			}
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
}

// chromiumOptions are the flags every test browser starts with, with its
// profile in dir.
func chromiumOptions(path, dir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// This machine's network is closed: without these, chromium
		// keeps trying to reach Google's hosts.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints,AutofillServerCommunication"),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.WindowSize(1024, 768),
		chromedp.WSURLReadTimeout(browserStartTimeout),
	}
}
