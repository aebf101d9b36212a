// Package converter stands in for Alloy's config converter (Prometheus, Promtail, static mode and
// OpenTelemetry Collector files to Alloy), laid over the module copy by scripts/bootstrap: the
// converters import nearly every component, which this build leaves out. `alloy run` and
// `alloy validate` keep their --config.format flag; any format but "alloy" is refused.
package converter

import (
	"fmt"

	"github.com/grafana/alloy/internal/converter/diag"
)

// Input names the format of a file to convert.
type Input string

// SupportedFormats lists the formats this build converts from: none.
var SupportedFormats = []string{}

// Convert refuses every input: conversion is not part of this build.
func Convert(_ []byte, kind Input, _ []string) ([]byte, diag.Diagnostics) {
	var diags diag.Diagnostics
	diags.Add(diag.SeverityLevelCritical, fmt.Sprintf("converting from %q is not part of Keelson's trimmed Alloy build", kind))
	return nil, diags
}
