package sdktest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Resource is the resource Conformance manages: it is really started and
// stopped, so point it at something harmless.
type Resource struct {
	ID        string // default "conformance"
	AgentType string
	Params    map[string]string
	Instance  sdk.Instance     // default: node "node1", primitive
	Cluster   *sdk.ClusterView // default: one online node
	Timeout   time.Duration    // per call; default 30 s
	// Break, when set, breaks the started resource behind the agent's
	// back, as a fault would (kill its process, corrupt its file); req
	// is the request the resource was started with. Conformance then
	// checks that a monitor reports a failure and that stop cleans up.
	// Without it that rule is skipped, saying so.
	Break func(req sdk.Request) error
	// Repair, when set, undoes Break once the failure rule is checked
	// (whether it passed or not), for what Break broke outside the
	// resource (a server the agent checks, stopped; a device, down):
	// the checks that follow start the resource again and expect it to
	// run.
	Repair func(req sdk.Request) error
}

func (r *Resource) defaults() {
	if r.ID == "" {
		r.ID = "conformance"
	}
	if r.Instance == (sdk.Instance{}) {
		r.Instance = sdk.Instance{Node: "node1", CloneIndex: -1}
	}
	if r.Cluster == nil {
		r.Cluster = &sdk.ClusterView{Nodes: []sdk.NodeView{{Name: r.Instance.Node, Address: "127.0.0.1", Online: true}}, Active: map[string][]string{}}
	}
	if r.Timeout <= 0 {
		r.Timeout = 30 * time.Second
	}
}

// UnknownParam is the parameter name Conformance passes to Validate to see
// it refused.
const UnknownParam = "conformance_unknown_param"

// Restarter is a Target whose plugin process can be restarted, as the host
// restarts a crashed or hung plugin (a *Binary from LaunchBinary).
type Restarter interface {
	Target
	Restart() error
}

