// Package all registers the Alloy components that Keelson's charts configure, and no others
// (Keelson's replacement for Alloy's internal/component/all/all.go, laid over the module copy by
// scripts/bootstrap). Each import registers the component named in its comment. A config that
// names any other component is refused by this build as by a full one that lacks it.
//
// Keep this list equal to the component blocks of the rendered agent and gateway configs
// (tests/test_alloy.py checks both directions).
package all

import (
	_ "github.com/grafana/alloy/internal/component/discovery/kubernetes"            // Import discovery.kubernetes
	_ "github.com/grafana/alloy/internal/component/discovery/relabel"               // Import discovery.relabel
	_ "github.com/grafana/alloy/internal/component/faro/receiver"                   // Import faro.receiver
	_ "github.com/grafana/alloy/internal/component/loki/process"                    // Import loki.process
	_ "github.com/grafana/alloy/internal/component/loki/source/kubernetes"          // Import loki.source.kubernetes
	_ "github.com/grafana/alloy/internal/component/loki/write"                      // Import loki.write
	_ "github.com/grafana/alloy/internal/component/otelcol/exporter/loki"           // Import otelcol.exporter.loki
	_ "github.com/grafana/alloy/internal/component/otelcol/exporter/otlp"           // Import otelcol.exporter.otlp
	_ "github.com/grafana/alloy/internal/component/otelcol/exporter/prometheus"     // Import otelcol.exporter.prometheus
	_ "github.com/grafana/alloy/internal/component/otelcol/processor/batch"         // Import otelcol.processor.batch
	_ "github.com/grafana/alloy/internal/component/otelcol/processor/memorylimiter" // Import otelcol.processor.memory_limiter
	_ "github.com/grafana/alloy/internal/component/otelcol/processor/transform"     // Import otelcol.processor.transform
	_ "github.com/grafana/alloy/internal/component/otelcol/receiver/otlp"           // Import otelcol.receiver.otlp
	_ "github.com/grafana/alloy/internal/component/prometheus/exporter/blackbox"    // Import prometheus.exporter.blackbox
	_ "github.com/grafana/alloy/internal/component/prometheus/relabel"              // Import prometheus.relabel
	_ "github.com/grafana/alloy/internal/component/prometheus/remotewrite"          // Import prometheus.remote_write
	_ "github.com/grafana/alloy/internal/component/prometheus/scrape"               // Import prometheus.scrape
)
