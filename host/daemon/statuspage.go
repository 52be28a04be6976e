package daemon

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/status"
	"github.com/tandem-ha/tandem/host/statuspage"
)

// statusWait is how long the status page waits for the members' answers,
// as `tandem status` does by default.
const statusWait = time.Second

// serveStatusPage serves the member's status page ([status_page] listen)
// if it is on. The page reads over its own in-process connection with the
// permissions of a monitor identity (bus.ConnectOptions.ReadOnly): it
// gathers exactly what `TANDEM_IDENTITY=monitor tandem status` would, and
// the bus refuses it any write. Like the metrics, a page that cannot be
// served is logged and does not keep the member from running.
func (m *Member) serveStatusPage(f *config.File) {
	addr := m.top.StatusPage
	if addr == "" {
		return
	}
	o := m.connOpts
	o.Name, o.ReadOnly = m.name+" status page", true
	conn, err := bus.Connect(o)
	if err != nil {
		m.log.Error("status page not served", "err", err)
		return
	}
	page := statuspage.New(statuspage.Options{Member: m.name, Log: m.log,
		Gather: func(context.Context) status.Report {
			r, err := status.Gather(conn, f, statusWait, time.Now())
			if err != nil {
				r.Unreachable = err.Error()
			}
			return r
		}})
	sub, err := conn.NC.Subscribe(bus.SubjectAll, func(msg *nats.Msg) { page.Event(msg.Data) })
	if err != nil {
		conn.Close()
		m.log.Error("status page not served", "err", err)
		return
	}
	stop, err := statuspage.Serve(context.Background(), addr, page)
	if err != nil {
		_ = sub.Unsubscribe()
		conn.Close()
		m.log.Error("status page not served", "err", err)
		return
	}
	m.undo.push(conn.Close)
	m.undo.push(func() { _ = sub.Unsubscribe() })
	m.undo.push(stop)
}
