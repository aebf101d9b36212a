// Command otelcol-processors runs the OpenTelemetry Collector processors behind Alloy's
// otelcol.processor.transform and otelcol.processor.batch, built inside a copy of the Alloy v1.18.0
// module so that its go.mod picks the very versions Alloy v1.18.0 links (transformprocessor and
// pkg/ottl v0.153.0, batchprocessor v0.153.0, pdata v1.59.0).
//
// It stands in for a trimmed Alloy, which the Go module proxy cannot supply (scripts/pins.txt lists
// the refused modules), so the gateway's contract statements still run on the real OTTL engine:
//
//	otelcol-processors transform traces|metrics|logs CONFIG.json <OTLP-JSON >OTLP-JSON
//	    CONFIG.json is the transform processor's config (error_mode, trace_statements, ...), as
//	    Alloy hands it over: [{context, statements}] per signal.
//	otelcol-processors batch SEND_BATCH_SIZE SEND_BATCH_MAX_SIZE
//	    the batch processor's own validation of the two sizes; exit 1 with its message.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/transformprocessor"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	nooptrace "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"
)

type host struct{}

func (host) GetExtensions() map[component.ID]component.Component { return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "otelcol-processors:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 3 && args[0] == "batch":
		return batch(args[1], args[2])
	case len(args) == 3 && args[0] == "transform":
		return transform(args[1], args[2], os.Stdin, os.Stdout)
	}
	return errors.New("usage: otelcol-processors transform traces|metrics|logs CONFIG.json | batch SIZE MAX_SIZE")
}

func batch(size, maxSize string) error {
	cfg := batchprocessor.NewFactory().CreateDefaultConfig().(*batchprocessor.Config)
	for _, v := range []struct {
		text string
		into *uint32
	}{{size, &cfg.SendBatchSize}, {maxSize, &cfg.SendBatchMaxSize}} {
		n, err := strconv.ParseUint(v.text, 10, 32)
		if err != nil {
			return err
		}
		*v.into = uint32(n)
	}
	return cfg.Validate()
}

// The component's config decoded the way the collector decodes its YAML (confmap), then validated:
// a statement that does not parse fails here, as Alloy's transform component fails to build.
func transformConfig(path string) (component.Config, processor.Factory, error) {
	factory := transformprocessor.NewFactory()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	raw := map[string]any{}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, nil, err
	}
	cfg := factory.CreateDefaultConfig()
	if err := confmap.NewFromStringMap(raw).Unmarshal(cfg); err != nil {
		return nil, nil, err
	}
	if v, ok := cfg.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return nil, nil, err
		}
	}
	return cfg, factory, nil
}

func transform(signal, path string, in io.Reader, out io.Writer) error {
	cfg, factory, err := transformConfig(path)
	if err != nil {
		return err
	}
	ctx := context.Background()
	set := processor.Settings{
		ID: component.NewID(factory.Type()),
		TelemetrySettings: component.TelemetrySettings{
			Logger:         zap.NewNop(),
			TracerProvider: nooptrace.NewTracerProvider(),
			MeterProvider:  noopmetric.NewMeterProvider(),
			Resource:       pcommon.NewResource(),
		},
		BuildInfo: component.NewDefaultBuildInfo(),
	}
	payload, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	var result []byte
	var proc component.Component
	var feed func() error
	switch signal {
	case "traces":
		next, _ := consumer.NewTraces(func(_ context.Context, td ptrace.Traces) (e error) {
			result, e = (&ptrace.JSONMarshaler{}).MarshalTraces(td)
			return e
		})
		p, err := factory.CreateTraces(ctx, set, cfg, next)
		if err != nil {
			return err
		}
		proc, feed = p, func() error {
			td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(payload)
			if err != nil {
				return err
			}
			return p.ConsumeTraces(ctx, td)
		}
	case "metrics":
		next, _ := consumer.NewMetrics(func(_ context.Context, md pmetric.Metrics) (e error) {
			result, e = (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
			return e
		})
		p, err := factory.CreateMetrics(ctx, set, cfg, next)
		if err != nil {
			return err
		}
		proc, feed = p, func() error {
			md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(payload)
			if err != nil {
				return err
			}
			return p.ConsumeMetrics(ctx, md)
		}
	case "logs":
		next, _ := consumer.NewLogs(func(_ context.Context, ld plog.Logs) (e error) {
			result, e = (&plog.JSONMarshaler{}).MarshalLogs(ld)
			return e
		})
		p, err := factory.CreateLogs(ctx, set, cfg, next)
		if err != nil {
			return err
		}
		proc, feed = p, func() error {
			ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(payload)
			if err != nil {
				return err
			}
			return p.ConsumeLogs(ctx, ld)
		}
	default:
		return fmt.Errorf("unknown signal %q (traces, metrics or logs)", signal)
	}
	if err := proc.Start(ctx, host{}); err != nil {
		return err
	}
	err = feed()
	if shutdown := proc.Shutdown(ctx); err == nil {
		err = shutdown
	}
	if err != nil {
		return err
	}
	_, err = out.Write(result)
	return err
}
