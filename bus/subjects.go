package bus

// Every subject Tandem uses, all under "tandem." (subscribe to SubjectAll
// for everything). Events (events.go) are published on them; requests are
// answered on them.
//
//	tandem.heartbeat.<node>            Heartbeat         every member, every HeartbeatInterval
//	tandem.action.<node>               ActionResult      each start/stop/probe a host ran
//	tandem.monitor.<node>.<resource>   MonitorResult     each recurring monitor result
//	tandem.transition                  TransitionEvent   the coordinator's new plan
//	tandem.transition                  TransitionAbort   stop starting actions of a plan
//	tandem.state.<node>                NodeResources     what a node runs, on every change
//	tandem.state.request               (request)         every node answers with its NodeResources
//	tandem.config                      ConfigChanged     the live configuration changed
//	tandem.node.<node>                 NodeEvent         a member joined, left, was fenced
//	tandem.log.<node>                  LogEvent          notable host messages for `tandem events`
//	tandem.refresh                     Refresh           plan again now (after a cleanup)
//	tandem.ping                        (request)         every member answers with its MemberStatus
//	tandem.control.<node>              (request)         `tandem cluster start|stop` asks the node
//	tandem.validate                    (request)         every node's plugins validate an agent's parameters
//	tandem.lease.promise.<node>        (request)         a lease holder asks node not to take its leases for a while
//	tandem.lease.grant.<voter>         (request)         a node asks voter to grant it a lease (leases = "grants")
//	tandem.config.write.<identity>     (request)         a member's daemon writes a configuration revision for that admin identity
const (
	SubjectPrefix = "tandem."
	SubjectAll    = SubjectPrefix + ">"

	SubjectHeartbeats   = SubjectPrefix + "heartbeat.*" // every member's Heartbeat (for watching: members follow each member's own subject)
	SubjectActions      = SubjectPrefix + "action.*"    // every node's ActionResult
	SubjectTransition   = SubjectPrefix + "transition"  // TransitionEvent and TransitionAbort
	SubjectStates       = SubjectPrefix + "state.*"     // every node's NodeResources (and the requests)
	SubjectStateRequest = SubjectPrefix + "state.request"

	SubjectConfigChanged = SubjectPrefix + "config"
	SubjectRefresh       = SubjectPrefix + "refresh"
	SubjectPing          = SubjectPrefix + "ping"
	SubjectValidate      = SubjectPrefix + "validate"
	SubjectMetaData      = SubjectPrefix + "metadata"   // an agent's meta-data, asked of the members
	SubjectAlertCheck    = SubjectPrefix + "alertcheck" // "can you run this alert agent?", asked of the nodes
)

// JetStream's own subjects Tandem uses: the leader stepdown requests (the
// witness keeps the Raft leaders) and the stream leader election advisories
// (the account's copy) it follows.
const (
	subjectStreamLeaderStepdown = "$JS.API.STREAM.LEADER.STEPDOWN."
	subjectMetaLeaderStepdown   = "$JS.API.META.LEADER.STEPDOWN"
	SubjectStreamLeaderElected  = "$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.>"
)

// SubjectHeartbeat is where member publishes its heartbeats.
func SubjectHeartbeat(member string) string {
	return SubjectPrefix + "heartbeat." + SubjectToken(member)
}

// SubjectAction is where node reports the actions it ran.
func SubjectAction(node string) string { return SubjectPrefix + "action." + SubjectToken(node) }

// SubjectMonitor is where node reports the monitors of resource.
func SubjectMonitor(node, resource string) string {
	return SubjectPrefix + "monitor." + SubjectToken(node) + "." + SubjectToken(resource)
}

// SubjectState is where node publishes what it runs.
func SubjectState(node string) string { return SubjectPrefix + "state." + SubjectToken(node) }

// SubjectNode carries the NodeEvents about node.
func SubjectNode(node string) string { return SubjectPrefix + "node." + SubjectToken(node) }

// SubjectLog carries node's LogEvents.
func SubjectLog(node string) string { return SubjectPrefix + "log." + SubjectToken(node) }

// SubjectControl is where node's daemon answers control requests.
func SubjectControl(node string) string { return SubjectPrefix + "control." + SubjectToken(node) }

// SubjectLeaseGrant is where voter's daemon answers lease grant requests
// (`[bus] leases = "grants"`, host/lease/grants.go).
func SubjectLeaseGrant(voter string) string {
	return SubjectPrefix + "lease.grant." + SubjectToken(voter)
}

// SubjectLeasePromise is where node answers requests for lease promises.
func SubjectLeasePromise(node string) string {
	return SubjectPrefix + "lease.promise." + SubjectToken(node)
}

// SubjectConfigWrite is where the admin identity named identity asks the
// members' daemons (a queue group) to write a live configuration revision;
// only that identity may publish on it, so a member that answers knows who
// asked.
func SubjectConfigWrite(identity string) string {
	return SubjectPrefix + "config.write." + SubjectToken(identity)
}

// SubjectRemoveVoter is where the daemon of voter answers `tandem cluster
// remove-voter` (admins only). Each voter has its own subject, not a queue
// group: a voter killed a moment ago keeps its subscriptions on the others'
// servers until its route times out, and a queue group could hand the
// request to it (verify14 saw that: "no answer ... nats: timeout").
func SubjectRemoveVoter(voter string) string {
	return SubjectPrefix + "voter.remove." + SubjectToken(voter)
}

// SubjectRemoveVoters are every voter's remove-voter subjects.
const SubjectRemoveVoters = SubjectPrefix + "voter.remove.*"

// SubjectConfigWrites are every identity's configuration write subjects.
const SubjectConfigWrites = SubjectPrefix + "config.write.*"

// SubjectToken makes s usable as one subject token: NATS splits subjects at
// '.', so "VIP-10.10.10.23" becomes "VIP-10_10_10_23". Wildcards and spaces
// are replaced too.
func SubjectToken(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch c {
		case '.', '*', '>', ' ', '\t', '\r', '\n':
			b[i] = '_'
		}
	}
	return string(b)
}
