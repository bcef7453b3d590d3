package psa_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
)

func desc(id string) psa.Descriptor {
	return psa.Descriptor{ID: id, Name: id, New: func(json.RawMessage, psa.Deps) (psa.Client, error) { return struct{}{}, nil }}
}

func TestNewRegistry(t *testing.T) {
	noNew := desc("nonew")
	noNew.New = nil
	dupField := desc("dupfield")
	dupField.Fields = []psa.Field{{Name: "a"}, {Name: "a"}}
	files := fstest.MapFS{"pod.js": {Data: []byte("//")}, "setup.html": {Data: []byte("<p>")}}
	seam := func(id string, a psa.Assets, in psa.Inbound) psa.Descriptor {
		d := desc(id)
		d.Assets, d.Inbound = a, in
		return d
	}
	legacy := psa.Inbound{LegacyPaths: []string{"/webhooks/vendor/{tenant}/{integration}"}}
	tests := []struct {
		name    string
		descs   []psa.Descriptor
		wantErr string
	}{
		{name: "none", descs: nil},
		{name: "two", descs: []psa.Descriptor{desc("halo"), desc("connectwise")}},
		{name: "empty id", descs: []psa.Descriptor{desc("halo"), desc("")}, wantErr: "empty id"},
		{name: "blank id", descs: []psa.Descriptor{desc("  ")}, wantErr: "empty id"},
		{name: "duplicate id", descs: []psa.Descriptor{desc("halo"), desc("halo")}, wantErr: `duplicate descriptor id "halo"`},
		{name: "no New", descs: []psa.Descriptor{noNew}, wantErr: "has no New"},
		{name: "duplicate field", descs: []psa.Descriptor{dupField}, wantErr: "empty or repeated"},
		{name: "id not for URLs", descs: []psa.Descriptor{desc("Halo PSA")}, wantErr: "lower-case letters"},
		{name: "assets", descs: []psa.Descriptor{seam("vendor", psa.Assets{FS: files, PodScripts: []string{"pod.js"}, SetupHelp: "setup.html"},
			psa.Inbound{Query: "?recordId=", LegacyPaths: legacy.LegacyPaths})}},
		{name: "asset not shipped", descs: []psa.Descriptor{seam("vendor", psa.Assets{FS: files, PodScripts: []string{"other.js"}}, psa.Inbound{})}, wantErr: "not in Assets.FS"},
		{name: "assets without files", descs: []psa.Descriptor{seam("vendor", psa.Assets{SetupHelp: "setup.html"}, psa.Inbound{})}, wantErr: "no Assets.FS"},
		{name: "asset path escapes", descs: []psa.Descriptor{seam("vendor", psa.Assets{FS: files, PodScripts: []string{"../pod.js"}}, psa.Inbound{})}, wantErr: "plain relative path"},
		{name: "pod script not js", descs: []psa.Descriptor{seam("vendor", psa.Assets{FS: files, PodScripts: []string{"setup.html"}}, psa.Inbound{})}, wantErr: "does not end in .js"},
		{name: "inbound query", descs: []psa.Descriptor{seam("vendor", psa.Assets{}, psa.Inbound{Query: "recordId="})}, wantErr: "must start with ?"},
		{name: "legacy path shape", descs: []psa.Descriptor{seam("vendor", psa.Assets{}, psa.Inbound{LegacyPaths: []string{"/hooks/{tenant}"}})}, wantErr: "legacy inbound path"},
		{name: "legacy path is the generic route", descs: []psa.Descriptor{seam("vendor", psa.Assets{}, psa.Inbound{LegacyPaths: []string{"/webhooks/psa/{tenant}/{integration}"}})}, wantErr: "legacy inbound path"},
		{name: "legacy path claimed twice", descs: []psa.Descriptor{seam("one", psa.Assets{}, legacy), seam("two", psa.Assets{}, legacy)}, wantErr: "both claim"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := psa.NewRegistry(tc.descs...)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.Nil(t, r)
				return
			}
			require.NoError(t, err)
			assert.Len(t, r.List(), len(tc.descs))
		})
	}
}

