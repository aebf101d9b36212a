// Command alloy-fmt is Alloy's own `alloy fmt` (internal/alloycli/cmd_fmt.go of the pinned
// release, copied beside this file by scripts/bootstrap) behind a root command of its own:
// `alloy-fmt fmt [--test] FILE` parses FILE with Alloy's parser and prints it with Alloy's printer.
package main

import (
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{Use: "alloy-fmt", SilenceUsage: true}
	root.AddCommand(fmtCommand())
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
}
