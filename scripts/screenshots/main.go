// Command screenshots takes README's pictures of the console and the pod
// from a running `countersign demo`, in headless Chromium: a caller verified
// with an SMS code read from the dev outbox beside the card, then the same
// in the pod inside the demo PSA's ticket screen. Run it through
// scripts/screenshots.sh, which builds the binary first.
//
// The demo listens on localhost and its PSA on 127.0.0.1, so the pod is a
// cross-site frame, as it is in a real PSA.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

func main() {
	bin := flag.String("countersign", "bin/countersign", "the countersign binary")
	out := flag.String("out", "docs", "directory for the PNGs")
	chromium := flag.String("chromium", "/usr/bin/chromium", "the Chromium binary")
	flag.Parse()
	if err := run(*bin, *out, *chromium); err != nil {
		log.Fatal(err)
	}
}

func run(bin, outDir, chromium string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	data, err := os.MkdirTemp("", "countersign-shots-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(data)

	port, err := freePort()
	if err != nil {
		return err
	}
	demo := exec.CommandContext(ctx, bin, "demo", "-data", data, "-listen", fmt.Sprintf("localhost:%d", port), "-psa-listen", "127.0.0.1:0")
	demo.Stderr = io.Discard
	stdout, err := demo.StdoutPipe()
	if err != nil {
		return err
	}
	if err := demo.Start(); err != nil {
		return err
	}
	defer func() { _ = demo.Process.Signal(os.Interrupt); _ = demo.Wait() }()
	printed, err := readUntil(stdout, "Stop with Ctrl+C", 60*time.Second)
	if err != nil {
		return err
	}
	password := regexp.MustCompile(`password (\S+)`).FindStringSubmatch(printed)
	ticket := regexp.MustCompile(`open (http://127\.0\.0\.1:\d+/ui/ticket/\S+)`).FindStringSubmatch(printed)
	if password == nil || ticket == nil {
		return fmt.Errorf("the demo printed no password or ticket screen:\n%s", printed)
	}
	base := fmt.Sprintf("http://localhost:%d", port)

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("force-color-profile", "srgb"), chromedp.Flag("font-render-hinting", "none"))
	defer cancelAlloc()
	// cdproto may not know every event this chromium sends: noise.
	quiet := func(string, ...any) {}
	console, cancelConsole := chromedp.NewContext(alloc, chromedp.WithErrorf(quiet), chromedp.WithLogf(quiet))
	defer cancelConsole()

	// The console: Alice Smith verified with the code from the dev outbox.
	var sms string
	if err := chromedp.Run(console,
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(base+"/?tenant=demo-msp"),
		chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#email", "tech@demo-msp.example"),
		chromedp.SendKeys("#password", password[1]),
		chromedp.Click(`#login button[type="submit"]`),
		chromedp.WaitVisible("#search"),
		chromedp.SendKeys("#search", "Alice"),
		waitJS(`[...document.querySelectorAll("#contacts button")].some(b => b.textContent.trim() === "Alice Smith")`),
		chromedp.Evaluate(`[...document.querySelectorAll("#contacts button")].find(b => b.textContent.trim() === "Alice Smith").click()`, nil),
		chromedp.WaitVisible(`#dests button[data-method="sms_code"]`),
		chromedp.Click(`#dests button[data-method="sms_code"]`),
		chromedp.WaitVisible(`#devpanel-items li[data-kind="sms"]`),
		chromedp.Text(`#devpanel-items li[data-kind="sms"] pre`, &sms),
	); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	if err := chromedp.Run(console,
		chromedp.SendKeys("#code", smsCode(sms)),
		chromedp.Click(`#check button[type="submit"]`),
		chromedp.WaitVisible("#shield.green"),
		chromedp.Evaluate(`document.activeElement.blur(); window.scrollTo(0, 0)`, nil),
		chromedp.Sleep(500*time.Millisecond),
	); err != nil {
		return fmt.Errorf("console: verify: %w", err)
	}
	if err := shoot(console, filepath.Join(outDir, "console.png")); err != nil {
		return err
	}

	// The pod in the demo PSA's ticket screen, signed in through its
	// pop-out, verifying the ticket's contact.
	psaTab, cancelPSA := chromedp.NewContext(console)
	defer cancelPSA()
	if err := chromedp.Run(psaTab, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(ticket[1])); err != nil {
		return fmt.Errorf("ticket screen: %w", err)
	}
	pod, err := attach(psaTab, "/pod/", "iframe")
	if err != nil {
		return err
	}
	popc := chromedp.WaitNewTarget(pod, func(in *target.Info) bool { return strings.Contains(in.URL, "/pod/signin") })
	if err := chromedp.Run(pod, chromedp.WaitVisible("#signin"), chromedp.Click("#signin")); err != nil {
		return fmt.Errorf("pod: sign in: %w", err)
	}
	var popID target.ID
	select {
	case popID = <-popc:
	case <-time.After(20 * time.Second):
		return errors.New("pod: no sign-in window opened")
	}
	pop, cancelPop := chromedp.NewContext(pod, chromedp.WithTargetID(popID))
	defer cancelPop()
	if err := chromedp.Run(pop,
		chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#email", "tech@demo-msp.example"),
		chromedp.SendKeys("#password", password[1]),
		chromedp.Click(`#login button[type="submit"]`),
	); err != nil {
		return fmt.Errorf("pod: sign-in window: %w", err)
	}
	var seen int
	if err := chromedp.Run(console, chromedp.Evaluate(`document.querySelectorAll('#devpanel-items li[data-kind="sms"]').length`, &seen)); err != nil {
		return err
	}
	if err := chromedp.Run(pod,
		chromedp.WaitVisible(`#dests button[data-method="sms_code"]`),
		chromedp.Click(`#dests button[data-method="sms_code"]`),
		chromedp.WaitVisible("#code"),
	); err != nil {
		return fmt.Errorf("pod: send: %w", err)
	}
	if err := chromedp.Run(console,
		waitJS(fmt.Sprintf(`document.querySelectorAll('#devpanel-items li[data-kind="sms"]').length > %d`, seen)),
		chromedp.Text(`#devpanel-items li[data-kind="sms"] pre`, &sms),
	); err != nil {
		return fmt.Errorf("pod: read the code: %w", err)
	}
	if err := chromedp.Run(pod,
		chromedp.SendKeys("#code", smsCode(sms)),
		chromedp.Click(`#check button[type="submit"]`),
		chromedp.WaitVisible("#shield.green"),
		chromedp.Evaluate(`document.activeElement.blur()`, nil),
		chromedp.Sleep(500*time.Millisecond),
	); err != nil {
		return fmt.Errorf("pod: verify: %w", err)
	}
	// The result is written to the ticket as a note by the outbox, within
	// a second or two; the ticket screen shows it once reloaded.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var noted bool
		if err := chromedp.Run(psaTab, chromedp.Reload(), chromedp.WaitReady("body"),
			chromedp.Evaluate(`document.body.innerText.includes("VERIFIED")`, &noted)); err != nil {
			return fmt.Errorf("ticket screen: reload: %w", err)
		}
		if noted {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("ticket screen: no note after 20 s")
		}
		time.Sleep(time.Second)
	}
	if pod, err = attach(psaTab, "/pod/", "iframe"); err != nil {
		return err
	}
	if err := chromedp.Run(pod, chromedp.WaitVisible("#shield.green"), chromedp.Sleep(500*time.Millisecond)); err != nil {
		return fmt.Errorf("pod after reload: %w", err)
	}
	return shoot(psaTab, filepath.Join(outDir, "pod.png"))
}