// Conformance checks what the host relies on from every agent, as
// subtests, the way ocf-tester checks an OCF agent. Each failure names
// the rule broken and what the agent answered.
//
//   - info: Info is complete and its API versions negotiable.
//   - meta-data: complete (every parameter typed and described,
//     start/stop/monitor with timeouts, monitor with an interval), usable
//     by sdk.ParseParams (known types, enum values, defaults that parse),
//     and r.Params pass the checks it declares.
//   - validate: r.Params are accepted; each required parameter missing,
//     or given empty, is refused with a message; an unknown parameter is
//     refused with a message naming it.
//   - lifecycle: stop of a never-started resource succeeds and monitor
//     then says NotRunning; start succeeds and is idempotent, monitor
//     then says OK; stop succeeds and is idempotent, monitor then says
//     NotRunning.
//   - failure (with r.Break): a monitor of the broken resource reports a
//     failure: an error code with a message, or NotRunning when what it
//     manages is gone (the host counts a started resource's NotRunning
//     as a failure too), never OK, Degraded or RunningPromoted; and stop
//     of the failed resource succeeds and leaves it NotRunning. Then
//     r.Repair, if set, undoes what Break did.
//   - plugin restart (a Restarter target): a resource started before the
//     plugin process restarts is found running by the new process (the
//     host's probe is a monitor), stop works through it, and a stopped
//     one stays NotRunning across a restart: the agent keeps no state the
//     host needs in memory.
//   - promotable, for an agent that implements sdk.Promoter (its promote
//     does not answer ErrUnimplemented): promote and demote are
//     idempotent, monitor says RunningPromoted while promoted and OK once
//     demoted, and stop ends the promoted role too; and "promoted hold
//     lapses": a hold on the promoted role (sdk.HoldPromoted) that is not
//     renewed demotes the instance, which keeps running (sdk.Serve does it
//     for every Promoter; a plugin not built with it must do it itself).
//   - notify, for an agent that implements sdk.Notifier and answers a clone
//     notification (not ErrUnimplemented): pre and post start
//     notifications of a started instance succeed and leave it running
//     (monitor OK), and so does a pre-stop one before its stop.
//
// The resource is stopped when the test ends.
func Conformance(t *testing.T, target Target, r Resource) {
	t.Helper()
	r.defaults()
	c := &checker{target: target, r: r}

	t.Run("info", func(t *testing.T) {
		ctx, cancel, _ := c.call()
		defer cancel()
		info, err := target.Info(ctx)
		if err != nil {
			t.Fatal(c.noAnswer("Info answers", "info", err))
		}
		for _, p := range InfoProblems(info) {
			t.Error(p)
		}
		if !provides(info, r.AgentType) {
			t.Errorf("Info().Types = %v does not include the agent type under test %q", info.Types, r.AgentType)
		}
	})

	var md sdk.MetaData
	t.Run("meta-data", func(t *testing.T) {
		ctx, cancel, _ := c.call()
		defer cancel()
		var err error
		md, err = target.MetaData(ctx, r.AgentType)
		if err != nil {
			t.Fatal(c.noAnswer("meta-data answers", "meta-data", err))
		}
		for _, p := range MetaDataProblems(md, r.AgentType) {
			t.Error(p)
		}
		// The params the agent accepts pass the checks its meta-data
		// declares: what it documents is what it takes.
		if err := sdk.ParseParams(r.AgentType, md.Params, r.Params).Err(); err != nil {
			t.Errorf("the test params %v do not pass the checks the meta-data declares: %s", r.Params, strings.ReplaceAll(err.Error(), "\n", "; "))
		}
	})

	t.Run("validate", func(t *testing.T) {
		c.validate(t, "validate accepts the test params", copyParams(r.Params), func(res sdk.Result) string {
			if res.Code != sdk.OK {
				return "want ok"
			}
			return ""
		})
		refused := func(name string) func(sdk.Result) string {
			return func(res sdk.Result) string {
				switch {
				case res.Code == sdk.OK:
					return "want a refusal (an error code) with a message"
				case res.Message == "":
					return "want a message saying what is wrong"
				case name != "" && !strings.Contains(res.Message, name):
					return fmt.Sprintf("want a message naming %s", name)
				}
				return ""
			}
		}
		for _, p := range md.Params {
			if !p.Required {
				continue
			}
			params := copyParams(r.Params)
			delete(params, p.Name)
			c.validate(t, fmt.Sprintf("validate refuses required parameter %s missing", p.Name), params, refused(""))
			params[p.Name] = ""
			c.validate(t, fmt.Sprintf("validate refuses required parameter %s empty", p.Name), params, refused(""))
		}
		params := copyParams(r.Params)
		params[UnknownParam] = "1"
		c.validate(t, "validate refuses an unknown parameter", params, refused(UnknownParam))
	})

	t.Cleanup(func() {
		if err := c.stop(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	t.Run("lifecycle", func(t *testing.T) {
		c.run(t, []step{
			{"stop of a never-started resource succeeds", "stop", target.Stop, sdk.OK},
			{"monitor of a never-started resource says not running", "monitor", target.Monitor, sdk.NotRunning},
			{"start succeeds", "start", target.Start, sdk.OK},
			{"monitor after start says running", "monitor", target.Monitor, sdk.OK},
			{"start is idempotent", "start again", target.Start, sdk.OK},
			{"monitor after a second start says running", "monitor", target.Monitor, sdk.OK},
			{"stop succeeds", "stop", target.Stop, sdk.OK},
			{"monitor after stop says not running", "monitor", target.Monitor, sdk.NotRunning},
			{"stop is idempotent", "stop again", target.Stop, sdk.OK},
			{"monitor after a second stop says not running", "monitor", target.Monitor, sdk.NotRunning},
		})
	})

	t.Run("failure", func(t *testing.T) {
		if r.Break == nil {
			t.Skip("Resource.Break is not set: the rule \"monitor reports a broken resource as failed\" is not checked")
		}
		c.run(t, []step{{"start succeeds", "start", target.Start, sdk.OK}})
		ctx, cancel, d := c.call()
		defer cancel()
		if err := r.Break(c.req(d)); err != nil {
			t.Fatalf("Resource.Break: %v", err)
		}
		if r.Repair != nil {
			defer func() {
				if err := r.Repair(c.req(d)); err != nil {
					t.Errorf("Resource.Repair: %v", err)
				}
			}()
		}
		res, err := target.Monitor(ctx, c.req(d))
		if err != nil {
			t.Fatal(c.noAnswer("monitor reports a broken resource as failed", "monitor", err))
		}
		switch {
		case res.Code == sdk.OK || res.Code == sdk.Degraded || res.Code == sdk.RunningPromoted:
			t.Fatalf("rule %q broken: monitor after Resource.Break answered %s; it says the resource runs, want a failure (an error code with a message, or not running when it is gone)",
				"monitor reports a broken resource as failed", answer(res))
		case res.Code != sdk.NotRunning && res.Message == "":
			t.Fatalf("rule %q broken: monitor after Resource.Break answered %s without a message; say what is wrong",
				"monitor reports a broken resource as failed", answer(res))
		}
		c.run(t, []step{
			{"stop of a failed resource succeeds", "stop", target.Stop, sdk.OK},
			{"monitor after stopping a failed resource says not running", "monitor", target.Monitor, sdk.NotRunning},
		})
	})

	if rs, ok := target.(Restarter); ok {
		t.Run("plugin restart", func(t *testing.T) {
			restart := step{"the plugin restarts", "restart", func(context.Context, sdk.Request) (sdk.Result, error) {
				return sdk.Result{}, rs.Restart()
			}, sdk.OK}
			c.run(t, []step{
				{"start succeeds", "start", target.Start, sdk.OK},
				restart,
				{"a plugin restart leaves the resource running: the new process's monitor (the host's probe) finds it", "monitor", target.Monitor, sdk.OK},
				{"stop succeeds through a restarted plugin", "stop", target.Stop, sdk.OK},
				restart,
				{"a plugin restart leaves a stopped resource stopped", "monitor", target.Monitor, sdk.NotRunning},
			})
		})
	}
	promotable(t, c)
	notifiable(t, c)
}

// checker makes Conformance's calls and words its failures.
type checker struct {
	target Target
	r      Resource
}

func (c *checker) call() (context.Context, context.CancelFunc, time.Time) {
	d := time.Now().Add(c.r.Timeout)
	ctx, cancel := context.WithDeadline(context.Background(), d)
	return ctx, cancel, d
}

func (c *checker) req(d time.Time) sdk.Request {
	return sdk.Request{ResourceID: c.r.ID, AgentType: c.r.AgentType, Params: copyParams(c.r.Params), Instance: c.r.Instance, Deadline: d, Cluster: c.r.Cluster}
}

func (c *checker) stop() error {
	ctx, cancel, d := c.call()
	defer cancel()
	res, err := c.target.Stop(ctx, c.req(d))
	if err != nil {
		return c.noAnswer("stop succeeds", "stop", err)
	}
	if res.Code != sdk.OK {
		return fmt.Errorf("stop: %s", answer(res))
	}
	return nil
}

// noAnswer words a call that got no answer: a timeout says the deadline
// the agent missed, a crash says so.
func (c *checker) noAnswer(rule, op string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "DeadlineExceeded") {
		return fmt.Errorf("rule %q broken: %s did not answer within %v (Resource.Timeout; the host would time it out and restart the plugin): %w", rule, op, c.r.Timeout, err)
	}
	return fmt.Errorf("rule %q broken: %s failed without an answer (did the plugin crash or panic? see its log above): %w", rule, op, err)
}

func (c *checker) validate(t *testing.T, rule string, params map[string]string, problem func(sdk.Result) string) {
	t.Helper()
	ctx, cancel, _ := c.call()
	defer cancel()
	res, err := c.target.Validate(ctx, sdk.ValidateRequest{AgentType: c.r.AgentType, Params: params})
	if err != nil {
		t.Error(c.noAnswer(rule, "validate", err))
		return
	}
	if p := problem(res); p != "" {
		t.Errorf("rule %q broken: validate of %v answered %s; %s", rule, params, answer(res), p)
	}
}

// step is one call of a conformance sequence and the code it must answer.
type step struct {
	rule string // what the host relies on, as the failure names it
	what string // the call, as the failure names it
	op   func(context.Context, sdk.Request) (sdk.Result, error)
	want sdk.Code
}

// run makes the calls of steps in turn, each with its own deadline, and
// stops at the first that errs or answers another code.
func (c *checker) run(t *testing.T, steps []step) {
	t.Helper()
	for _, s := range steps {
		ctx, cancel, d := c.call()
		res, err := s.op(ctx, c.req(d))
		cancel()
		if err != nil {
			t.Fatal(c.noAnswer(s.rule, s.what, err))
		}
		if res.Code != s.want {
			t.Fatalf("rule %q broken: %s answered %s; want %v", s.rule, s.what, answer(res), s.want)
		}
	}
}

// answer is what an agent answered, for a failure message.
func answer(res sdk.Result) string {
	if res.Message == "" {
		return fmt.Sprintf("%v (code %d, no message)", res.Code, int32(res.Code))
	}
	return fmt.Sprintf("%v (code %d) %q", res.Code, int32(res.Code), res.Message)
}

// Promotable is the part of Target a promotable clone's agent adds.
type Promotable interface {
	Promote(ctx context.Context, req sdk.Request) (sdk.Result, error)
	Demote(ctx context.Context, req sdk.Request) (sdk.Result, error)
}

var (
	_ Promotable = (*sdk.Client)(nil)
	_ Promotable = (*sdk.Process)(nil)
	_ Promotable = (*Binary)(nil)
)

// Notifiable is the part of Target an agent with clone notifications adds.
type Notifiable interface {
	Notify(ctx context.Context, req sdk.Request) (sdk.Result, error)
}

var (
	_ Notifiable = (*sdk.Client)(nil)
	_ Notifiable = (*sdk.Process)(nil)
	_ Notifiable = (*Binary)(nil)
)

// notifiable checks clone notifications to the resource as an instance of
// a clone of two, the other instance starting on another node.
func notifiable(t *testing.T, c *checker) {
	n, ok := c.target.(Notifiable)
	if !ok {
		return
	}
	inst := c.r.Instance
	if inst.CloneIndex < 0 {
		inst = sdk.Instance{Node: "conformance-node1", CloneIndex: 0}
	}
	inst.Clone.Notify = true
	notify := func(typ, op string) func(context.Context, sdk.Request) (sdk.Result, error) {
		return func(ctx context.Context, req sdk.Request) (sdk.Result, error) {
			req.Instance = inst
			req.Notification = &sdk.Notification{Type: typ, Operation: op,
				Active: []sdk.NotifyEntry{{Instance: inst.CloneIndex, Node: inst.Node}},
				Start:  []sdk.NotifyEntry{{Instance: inst.CloneIndex + 1, Node: "conformance-node2"}},
				All:    []string{inst.Node, "conformance-node2"}, Available: []string{inst.Node, "conformance-node2"}}
			if op == "stop" {
				req.Notification.Start, req.Notification.Stop = nil, req.Notification.Active
			}
			return n.Notify(ctx, req)
		}
	}
	ctx, cancel, d := c.call()
	res, err := notify(sdk.NotifyPre, "start")(ctx, c.req(d))
	cancel()
	if err == nil && res.Code == sdk.ErrUnimplemented {
		return // not told about clone notifications
	}
	target := c.target
	t.Run("notify", func(t *testing.T) {
		c.run(t, []step{
			{"start succeeds", "start", target.Start, sdk.OK},
			{"a pre-start notification succeeds", "notify pre start", notify(sdk.NotifyPre, "start"), sdk.OK},
			{"a post-start notification succeeds", "notify post start", notify(sdk.NotifyPost, "start"), sdk.OK},
			{"a notification leaves the instance running", "monitor", target.Monitor, sdk.OK},
			{"a pre-stop notification succeeds", "notify pre stop", notify(sdk.NotifyPre, "stop"), sdk.OK},
			{"stop succeeds", "stop", target.Stop, sdk.OK},
			{"monitor after stop says not running", "monitor", target.Monitor, sdk.NotRunning},
		})
	})
}

func promotable(t *testing.T, c *checker) {
	p, ok := c.target.(Promotable)
	if !ok {
		return
	}
	ctx, cancel, d := c.call()
	res, err := p.Promote(ctx, c.req(d))
	cancel()
	if err == nil && res.Code == sdk.ErrUnimplemented {
		return // not a promotable agent
	}
	target := c.target
	t.Run("promotable", func(t *testing.T) {
		c.run(t, []step{
			{"start succeeds", "start", target.Start, sdk.OK},
			{"a started instance is unpromoted", "monitor", target.Monitor, sdk.OK},
			{"promote succeeds", "promote", p.Promote, sdk.OK},
			{"monitor of a promoted instance says running promoted", "monitor", target.Monitor, sdk.RunningPromoted},
			{"promote is idempotent", "promote again", p.Promote, sdk.OK},
			{"monitor after a second promote says running promoted", "monitor", target.Monitor, sdk.RunningPromoted},
			{"demote succeeds", "demote", p.Demote, sdk.OK},
			{"monitor after demote says running unpromoted", "monitor", target.Monitor, sdk.OK},
			{"demote is idempotent", "demote again", p.Demote, sdk.OK},
			{"promote succeeds", "promote before stop", p.Promote, sdk.OK},
			{"stop of a promoted instance succeeds", "stop", target.Stop, sdk.OK},
			{"monitor after stop says not running", "monitor", target.Monitor, sdk.NotRunning},
			{"start after a promoted stop succeeds", "start", target.Start, sdk.OK},
			{"a new start is unpromoted", "monitor", target.Monitor, sdk.OK},
			{"stop succeeds", "stop at the end", target.Stop, sdk.OK},
		})
	})
	h, ok := target.(interface {
		Hold(ctx context.Context, req sdk.HoldRequest) (sdk.Result, error)
	})
	if !ok {
		return
	}
	t.Run("promoted hold lapses", func(t *testing.T) {
		c.run(t, []step{
			{"start succeeds", "start", target.Start, sdk.OK},
			{"promote succeeds", "promote", p.Promote, sdk.OK},
		})
		ctx, cancel, d := c.call()
		r := c.req(d)
		res, err := h.Hold(ctx, sdk.HoldRequest{ResourceID: r.ResourceID, AgentType: r.AgentType, Params: r.Params,
			Until: sdk.MonotonicNow() + 200*time.Millisecond, Role: sdk.HoldPromoted, Instance: r.Instance})
		cancel()
		if err != nil || res.Code != sdk.OK {
			t.Fatalf("rule \"a hold on the promoted role is accepted\" broken: hold answered %v %q, %v; want OK", res.Code, res.Message, err)
		}
		var last sdk.Result
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			ctx, cancel, d := c.call()
			last, err = target.Monitor(ctx, c.req(d))
			cancel()
			if err == nil && last.Code == sdk.OK {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("rule \"a lapsed hold on the promoted role demotes\" broken: monitor 10 s after the hold lapsed answered %v %q, %v; want OK (demoted, running)", last.Code, last.Message, err)
			}
		}
		c.run(t, []step{{"stop succeeds", "stop at the end", target.Stop, sdk.OK}})
	})
}
