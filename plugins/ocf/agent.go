// Package ocf is the OCF bridge: Pacemaker's OCF resource agents (agent =
// "ocf:PROVIDER:TYPE", e.g. ocf:heartbeat:IPaddr2; plugin "ocf", agent type
// "PROVIDER:TYPE") run unchanged under the OCF Resource Agent API 1.1. The
// script OCF_ROOT/resource.d/PROVIDER/TYPE is run once per action with the
// resource's parameters as OCF_RESKEY_<name>, OCF_RESOURCE_INSTANCE,
// OCF_RESOURCE_TYPE, OCF_RESOURCE_PROVIDER and the OCF_RESKEY_CRM_meta_*
// the host knows (timeout, on_node, clone); its exit code is the result.
// Its meta-data XML becomes the plugin's parameter metadata, its
// validate-all runs on Validate. Each run is its own process group, killed
// as a whole at the action's deadline; its output is captured and capped
// (OutputCap). docs/ocf.md is the admin's page.
//
// Promote and demote run the agent's actions of those names; a monitor's
// OCF_RUNNING_PROMOTED and OCF_FAILED_PROMOTED are the host's
// RunningPromoted and FailedPromoted, and the score the agent sets with
// crm_master or crm_attribute (a shim of the bridge's: attrs.go) is the
// monitor's promotion score. A clone notification (a clone with notify =
// true) runs the agent's notify action with Pacemaker 2.1.5's
// OCF_RESKEY_CRM_meta_notify_* variables (notify.go).
package ocf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Name is the plugin's name: agent = "ocf:PROVIDER:TYPE".
const Name = "ocf"

// Version is the bridge's own version.
const Version = "1.0.0"

// metaDataTimeout bounds an agent's meta-data action (its advertised
// default is 5 s in every resource-agents script).
const metaDataTimeout = 5 * time.Second

// validateReserve is what Validate keeps of its deadline to answer in
// time after cutting off a validate-all that is too slow.
const validateReserve = 200 * time.Millisecond

// validateInstance is OCF_RESOURCE_INSTANCE for validate-all, which the
// host asks before a resource exists (no id yet).
const validateInstance = "tandem-validate"

var (
	_ sdk.Agent    = (*Agent)(nil)
	_ sdk.Reloader = (*Agent)(nil)
	_ sdk.Promoter = (*Agent)(nil)
	_ sdk.Notifier = (*Agent)(nil)
)

// Options configure an Agent.
type Options struct {
	// Root is OCF_ROOT. Empty: the plugin's environment's OCF_ROOT, else
	// DefaultRoot.
	Root string
	// StateDir keeps the node attributes the agents set (promotion
	// scores) and the crm_attribute shim. Empty: the environment's
	// TANDEM_OCF_STATE_DIR, else DefaultStateDir for root, else a
	// directory in the temporary directory.
	StateDir string
}

// Agent runs OCF resource agents. All methods are safe for concurrent use;
// actions of one resource run one at a time.
type Agent struct {
	lsb      bool   // the lsb plugin: init scripts of root (lsb.go)
	root     string // OCF_ROOT, or the init scripts' directory
	stateDir string
	locks    sdk.KeyedMutex
	holds    holds
	attrs    attrStore

	mu    sync.Mutex
	metas map[string]cachedMeta // by script path
}

type cachedMeta struct {
	mtime time.Time
	size  int64
	meta  agentMeta
}

// New returns the agent the plugin binary serves.
func New() *Agent { return NewWith(Options{}) }

// NewWith returns an agent configured by o.
func NewWith(o Options) *Agent {
	root := o.Root
	if root == "" {
		root = os.Getenv("OCF_ROOT")
	}
	if root == "" {
		root = DefaultRoot
	}
	stateDir := o.StateDir
	if stateDir == "" {
		stateDir = os.Getenv("TANDEM_OCF_STATE_DIR")
	}
	return &Agent{root: root, stateDir: stateDir, metas: map[string]cachedMeta{}}
}