func TestRegistryGetList(t *testing.T) {
	r, err := psa.NewRegistry(desc("superops"), desc("connectwise"), desc("halo"))
	require.NoError(t, err)
	var ids []string
	for _, d := range r.List() {
		ids = append(ids, d.ID)
	}
	assert.Equal(t, []string{"connectwise", "halo", "superops"}, ids)

	d, err := r.Get("halo")
	require.NoError(t, err)
	assert.Equal(t, "halo", d.ID)

	_, err = r.Get("autotask")
	assert.ErrorIs(t, err, core.ErrNotFound)
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		value  string // "" means no header
		want   time.Duration
		wantOK bool
	}{
		{name: "missing"},
		{name: "seconds", value: "1", want: time.Second, wantOK: true},
		{name: "zero seconds", value: "0", want: 0, wantOK: true},
		{name: "seconds with spaces", value: " 120 ", want: 2 * time.Minute, wantOK: true},
		{name: "http-date", value: "Sat, 21 Nov 2026 12:00:30 GMT", want: 30 * time.Second, wantOK: true},
		{name: "rfc 850 date", value: "Saturday, 21-Nov-26 12:01:00 GMT", want: time.Minute, wantOK: true},
		{name: "asctime date", value: "Sat Nov 21 12:00:05 2026", want: 5 * time.Second, wantOK: true},
		{name: "date in the past", value: "Sat, 21 Nov 2026 11:00:00 GMT", want: 0, wantOK: true},
		{name: "negative", value: "-5"},
		{name: "fraction", value: "1.5"},
		{name: "garbage", value: "soon"},
		{name: "huge", value: "99999999999999999999"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.value != "" {
				h.Set("Retry-After", tc.value)
			}
			got, ok := psa.RetryAfter(h, now)
			assert.Equal(t, tc.wantOK, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestDecodeConfig(t *testing.T) {
	type cfg struct {
		BaseURL string `json:"base_url"`
		Port    int    `json:"port"`
	}
	tests := []struct {
		name    string
		raw     string
		want    cfg
		wantErr string
	}{
		{name: "ok", raw: `{"base_url":"https://x.example","port":8443}`, want: cfg{BaseURL: "https://x.example", Port: 8443}},
		{name: "empty", raw: ``, want: cfg{}},
		{name: "null", raw: `null`, want: cfg{}},
		{name: "unknown field", raw: `{"base_url":"https://x.example","api_secret":"hunter2"}`, wantErr: `unknown field "api_secret"`},
		{name: "wrong type", raw: `{"port":"hunter2"}`, wantErr: "setting port should be a int"},
		{name: "trailing data", raw: `{"port":1} {"port":2}`, wantErr: "unexpected data"},
		{name: "not json", raw: `port=1`, wantErr: "not a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got cfg
			err := psa.DecodeConfig(json.RawMessage(tc.raw), &got)
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, core.ErrInvalid)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.NotContains(t, err.Error(), "hunter2", "config errors never echo values")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestStatusError(t *testing.T) {
	tests := []struct {
		code int
		want error // nil means no kind: internal
	}{
		{400, core.ErrInvalid}, {401, core.ErrUnauthorized}, {403, core.ErrForbidden},
		{404, core.ErrNotFound}, {409, core.ErrConflict}, {410, core.ErrNotFound},
		{422, core.ErrInvalid}, {429, core.ErrRateLimited}, {500, core.ErrUnavailable},
		{502, core.ErrUnavailable}, {503, core.ErrUnavailable}, {405, nil}, {302, nil},
	}
	for _, tc := range tests {
		t.Run(http.StatusText(tc.code), func(t *testing.T) {
			err := psa.StatusError(tc.code, []byte(`{"code":"X","message":"m"}`))
			var he *psa.HTTPError
			require.ErrorAs(t, err, &he)
			assert.Equal(t, tc.code, he.Status)
			if tc.want == nil {
				assert.Equal(t, core.KindInternal, core.ErrorKind(err))
				return
			}
			assert.ErrorIs(t, err, tc.want)
		})
	}
}

func TestNextLink(t *testing.T) {
	tests := []struct {
		name, link, want string
	}{
		{name: "none"},
		{name: "connectwise", link: `<https://api-na.example/v4_6_release/apis/3.0/company/contacts?pageSize=50&page=2>; rel="next", <https://api-na.example/v4_6_release/apis/3.0/company/contacts?pageSize=50&page=4>; rel="last"`,
			want: "https://api-na.example/v4_6_release/apis/3.0/company/contacts?pageSize=50&page=2"},
		{name: "last page", link: `<https://h/a?page=1>; rel="first", <https://h/a?page=3>; rel="prev"`},
		{name: "comma in url", link: `<https://h/a?conditions=a,b&page=2>; rel="next"`, want: "https://h/a?conditions=a,b&page=2"},
		{name: "unquoted, several rels", link: `<https://h/b>; rel=last, <https://h/a>; title="x"; rel="prefetch next"`, want: "https://h/a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.link != "" {
				h.Set("Link", tc.link)
			}
			assert.Equal(t, tc.want, psa.NextLink(h))
		})
	}
}

// TestDoer covers the retry rules plugins inherit; psatest covers them
// again through every client.
func TestDoer(t *testing.T) {
	var slept []time.Duration
	policy := psa.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Minute,
		Sleep: func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return ctx.Err() }}

	serve := func(t *testing.T, answers ...func(w http.ResponseWriter)) (*httptest.Server, *atomic.Int32) {
		var n atomic.Int32
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i := int(n.Add(1)) - 1
			answers[min(i, len(answers)-1)](w)
		}))
		t.Cleanup(ts.Close)
		return ts, &n
	}
	status := func(code int, retryAfter string) func(w http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.WriteHeader(code)
		}
	}
	do := func(t *testing.T, url, method string) error {
		d := psa.Deps{Retry: policy}.Doer()
		resp, err := d.Do(t.Context(), "op", func(ctx context.Context) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, method, url, nil)
		})
		if err == nil {
			resp.Body.Close()
		}
		return err
	}

	t.Run("retry after honoured", func(t *testing.T) {
		slept = nil
		ts, n := serve(t, status(429, "7"), status(200, ""))
		require.NoError(t, do(t, ts.URL, http.MethodGet))
		assert.Equal(t, int32(2), n.Load())
		assert.Equal(t, []time.Duration{7 * time.Second}, slept)
	})
	t.Run("retry after too long", func(t *testing.T) {
		slept = nil
		ts, n := serve(t, status(429, "3600"), status(200, ""))
		err := do(t, ts.URL, http.MethodGet)
		require.ErrorIs(t, err, core.ErrRateLimited)
		var he *psa.HTTPError
		require.ErrorAs(t, err, &he)
		assert.Equal(t, time.Hour, he.RetryAfter, "the wait is reported, not slept")
		assert.Equal(t, int32(1), n.Load())
		assert.Empty(t, slept)
	})
	t.Run("post not retried on 5xx", func(t *testing.T) {
		ts, n := serve(t, status(502, ""), status(200, ""))
		require.ErrorIs(t, do(t, ts.URL, http.MethodPost), core.ErrUnavailable)
		assert.Equal(t, int32(1), n.Load())
	})
	t.Run("repeatable post retried on 5xx", func(t *testing.T) {
		ts, n := serve(t, status(502, ""), status(200, ""))
		d := psa.Deps{Retry: policy}.Doer()
		resp, err := d.DoRepeatable(t.Context(), "sign in", func(ctx context.Context) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodPost, ts.URL, nil)
		})
		require.NoError(t, err, "a sign-in may be sent again")
		resp.Body.Close()
		assert.Equal(t, int32(2), n.Load())
	})
	t.Run("post retried on 429", func(t *testing.T) {
		ts, n := serve(t, status(429, ""), status(201, ""))
		require.NoError(t, do(t, ts.URL, http.MethodPost))
		assert.Equal(t, int32(2), n.Load())
	})
	t.Run("501 not retried", func(t *testing.T) {
		ts, n := serve(t, status(501, ""), status(200, ""))
		require.ErrorIs(t, do(t, ts.URL, http.MethodGet), core.ErrUnavailable)
		assert.Equal(t, int32(1), n.Load())
	})
	t.Run("network error", func(t *testing.T) {
		ts, _ := serve(t, status(200, ""))
		url := ts.URL
		ts.Close()
		err := do(t, url, http.MethodGet)
		require.ErrorIs(t, err, core.ErrUnavailable)
		assert.False(t, errors.Is(err, context.Canceled))
	})
}

func TestDecodeJSON(t *testing.T) {
	for _, body := range []string{`{"a":`, `<html>bad gateway</html>`, `[1,2]`} {
		rec := httptest.NewRecorder()
		rec.WriteString(body)
		resp := rec.Result()
		var v struct{ A int }
		err := psa.DecodeJSON(resp, &v)
		require.Error(t, err, body)
		assert.ErrorIs(t, err, core.ErrUnavailable, body)
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		assert.True(t, errors.As(err, &syn) || errors.As(err, &typ), "the parse error is wrapped: %v", err)
	}
}

type closer struct{ closed bool }

func (c *closer) Close() error { c.closed = true; return nil }

func TestClose(t *testing.T) {
	c := &closer{}
	require.NoError(t, psa.Close(c))
	assert.True(t, c.closed)
	require.NoError(t, psa.Close(struct{}{}))
}

func TestDepsZeroValue(t *testing.T) {
	var d psa.Deps
	assert.NotNil(t, d.Log())
	assert.Same(t, http.DefaultClient, d.HTTP())
	assert.WithinDuration(t, time.Now(), d.Clock()(), time.Second)
	assert.NotNil(t, d.Doer())
}
