// Command keelson-alloy is Grafana Alloy's own command line (internal/alloycli of the pinned
// release: run, validate, fmt, tools) with only the components Keelson's charts configure.
// scripts/bootstrap lays the files of scripts/gosrc/alloy over a copy of the Alloy module, so
// internal/component/all registers that short list instead of every component.
package main

import (
	"os"

	"github.com/grafana/alloy/internal/alloycli"
)

func main() {
	if err := alloycli.Command().Execute(); err != nil {
		os.Exit(1)
	}
}
