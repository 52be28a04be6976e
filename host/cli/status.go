package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/tandem-ha/tandem/bus"
	"github.com/tandem-ha/tandem/host/config"
	"github.com/tandem-ha/tandem/host/status"
)

func init() { register(newStatusCmd) }

func newStatusCmd() *cobra.Command {
	var cfgPath, output string
	var wait, interval time.Duration
	var watch bool
	var count int
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the cluster: members online, quorum, resources, daemons",
		Long: `status asks every member it can reach over the bus and prints the cluster in
the layout of pcs status. Members that do not answer within --wait are shown
OFFLINE, and so are nodes stopped with tandem cluster stop (their bus member
still votes: Daemon Status shows them "inactive (cluster stopped)"); the
partition has quorum when a majority of voters (nodes and the witness)
answer. A warning says when the live configuration differs from the local
cluster file, once per change: later calls, while neither changes, say it in
one line under the header (what was shown is kept in the user's cache
directory, $XDG_CACHE_HOME/tandem/drift). When ticket constraints name
tickets, or tickets were ever granted, a Tickets section lists each with its
state (granted or revoked, standby) and when and by whom it last changed,
as crm_mon --show-tickets does.

--watch redraws the status every --interval until Ctrl-C (or --count
times): the screen is cleared first on a terminal; otherwise the reports
follow each other, separated by a blank line.

It exits 0 with quorum, 1 without, 2 on bad input; with --watch, 0.`,
		Example: `  tandem status
  tandem status --output json
  tandem status --watch
  tandem status --watch --interval 5s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return &ExitError{Code: ExitConfig, Err: fmt.Errorf("--output %q: want text or json", output)}
			}
			if watch && interval <= 0 {
				return badInput("--interval %s: want a positive duration", interval)
			}
			if !watch && (count != 0 || cmd.Flags().Changed("interval")) {
				return badInput("--interval and --count go with --watch")
			}
			file, err := config.Load(cfgPath)
			if err != nil {
				return &ExitError{Code: ExitConfig, Err: err}
			}
			src := &statusSource{file: file}
			defer src.close()
			w := cmd.OutOrStdout()
			write := func(w io.Writer, r status.Report) error {
				if output == "json" {
					return status.WriteJSON(w, r)
				}
				escapeAll(&r) // the report holds what nodes and plugins said
				noteDrift(&r, file.Name)
				status.WriteText(w, r)
				return nil
			}
			if watch {
				ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				return watchStatus(ctx, w, src, wait, interval, count, write)
			}
			r := src.gather(wait)
			if err := write(w, r); err != nil {
				return err
			}
			if r.CredentialsRefused != "" {
				return &ExitError{Code: ExitCredentials, Err: errors.New("this host's credentials were refused; the members' state is unknown")}
			}
			if !r.Quorum {
				return &ExitError{Code: 1, Err: fmt.Errorf("partition without quorum")}
			}
			return nil
		},
	}
	configFlag(cmd, &cfgPath)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	cmd.Flags().DurationVar(&wait, "wait", time.Second, "how long to wait for members to answer")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "redraw the status every --interval until Ctrl-C")
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "with --watch: time between refreshes")
	cmd.Flags().IntVar(&count, "count", 0, "with --watch: stop after this many refreshes (0: until Ctrl-C)")
	return cmd
}

// clearScreen moves a terminal's cursor home and clears it.
const clearScreen = "\x1b[H\x1b[2J"

// watchStatus prints the status every interval until ctx ends or count
// reports were printed (count 0: no limit). On a terminal each report
// replaces the previous one; elsewhere reports are separated by a blank
// line.
func watchStatus(ctx context.Context, w io.Writer, src *statusSource, wait, interval time.Duration, count int,
	write func(io.Writer, status.Report) error) error {
	tty := isTerminal(w)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for n := 0; count == 0 || n < count; n++ {
		if n > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		}
		r := src.gather(wait)
		if ctx.Err() != nil {
			return nil
		}
		// Render first, then draw at once: no flicker on a slow bus.
		var buf bytes.Buffer
		if err := write(&buf, r); err != nil {
			return err
		}
		switch {
		case tty:
			fmt.Fprint(w, clearScreen)
		case n > 0:
			fmt.Fprintln(w)
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// isTerminal says whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// statusSource gathers reports over one bus connection, made on first use
// and made again after it was lost (a watch outlives member restarts).
type statusSource struct {
	file *config.File // the local cluster file: the members, and the model for the live-config warning
	conn *bus.Conn
}

func (s *statusSource) close() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// gather asks the reachable members; an unreachable bus yields a report
// with every member offline and the reason.
func (s *statusSource) gather(wait time.Duration) status.Report {
	top := s.file.Topology
	reason := ""
	if s.conn != nil && s.conn.NC.IsClosed() {
		s.close()
	}
	credentials := ""
	if s.conn == nil {
		conn, err := cliConnect(top)
		switch {
		case err != nil && credentialsRefused(err):
			credentials = err.Error()
		case err != nil:
			reason = err.Error()
		default:
			s.conn = conn
		}
	}
	if s.conn == nil {
		r := status.Build(top, len(s.file.CIB.Resources), nil, time.Now())
		r.Unreachable, r.CredentialsRefused = reason, credentials
		return r
	}
	r, err := status.Gather(s.conn, s.file, wait, time.Now())
	if err != nil {
		r.Unreachable = err.Error()
	}
	return r
}

// cliConnect connects a command to the bus: with the admin certificate of
// the PKI directory (or the identity TANDEM_IDENTITY names, e.g. a
// read-only monitor), or the secret of a single-member development bus.
// credentialsRefused says whether a connection failed on credentials
// (this host's certificate or key, or the members'): not an outage.
func credentialsRefused(err error) bool {
	return errors.Is(err, bus.ErrCredentials) || errors.Is(err, bus.ErrNoCredentials)
}

func cliConnect(top *bus.Topology) (*bus.Conn, error) {
	secret, err := top.LoadSecret()
	if err != nil {
		return nil, err
	}
	return bus.Connect(bus.ConnectOptions{Topology: top, Secret: secret, Identity: os.Getenv("TANDEM_IDENTITY"),
		Name: "cli@" + hostname(), Timeout: time.Second})
}

// cliBy is who a command's changes are recorded as: the identity the bus
// authenticated (the certificate's name; "cli" on a development bus
// without TLS) at this host. The member's daemon that writes a revision
// stamps the identity itself (liveconfig.OpenClient): only the host is
// this command's claim.
func cliBy(c *bus.Conn) string { return c.Identity().Name + "@" + hostname() }

// noteDrift makes the warning that the live configuration differs from the
// local cluster file a warning once per change: the first text status
// after the live configuration or the file changed shows it in full under
// WARNINGS; later ones, while both stay the same, in one line under the
// header (DriftShown). What was shown is kept per cluster file in this
// user's cache directory ($XDG_CACHE_HOME/tandem/drift); where that cannot
// be read or written, every status warns in full, as before. JSON output
// always carries differs_from_file.
func noteDrift(r *status.Report, file string) {
	if r.Live == nil || !r.Live.DiffersFromFile {
		return
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return
	}
	content, err := os.ReadFile(abs)
	if err != nil {
		return
	}
	key := sha256.Sum256([]byte(abs))
	path := filepath.Join(cache, "tandem", "drift", hex.EncodeToString(key[:12]))
	sum := sha256.Sum256(content)
	seen := fmt.Sprintf("%s revision %d file %x\n", abs, r.Live.Revision, sum)
	if prev, err := os.ReadFile(path); err == nil && string(prev) == seen {
		r.Live.DriftShown = true
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return
	}
	_ = os.WriteFile(path, []byte(seen), 0o600)
}
