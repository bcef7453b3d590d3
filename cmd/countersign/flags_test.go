package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEveryFlagHasAVariable: each command's -help lists every flag with the
// variable that stands for it (README: "every flag has a variable").
func TestEveryFlagHasAVariable(t *testing.T) {
	for _, args := range [][]string{
		{"serve"}, {"demo"}, {"migrate"}, {"tenant", "create"}, {"user", "create"}, {"audit", "verify"}, {"keygen"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out := cli(t, append(args, "-help")...)
			require.Equal(t, 0, code, out)
			flags := regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllStringSubmatch(out, -1)
			require.NotEmpty(t, flags, out)
			for _, f := range flags {
				assert.Contains(t, out, envName(f[1]), "-%s has no variable in the help", f[1])
			}
		})
	}
}

// TestFlagVariables: a variable sets its flag, the command line wins over
// it, and a bad value names the variable.
func TestFlagVariables(t *testing.T) {
	t.Setenv("COUNTERSIGN_OUT", filepath.Join(t.TempDir(), "from-env.key"))
	code, out := cli(t, "keygen")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "from-env.key")

	other := filepath.Join(t.TempDir(), "from-flag.key")
	code, out = cli(t, "keygen", "-out", other)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "from-flag.key")
	assert.NotContains(t, out, "from-env.key")

	t.Setenv("COUNTERSIGN_SMTP_PORT", "twenty-five")
	code, out = cli(t, "serve")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, `COUNTERSIGN_SMTP_PORT="twenty-five"`)
}

// runDemo runs `countersign demo` with the environment the test set
// (COUNTERSIGN_LISTEN, COUNTERSIGN_DATA, …) until the test ends, and
// returns what it printed once it is serving. The demo must then stop
// cleanly.
func runDemo(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo"}, pw, io.Discard)
		pw.Close()
	}()
	printed := make(chan string, 1)
	go func() {
		var sb strings.Builder
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			sb.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Stop with Ctrl+C") {
				printed <- sb.String()
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	var out string
	select {
	case out = <-printed:
	case code := <-done:
		cancel()
		t.Fatalf("demo exited with %d", code)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("the demo printed no address within a minute")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			assert.Equal(t, 0, code, "the demo's exit code")
		case <-time.After(30 * time.Second):
			t.Error("the demo did not stop")
		}
	})
	return out
}

// TestDemoListensWhereItsVariablesSay: `countersign demo` with
// COUNTERSIGN_LISTEN and COUNTERSIGN_PSA_LISTEN serves the console and the
// demo PSA at those addresses (issue 12: the variable used to be ignored).
func TestDemoListensWhereItsVariablesSay(t *testing.T) {
	addr, psaAddr := freeAddr(t), freeAddr(t)
	t.Setenv("COUNTERSIGN_LISTEN", addr)
	t.Setenv("COUNTERSIGN_PSA_LISTEN", psaAddr)
	t.Setenv("COUNTERSIGN_DATA", filepath.Join(t.TempDir(), "demo"))
	out := runDemo(t)
	assert.Contains(t, out, "http://"+addr+"/?tenant=demo-msp")
	ticketPage := regexp.MustCompile(`http://` + regexp.QuoteMeta(psaAddr) + `/ui/ticket/\S+`).FindString(out)
	require.NotEmpty(t, ticketPage, "the demo PSA's ticket screen at %s:\n%s", psaAddr, out)
	for _, u := range []string{"http://" + addr + "/healthz", ticketPage} {
		res, err := http.Get(u)
		require.NoError(t, err, u)
		res.Body.Close()
		assert.Equal(t, http.StatusOK, res.StatusCode, u)
	}
}

func TestDemoRefusesAddressesOffLoopback(t *testing.T) {
	for _, args := range [][]string{{"demo", "-listen", "0.0.0.0:8080"}, {"demo", "-psa-listen", "192.0.2.1:9000"}} {
		code, out := cli(t, append(args, "-data", t.TempDir())...)
		assert.Equal(t, 1, code, out)
		assert.Contains(t, out, "loopback only", fmt.Sprint(args))
	}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}
