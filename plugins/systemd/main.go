package systemd

import (
	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Main serves the systemd plugin on stdin/stdout for the tandem host; it is
// what tandem-plugin-systemd runs, built standalone or as a link to tandem.
func Main() { sdk.Serve(New()) }
