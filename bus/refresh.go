package bus

// Refresh asks the coordinator to plan again now, although nothing it
// watches changed: `tandem resource cleanup` cleared fail-counts, which live
// in the state bucket and raise no event of their own. Nodes probe again
// what they hold blocked (its stop failed) among Resource (every resource
// if empty) on Node (every node if empty): cleanup is how an admin says
// "I fixed it, look again".
type Refresh struct {
	Reason   string `json:"reason"`
	Resource string `json:"resource,omitempty"` // primitive id, or RSC:N: one instance of a unique clone
	Node     string `json:"node,omitempty"`
	// Ticket: a ticket changed (tandem ticket grant, revoke, standby,
	// activate); nodes probe nothing. Resource is then set to a name no
	// resource can have, so that a node of an older build, which does not
	// know this field, probes nothing either.
	Ticket string `json:"ticket,omitempty"`
}

// TicketRefresh is the Refresh for a change of ticket name.
func TicketRefresh(name, change string) Refresh {
	return Refresh{Reason: "ticket " + name + " " + change, Resource: "#ticket " + name, Ticket: name}
}

func (Refresh) Kind() string    { return "refresh" }
func (Refresh) Schema() int     { return 1 }
func (Refresh) Subject() string { return SubjectRefresh }
