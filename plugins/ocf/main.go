package ocf

import "github.com/tandem-ha/tandem/plugins/sdk"

// Main serves the ocf plugin on stdin/stdout for the tandem host; it is
// what tandem-plugin-ocf runs, built standalone or as a link to tandem.
func Main() { sdk.Serve(New()) }
