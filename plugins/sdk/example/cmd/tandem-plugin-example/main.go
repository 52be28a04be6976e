// Command tandem-plugin-example is the SDK's example plugin, providing the
// agent type example:process (see plugins/sdk/example).
package main

import (
	"github.com/tandem-ha/tandem/plugins/sdk"
	"github.com/tandem-ha/tandem/plugins/sdk/example"
)

func main() { sdk.Serve(example.New()) }
