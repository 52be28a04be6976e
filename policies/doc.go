// Package policies is Tandem's scheduler, what Pacemaker calls the policy
// engine: from the cluster configuration, the state of the nodes, the
// current state of every resource instance and the time "now", it computes
// where every resource should run (the placement) and the transition that
// gets there: a DAG of start and stop actions on nodes, ordered by the
// ordering constraints.
//
// The package is pure: no I/O, no clock (now is an argument), no
// randomness, no map iteration order leaking into results. The same input
// gives the same output, byte for byte once encoded as JSON. The coordinator
// feeds it live state, publishes the Transition as JSON on the bus, and every
// host picks out its own actions (Transition.ForNode) and runs each one when
// the actions it waits for (Action.After) have succeeded. Apply computes the
// state a transition leads to.
//
// The semantics are Pacemaker's, groups, resource sets and location rules
// included (a group is planned as its members tied by the constraints
// Pacemaker gives them; a constraint with sets as the simple constraints it
// stands for), with the deliberate differences listed in docs/scheduler.md
// (the main one: an ordering constraint between resources sequences the
// actions a transition needs but never adds restarts of its own; inside a
// group, later members restart as in Pacemaker).
package policies
