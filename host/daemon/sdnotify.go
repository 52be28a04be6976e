package daemon

import (
	"log/slog"
	"net"
)

// notifier speaks systemd's notification protocol (sd_notify(3)): each
// message is one datagram of NAME=VALUE lines to the unix socket systemd
// names in $NOTIFY_SOCKET (a leading '@' is an abstract socket, as Go's
// net package takes it). With no socket it does nothing.
type notifier struct {
	addr string
	log  *slog.Logger
}

func (n notifier) send(state string) {
	if n.addr == "" {
		return
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.addr, Net: "unixgram"})
	if err != nil {
		n.log.Warn("systemd notification not sent", "socket", n.addr, "err", err)
		return
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		n.log.Warn("systemd notification not sent", "socket", n.addr, "err", err)
	}
}
