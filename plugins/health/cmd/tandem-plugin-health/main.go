// Command tandem-plugin-health is the health plugin: HTTP(S) and TCP checks
// (agent = "health:http", "health:tcp"). TANDEM_HEALTH_STATE_DIR overrides
// where started checks are recorded (default /run/tandem/health).
package main

import "github.com/tandem-ha/tandem/plugins/health"

func main() { health.Main() }
