// Command tandem is the node daemon, the witness and the admin CLI in one
// binary: `tandem host`, `tandem witness`, `tandem status`, ... Invoked
// through a link named tandem-plugin-<name> it is instead that first-party
// plugin (plugins/builtin).
package main

import (
	"os"

	"github.com/tandem-ha/tandem/host/cli"
	"github.com/tandem-ha/tandem/plugins/builtin"
)

func main() {
	builtin.Run(os.Args[0])
	cli.Execute()
}
