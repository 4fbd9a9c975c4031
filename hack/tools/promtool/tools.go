//go:build tools

// Package tools pins Prometheus's promtool, used to check the chart's PrometheusRule and to
// unit-test each alert (`promtool test rules`).
package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
