package web_test

import (
	"net/http"
	"testing"

	"github.com/countersign/countersign/core/store"
	"github.com/countersign/countersign/core/store/storetest"
)

func TestZZProbe(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	c := e.login(t, e.a)
	for _, p := range []struct{ m, p string }{{"DELETE", "/api/v1/contacts"}, {"DELETE", "/l/x/y"}, {"POST", "/healthz"}, {"DELETE", "/api/v1/login"}, {"GET", "/api/v1/login"}} {
		r := e.do(t, c, p.m, p.p, "", nil, nil)
		t.Logf("%s %s -> %d %s", p.m, p.p, r.status, r.body)
	}
	_ = http.MethodGet
}
