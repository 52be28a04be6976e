// Command tandem-plugin-systemd is the systemd plugin: units as resources
// (agent = "systemd:<unit>", e.g. systemd:apache2). It talks to systemd
// over D-Bus (systemd's private socket, else the system bus), so it runs as
// root on a node where systemd is PID 1.
package main

import "github.com/tandem-ha/tandem/plugins/systemd"

func main() { systemd.Main() }
