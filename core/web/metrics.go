package web

import (
	"net/http"
	"time"

	"github.com/countersign/countersign/core"
	"github.com/countersign/countersign/core/psa"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds Countersign's Prometheus collectors on a registry of its
// own, so tests can build as many servers as they like. It implements
// core.Observer and counts PSA calls for plugins.
type Metrics struct {
	reg           *prometheus.Registry
	verifications *prometheus.CounterVec
	sendLatency   *prometheus.HistogramVec
	psaCalls      *prometheus.CounterVec
}

// NewMetrics registers the collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "countersign_verifications_total", Help: "Verifications by method and outcome (started, verified, failed, expired, cancelled).",
		}, []string{"method", "outcome"}),
		sendLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "countersign_send_duration_seconds", Help: "Time to hand a message to its provider, by kind and result.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"kind", "result"}),
		psaCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "countersign_psa_calls_total", Help: "PSA API calls by integration (kind and id), call and HTTP status class.",
		}, []string{"kind", "integration", "op", "status"}),
	}
	m.reg.MustRegister(m.verifications, m.sendLatency, m.psaCalls,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// VerificationOutcome counts one verification outcome.
func (m *Metrics) VerificationOutcome(method core.Method, outcome string) {
	m.verifications.WithLabelValues(string(method), outcome).Inc()
}

// SendLatency observes one send.
func (m *Metrics) SendLatency(k core.OutboxKind, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.sendLatency.WithLabelValues(string(k), result).Observe(d.Seconds())
}

// PSACalls returns a psa.CallCounter bound to one integration.
func (m *Metrics) PSACalls(in core.Integration) psa.CallCounter {
	return psaCallCounter{m: m, kind: in.Kind, id: in.ID}
}

type psaCallCounter struct {
	m        *Metrics
	kind, id string
}

// CountCall implements psa.CallCounter.
func (c psaCallCounter) CountCall(op string, status int) {
	c.m.psaCalls.WithLabelValues(c.kind, c.id, op, statusClass(status)).Inc()
}

func statusClass(code int) string {
	if code <= 0 {
		return "error"
	}
	return string(rune('0'+code/100)) + "xx"
}

// Interface guards.
var _ core.Observer = (*Metrics)(nil)
