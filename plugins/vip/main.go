package vip

import (
	"os"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Main serves the vip plugin on stdin/stdout for the tandem host; it is
// what tandem-plugin-vip runs, built standalone or as a link to tandem.
// TANDEM_VIP_STATE_DIR overrides where the ownership records go (default
// DefaultStateDir).
func Main() {
	dir := DefaultStateDir
	if d := os.Getenv("TANDEM_VIP_STATE_DIR"); d != "" {
		dir = d
	}
	sdk.Serve(NewWith(Options{StateDir: dir}))
}
