package bus

import "github.com/nats-io/nats-server/v2/server"

// What each identity may publish on the bus (everything else is refused by
// the server, and logged at most once a second). Every identity may read
// everything: status, events and monitoring need it, and nothing on the bus
// is secret from a cluster identity. The members' own daemons connect
// in-process and are not limited here: they are the server's own process.

// jsRead are the JetStream API requests needed to read KV buckets: info,
// gets, and the ordered consumers behind watches and key listings.
var jsRead = []string{
	"$JS.API.INFO",
	"$JS.API.STREAM.INFO.*",
	"$JS.API.STREAM.NAMES",
	"$JS.API.STREAM.LIST",
	"$JS.API.STREAM.MSG.GET.*",
	"$JS.API.DIRECT.GET.>",
	"$JS.API.CONSUMER.CREATE.>",
	"$JS.API.CONSUMER.DURABLE.CREATE.>",
	"$JS.API.CONSUMER.INFO.>",
	"$JS.API.CONSUMER.DELETE.>",
	"$JS.API.CONSUMER.MSG.NEXT.>",
	"$JS.FC.>",
	"$JS.ACK.>",
	"_INBOX.>",
}

// kvWrite are the subjects a KV write to bucket publishes on.
func kvWrite(bucket string) string { return "$KV." + bucket + ".>" }

// Permissions are what identity id may do as a network client.
func Permissions(id Identity) *server.Permissions {
	var pub []string
	deny := []string(nil)
	switch id.Role {
	case RoleMember:
		n := SubjectToken(id.Name)
		pub = append(pub, jsRead...)
		pub = append(pub,
			SubjectHeartbeat(id.Name), SubjectAction(id.Name), SubjectPrefix+"monitor."+n+".>",
			SubjectState(id.Name), SubjectStateRequest, SubjectLog(id.Name), SubjectNode(id.Name),
			SubjectTransition, SubjectRefresh, SubjectPing, SubjectValidate, SubjectPrefix+"lease.promise.*", SubjectPrefix+"lease.grant.*",
			kvWrite(BucketLeases),
			// Of the state bucket, only its own keys: its fail-counts
			// and its status while it coordinates (not another node's
			// fail-counts, not the tickets, which admins grant).
			"$KV."+BucketState+"."+StateFailPrefix+"*."+StateKeyToken(id.Name),
			"$KV."+BucketState+"."+StateStatusKey(id.Name),
			subjectStreamLeaderStepdown+"*",
		)
	case RoleWitness:
		pub = append(pub, jsRead...)
		pub = append(pub, SubjectHeartbeat(id.Name), SubjectLog(id.Name), SubjectPing, subjectStreamLeaderStepdown+"*")
	case RoleAdmin:
		// Everything but what only members do: heartbeats, leases,
		// plans and lease promises are the members' own, and so is
		// writing the live configuration: an admin asks a member's
		// daemon to write it on its own SubjectConfigWrite, which the
		// member stamps with the admin's name (docs/security.md). The
		// allow-list is explicit because a deny wins over any allow:
		// the JetStream and KV subjects, replies, Tandem's subjects of
		// one token after the prefix (ping, refresh, validate, ...), and
		// the longer ones an admin needs: the state request, the nodes'
		// control requests, its configuration writes, remove-voter. Not
		// a node's own subjects (tandem.state.NODE, tandem.node.NODE,
		// tandem.log.NODE): a report there is taken as the node's.
		pub = []string{"$JS.>", "$KV.>", "_INBOX.>", SubjectPrefix + "*", SubjectStateRequest, SubjectPrefix + "control.*",
			SubjectConfigWrite(id.Name), SubjectRemoveVoters}
		deny = []string{SubjectHeartbeats, kvWrite(BucketLeases), SubjectTransition, SubjectPrefix + "lease.promise.*", SubjectPrefix + "lease.grant.*",
			SubjectPrefix + "action.*", SubjectPrefix + "monitor.>", kvWrite(BucketConfig)}
		// Nor may it remake, rewrite or cut the configuration's stream
		// (a subject transform, a restored snapshot or a deleted last
		// message would be a revision no member stamped).
		for _, op := range []string{"CREATE", "UPDATE", "DELETE", "PURGE", "MSG.DELETE", "RESTORE"} {
			deny = append(deny, "$JS.API.STREAM."+op+"."+StreamOfBucket(BucketConfig))
		}
	default: // monitor, and anything unknown: read only
		pub = append(pub, jsRead...)
		pub = append(pub, SubjectPing, SubjectStateRequest, SubjectMetaData)
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub, Deny: deny},
		Subscribe: &server.SubjectPermission{Allow: []string{">"}},
	}
}
