// Command tandem is the node daemon, the witness and the admin CLI in one
// binary: `tandem host`, `tandem witness`, `tandem status`, ...
package main

import "github.com/tandem-ha/tandem/host/cli"

func main() { cli.Execute() }
