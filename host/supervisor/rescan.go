package supervisor

import (
	"fmt"
	"time"
)

// Rescan reads the plugin dir again, as the supervisor does every
// Config.RescanInterval: a plugin file new since the last read is used
// (launched, or idle until needed with Config.OnDemand); a file newly
// not used is logged with why; a running plugin whose file was replaced
// (seen changed the same way at two reads in a row, so a copy in progress
// is not launched) is relaunched from the new file once its operations in
// flight have finished. Resources are never stopped or started by it: the
// new process answers the next monitor. A plugin whose file is gone keeps
// its process. It returns the plugins it found new.
func (s *Supervisor) Rescan() ([]string, error) {
	started, err := s.scan()
	names := make([]string, 0, len(started))
	for _, p := range started {
		names = append(names, p.name)
	}
	return names, err
}

func (s *Supervisor) rescanLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.RescanInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
		_, _ = s.scan()
	}
}

// scan reads the dir, logs what changed in it, adds the new plugins
// (returning those it launched) and asks for the relaunch of replaced
// ones.
func (s *Supervisor) scan() (added []*plugin, err error) {
	s.scanMu.Lock()
	defer s.scanMu.Unlock()
	var news []string
	defer func() {
		if s.cfg.OnNewPlugin != nil {
			for _, n := range news {
				s.cfg.OnNewPlugin(n)
			}
		}
	}()
	found, unused, err := Scan(s.cfg.Dir)
	if err != nil {
		err = fmt.Errorf("plugin dir %s: %w", s.cfg.Dir, err)
		if err.Error() != s.dirErr {
			s.log.Error("reading the plugin dir failed; the plugins already found keep running", "dir", s.cfg.Dir, "error", err)
			s.dirErr = err.Error()
		}
		return nil, err
	}
	s.dirErr = ""
	now := map[string]string{}
	for _, u := range unused {
		now[u.File] = u.Why
		if s.reported[u.File] == u.Why {
			continue
		}
		if u.Untrusted != nil {
			s.log.Error("plugin not used", "plugin", u.Plugin, "file", u.File, "dir", s.cfg.Dir, "why", u.Why)
		} else {
			s.log.Warn("file of the plugin dir not used", "file", u.File, "dir", s.cfg.Dir, "why", u.Why)
		}
	}
	s.reported = now

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	var known []*plugin
	for name, path := range found {
		if p, ok := s.plugins[name]; ok {
			known = append(known, p)
			continue
		}
		st := StateStarting
		if s.cfg.OnDemand {
			st = StateIdle
		}
		p := newPlugin(s, name, path, st)
		s.plugins[name] = p
		if s.scanned {
			s.log.Info("new plugin found", "plugin", name, "file", path)
			news = append(news, name)
		}
		if !s.cfg.OnDemand {
			added = append(added, p)
			s.superviseLocked(p)
		}
	}
	for name, p := range s.plugins {
		if _, ok := found[name]; !ok {
			p.fileGone()
		}
	}
	s.scanned = true
	s.mu.Unlock()
	for _, p := range known {
		p.checkFile()
	}
	return added, nil
}

// checkFile asks for a relaunch of the running process when the plugin's
// file was replaced since its launch, and the new file has settled.
func (p *plugin) checkFile() {
	id := fileIdentity(p.path)
	p.mu.Lock()
	if p.missing {
		p.missing = false
		p.s.log.Info("plugin file back", "plugin", p.name, "file", p.path)
	}
	if p.cur == nil || id == p.ident {
		p.seen = ""
		p.mu.Unlock()
		return
	}
	if id != p.seen {
		p.seen = id // changed: act when it reads the same next time
		p.mu.Unlock()
		return
	}
	gen := p.cur.gen
	p.mu.Unlock()
	p.request(restartRequest{gen: gen, reason: "plugin file replaced", upgrade: true})
}

func (p *plugin) fileGone() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.missing {
		p.missing = true
		p.s.log.Warn("plugin file gone: its running process is kept, and it is not launched again until the file is back", "plugin", p.name, "file", p.path, "state", string(p.state))
	}
}
