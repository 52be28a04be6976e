// Command tandem is the node daemon, the witness and the admin CLI in one
// binary: `tandem host`, `tandem witness`, `tandem status`, ... Invoked
// through a link named tandem-plugin-<name> it is instead that first-party
// plugin (plugins/builtin).
package main

import (
	"os"
	"runtime/debug"

	"github.com/tandem-ha/tandem/host/cli"
	"github.com/tandem-ha/tandem/plugins/builtin"
)

func main() {
	// The daemon and its plugins keep small heaps that hardly change: a
	// collection at 50% growth instead of Go's 100% costs them next to no
	// CPU and keeps about 5 MB less resident per node (docs/plugins.md,
	// Memory). GOGC in the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	builtin.Run(os.Args[0])
	cli.Execute()
}