// Info describes the plugin: it serves any PROVIDER:TYPE under OCF_ROOT
// (the lsb plugin: any init script).
func (a *Agent) Info() sdk.Info {
	name := Name
	if a.lsb {
		name = LSBName
	}
	return sdk.Info{Name: name, Types: []string{"*"}, Version: Version, APIVersions: sdk.APIVersions}
}

// resolve finds the script of agentType.
func (a *Agent) resolve(agentType string) (script, error) {
	if a.lsb {
		return resolveLSB(a.root, agentType)
	}
	return resolve(a.root, agentType)
}

// MetaData runs the agent's meta-data action and translates its XML.
func (a *Agent) MetaData(agentType string) (sdk.MetaData, error) {
	s, err := a.resolve(agentType)
	if err != nil {
		return sdk.MetaData{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), metaDataTimeout)
	defer cancel()
	m, err := a.meta(ctx, s)
	if err != nil {
		return sdk.MetaData{}, err
	}
	return m.md, nil
}

// meta returns the script's meta-data, cached until the file changes (a
// package upgrade).
func (a *Agent) meta(ctx context.Context, s script) (agentMeta, error) {
	st, err := os.Stat(s.path)
	if err != nil {
		return agentMeta{}, err
	}
	a.mu.Lock()
	c, ok := a.metas[s.path]
	a.mu.Unlock()
	if ok && c.mtime.Equal(st.ModTime()) && c.size == st.Size() {
		return c.meta, nil
	}
	if s.lsb {
		m, err := lsbMeta(s)
		if err != nil {
			return agentMeta{}, err
		}
		a.mu.Lock()
		a.metas[s.path] = cachedMeta{mtime: st.ModTime(), size: st.Size(), meta: m}
		a.mu.Unlock()
		return m, nil
	}
	o := invocation{s: s, action: "meta-data", cap: MetaDataCap + 1}.run(ctx)
	switch {
	case o.err != nil:
		return agentMeta{}, o.err
	case o.timedOut:
		return agentMeta{}, fmt.Errorf("%s meta-data: no answer within %s; its process group was killed", s.agent, o.took.Round(time.Millisecond))
	case o.exit != 0:
		return agentMeta{}, fmt.Errorf("%s meta-data: %s: %s", s.agent, exitName(o.exit), message(o))
	case o.dropped > 0:
		return agentMeta{}, fmt.Errorf("%s meta-data: more than the %d KiB allowed", s.agent, MetaDataCap>>10)
	}
	m, err := parseMetaData(s.agent, o.output)
	if err != nil {
		return agentMeta{}, err
	}
	a.mu.Lock()
	a.metas[s.path] = cachedMeta{mtime: st.ModTime(), size: st.Size(), meta: m}
	a.mu.Unlock()
	return m, nil
}

// resolveResult is the result for an agent that cannot be run here.
func resolveResult(err error) sdk.Result {
	var ni *errNotInstalled
	var ut *errUntrusted
	switch {
	case errors.As(err, &ni):
		return sdk.Result{Code: sdk.ErrNotInstalled, Message: err.Error()}
	case errors.As(err, &ut):
		return sdk.Result{Code: sdk.ErrPerm, Message: err.Error()}
	}
	return sdk.Result{Code: sdk.ErrNotConfigured, Message: err.Error()}
}

