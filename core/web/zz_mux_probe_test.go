package web_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"
)

func TestZZMux(t *testing.T) {
	h := func(w http.ResponseWriter, r *http.Request) {}
	r := mux.NewRouter()
	r.HandleFunc("/", h).Methods("GET")
	api := r.PathPrefix("/api/v1").Subrouter()
	api.HandleFunc("/login", h).Methods("POST")
	authed := api.NewRoute().Subrouter()
	authed.HandleFunc("/contacts", h).Methods("GET")
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) })
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(405) })
	for _, p := range [][2]string{{"DELETE", "/api/v1/contacts"}, {"GET", "/api/v1/login"}} {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(p[0], p[1], nil))
		t.Log(p, rec.Code)
	}
}