// smsCode is the code in an SMS-code message ("Demo MSP code 123456, …").
func smsCode(text string) string {
	if m := regexp.MustCompile(`code (\d+)`).FindStringSubmatch(text); m != nil {
		return m[1]
	}
	return ""
}

// waitJS waits until js is true on the page.
func waitJS(js string) chromedp.Action {
	return chromedp.Poll(js, nil, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second))
}

// attach returns a context on the target of kind whose URL contains part
// (a cross-site frame is a target of its own).
func attach(parent context.Context, part, kind string) (context.Context, error) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		infos, err := chromedp.Targets(parent)
		if err != nil {
			return nil, err
		}
		for _, in := range infos {
			if in.Type == kind && strings.Contains(in.URL, part) {
				ctx, _ := chromedp.NewContext(parent, chromedp.WithTargetID(in.TargetID))
				return ctx, chromedp.Run(ctx)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, fmt.Errorf("no %s showing %s", kind, part)
}

// shoot writes the tab's viewport as a PNG.
func shoot(ctx context.Context, path string) error {
	var png []byte
	if err := chromedp.Run(ctx, chromedp.CaptureScreenshot(&png)); err != nil {
		return fmt.Errorf("screenshot %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	log.Printf("wrote %s (%d bytes)", path, len(png))
	return os.WriteFile(path, png, 0o644)
}

// readUntil reads r until a line contains marker and returns what it read;
// the rest of r is drained in the background.
func readUntil(r io.Reader, marker string, timeout time.Duration) (string, error) {
	found := make(chan string, 1)
	go func() {
		var sb strings.Builder
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			sb.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), marker) {
				found <- sb.String()
				break
			}
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case s := <-found:
		return s, nil
	case <-time.After(timeout):
		return "", fmt.Errorf("the demo did not start within %s", timeout)
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