// Validate checks the parameters against the agent's meta-data (unknown
// names with a did-you-mean, required ones, integer, boolean and select
// values), then runs the agent's validate-all when it has one.
func (a *Agent) Validate(ctx context.Context, req sdk.ValidateRequest) sdk.Result {
	s, err := a.resolve(req.AgentType)
	if err != nil {
		return resolveResult(err)
	}
	// The host gives validation little time (1.5 s per node). Keep a
	// little of it to answer in time: a meta-data or validate-all that
	// cannot finish before is no verdict, not a refusal.
	vctx := ctx
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		vctx, cancel = context.WithDeadline(ctx, d.Add(-min(validateReserve, time.Until(d)/5)))
		defer cancel()
	}
	m, err, late := a.metaWithin(vctx, s)
	switch {
	case late:
		return sdk.Resultf(sdk.OK, "%s meta-data did not come within the time validation has: the parameters were not checked on this node (its meta-data is read meanwhile, for the next validation)", s.agent)
	case err != nil:
		return sdk.Result{Code: sdk.ErrGeneric, Message: err.Error()}
	}
	if err := sdk.ParseParams(s.agent, m.md.Params, req.Params).Err(); err != nil {
		return sdk.Result{Code: sdk.ErrNotConfigured, Message: strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	if s.lsb {
		return sdk.Result{Code: sdk.OK, Message: s.agent + " is an init script: it takes no parameters and has no validate-all"}
	}
	if !m.actions["validate-all"] {
		return sdk.Result{Code: sdk.OK, Message: s.agent + " has no validate-all: parameters checked against its meta-data only"}
	}
	o := invocation{s: s, action: "validate-all", instance: validateInstance, params: req.Params, meta: timeoutMeta(vctx)}.run(vctx)
	switch {
	case o.err == nil && !o.timedOut && o.exit == int(sdk.ErrUnimplemented):
		return sdk.Result{Code: sdk.OK, Message: s.agent + " does not implement validate-all: parameters checked against its meta-data only"}
	case o.timedOut:
		slog.Warn("validate-all did not finish in time", "agent", s.agent, "took", o.took.String(), "output", o.text())
		return sdk.Resultf(sdk.OK, "%s validate-all did not finish within %s (killed): parameters checked against its meta-data only", s.agent, o.took.Round(time.Millisecond))
	}
	return result(s, "validate-all", o)
}

// metaWithin is meta with its own timeout (metaDataTimeout), waited for
// only until ctx ends: late says it did not come by then (it goes on in
// the background and is cached for the next call).
func (a *Agent) metaWithin(ctx context.Context, s script) (m agentMeta, err error, late bool) {
	type answer struct {
		m   agentMeta
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		mctx, cancel := context.WithTimeout(context.Background(), metaDataTimeout)
		defer cancel()
		m, err := a.meta(mctx, s)
		ch <- answer{m, err}
	}()
	select {
	case x := <-ch:
		return x.m, x.err, false
	case <-ctx.Done():
		return agentMeta{}, nil, true
	}
}

// Start runs the agent's start action.
func (a *Agent) Start(ctx context.Context, req sdk.Request) sdk.Result {
	return a.action(ctx, "start", req)
}

// Stop runs the agent's stop action.
func (a *Agent) Stop(ctx context.Context, req sdk.Request) sdk.Result {
	return a.action(ctx, "stop", req)
}

// Monitor runs the agent's monitor action. For a promotable clone's
// instance, its result carries the promotion score the agent set for the
// node (crm_master), if it set one.
func (a *Agent) Monitor(ctx context.Context, req sdk.Request) sdk.Result {
	res := a.action(ctx, "monitor", req)
	if req.Instance.Clone.Promotable {
		a.attrs.setup(a.stateDir)
		res.PromotionScore = a.attrs.promotionScore(nodeName(req.Instance.Node), req.ResourceID)
	}
	return res
}

// Promote runs the agent's promote action: the instance that runs
// Unpromoted becomes the Promoted one.
func (a *Agent) Promote(ctx context.Context, req sdk.Request) sdk.Result {
	return a.action(ctx, "promote", req)
}

// Demote runs the agent's demote action.
func (a *Agent) Demote(ctx context.Context, req sdk.Request) sdk.Result {
	return a.action(ctx, "demote", req)
}

// nodeName is node, or this machine's host name when the host names none
// (OCF_RESKEY_CRM_meta_on_node is always set, as Pacemaker sets it).
func nodeName(node string) string {
	if node != "" {
		return node
	}
	h, _ := os.Hostname()
	return h
}

// Reload runs reload-agent (OCF 1.1) when the agent advertises it, else
// reload.
func (a *Agent) Reload(ctx context.Context, req sdk.Request) sdk.Result {
	s, err := a.resolve(req.AgentType)
	if err != nil {
		return resolveResult(err)
	}
	action := "reload"
	if m, err := a.meta(ctx, s); err == nil && m.actions["reload-agent"] {
		action = "reload-agent"
	} else if err == nil && !m.actions["reload"] {
		return sdk.Resultf(sdk.ErrUnimplemented, "%s advertises neither reload-agent nor reload", s.agent)
	}
	return a.action(ctx, action, req)
}

// action runs one action of req's resource, one at a time per resource.
func (a *Agent) action(ctx context.Context, action string, req sdk.Request) sdk.Result {
	s, err := a.resolve(req.AgentType)
	if err != nil {
		if action == "monitor" {
			var ni *errNotInstalled
			if errors.As(err, &ni) {
				// As a Pacemaker probe reads OCF_ERR_INSTALLED: what
				// cannot run here is not running here.
				return sdk.Resultf(sdk.NotRunning, "%s (taken as not running)", err)
			}
		}
		return resolveResult(err)
	}
	defer a.locks.Lock(req.ResourceID)()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer a.holds.track(req.ResourceID, req.Instance.Node, action, cancel)()
	if s.lsb {
		if len(req.Params) > 0 {
			return sdk.Resultf(sdk.ErrNotConfigured, "%s: init scripts take no parameters (%d given)", s.agent, len(req.Params))
		}
		o := invocation{s: s, action: lsbAction(action)}.run(ctx)
		if o.timedOut && errors.Is(context.Cause(ctx), errHoldLapsed) {
			return sdk.Resultf(sdk.ErrGeneric, "%s %s cut off after %s: %v, so the resource is being stopped; its process group was killed", s.agent, action, o.took.Round(time.Millisecond), errHoldLapsed)
		}
		return lsbResult(s, action, o)
	}
	a.attrs.setup(a.stateDir)
	o := invocation{s: s, action: action, instance: req.ResourceID, params: req.Params, meta: requestMeta(ctx, req),
		shim: a.attrs.bin, extraEnv: a.attrs.env()}.run(ctx)
	if o.timedOut && errors.Is(context.Cause(ctx), errHoldLapsed) {
		return sdk.Resultf(sdk.ErrGeneric, "%s %s cut off after %s: %v, so the resource is being stopped; its process group was killed", s.agent, action, o.took.Round(time.Millisecond), errHoldLapsed)
	}
	return result(s, action, o)
}

// requestMeta is the OCF_RESKEY_CRM_meta_* of an action, as Pacemaker
// passes them: the timeout and interval in ms (interval 0 but for a
// recurring monitor), the node, and for a clone's instance its index and
// the clone's meta (globally_unique as configured); promoted_max goes as
// master_max too, the name agents older than Pacemaker 2.1 read. A clone
// notification adds its notify_* variables.
func requestMeta(ctx context.Context, req sdk.Request) map[string]string {
	meta := timeoutMeta(ctx)
	meta["interval"] = strconv.FormatInt(req.Interval.Milliseconds(), 10)
	meta["on_node"] = nodeName(req.Instance.Node)
	if req.Instance.CloneIndex < 0 {
		return meta
	}
	meta["clone"] = strconv.Itoa(req.Instance.CloneIndex)
	c := req.Instance.Clone
	if c.ID == "" {
		return meta // a host older than clone meta
	}
	meta["clone_max"] = strconv.Itoa(c.Max)
	meta["clone_node_max"] = strconv.Itoa(c.NodeMax)
	meta["globally_unique"] = strconv.FormatBool(c.GloballyUnique)
	meta["notify"] = strconv.FormatBool(c.Notify)
	meta["promotable"] = strconv.FormatBool(c.Promotable)
	if c.Promotable {
		meta["promoted_max"] = strconv.Itoa(c.PromotedMax)
		meta["promoted_node_max"] = strconv.Itoa(c.PromotedNodeMax)
		meta["master_max"] = meta["promoted_max"]
		meta["master_node_max"] = meta["promoted_node_max"]
	}
	if req.Notification != nil {
		notifyMeta(meta, req.ResourceID, req.Notification)
	}
	return meta
}

// timeoutMeta is OCF_RESKEY_CRM_meta_timeout: the time left to ctx's
// deadline, in milliseconds.
func timeoutMeta(ctx context.Context) map[string]string {
	m := map[string]string{}
	if d, ok := ctx.Deadline(); ok {
		m["timeout"] = strconv.FormatInt(max(time.Until(d).Milliseconds(), 1), 10)
	}
	return m
}

// result maps an agent's exit to the host's result.
func result(s script, action string, o outcome) sdk.Result {
	switch {
	case o.err != nil:
		return sdk.Result{Code: sdk.ErrGeneric, Message: o.err.Error()}
	case o.timedOut:
		slog.Warn("agent timed out", "agent", s.agent, "action", action, "output", o.text())
		return sdk.Resultf(sdk.ErrGeneric, "%s %s timed out after %s; its process group was killed%s", s.agent, action, o.took.Round(time.Millisecond), tail(o))
	}
	code, note := sdk.Code(o.exit), ""
	switch o.exit {
	case 0:
		return sdk.Result{Code: sdk.OK}
	case int(sdk.NotRunning):
		switch action {
		case "monitor":
			return sdk.Result{Code: sdk.NotRunning, Message: message(o)}
		case "stop":
			return sdk.Result{Code: sdk.OK, Message: "already stopped"}
		}
		code = sdk.ErrGeneric
	case exitRunningPromoted:
		if action == "monitor" {
			return sdk.Result{Code: sdk.RunningPromoted, Message: message(o)}
		}
		// A start, stop or demote that finds the instance promoted
		// failed (Stateful's "should never happen").
		code, note = sdk.ErrGeneric, " (running promoted)"
	case exitFailedPromoted:
		if action == "monitor" {
			code = sdk.FailedPromoted
		} else {
			code, note = sdk.ErrGeneric, " (failed in the promoted role)"
		}
	case exitDegraded:
		return sdk.Result{Code: sdk.Degraded, Message: firstNonEmpty(message(o), exitName(o.exit))}
	case exitDegradedPromoted:
		// The host has no degraded promoted state: the role matters more
		// (read as unpromoted, the instance's promoted slot would be
		// given up), so the warning goes in the message only.
		return sdk.Resultf(sdk.RunningPromoted, "degraded (%s): %s", exitName(o.exit), firstNonEmpty(message(o), "no reason given"))
	case 1, 2, 3, 4, 5, 6:
	default:
		code, note = sdk.ErrGeneric, " (not an OCF exit code)"
	}
	slog.Info("agent failed", "agent", s.agent, "action", action, "exit", o.exit, "output", o.text())
	msg := fmt.Sprintf("%s %s: %s (%s)%s", s.agent, action, exitName(o.exit), sdk.Code(o.exit), note)
	if o.exit > 9 && o.exit != exitDegraded {
		msg = fmt.Sprintf("%s %s: exit %d%s", s.agent, action, o.exit, note)
	}
	if m := message(o); m != "" {
		msg += ": " + m
	}
	return sdk.Result{Code: code, Message: msg}
}

// messageCap bounds the output quoted in a result's message (status shows
// it); the plugin's log has up to OutputCap of it.
const messageCap = 1024

// message is what the admin reads of an action's output: the last
// ocf-exit-reason (ocf_exit_reason's line, as Pacemaker shows it), else
// the end of the output.
func message(o outcome) string {
	text := strings.TrimSpace(string(o.output))
	reason := ""
	for _, line := range strings.Split(text, "\n") {
		if r, ok := strings.CutPrefix(strings.TrimSpace(line), "ocf-exit-reason:"); ok {
			reason = strings.TrimSpace(r)
		}
	}
	if reason != "" {
		text = reason
	}
	if len(text) > messageCap {
		text = "..." + text[len(text)-messageCap:]
	}
	return strings.Join(strings.Fields(strings.ReplaceAll(text, "\n", "; ")), " ")
}

func tail(o outcome) string {
	if m := message(o); m != "" {
		return ": " + m
	}
	return ""
}
