package policies

import (
	"encoding/json"
	"time"

	"github.com/tandem-ha/tandem/policies/cib"
)

// Result is the outcome of one scheduling run.
type Result struct {
	// Placement lists every instance that should be active once the
	// transition has run, sorted by resource (configuration order),
	// instance, node.
	Placement []Assignment `json:"placement"`
	// Transition is the DAG of actions that gets there.
	Transition Transition `json:"transition"`
	// Notes explain why a resource does not run (everywhere it could), or
	// runs fewer instances than configured, and what was left alone.
	Notes []Note `json:"notes,omitempty"`
	// Scores are the allocation scores per resource and node, like
	// `crm_simulate -s`, when Input.Explain is set.
	Scores []ResourceScores `json:"scores,omitempty"`
	// RecheckAt is when a failure expires (failure-timeout) and the
	// placement may change without any event: the coordinator should
	// schedule again then. Zero when nothing expires.
	RecheckAt time.Time `json:"recheck_at,omitzero"`
}

// Assignment places one instance on one node.
type Assignment struct {
	Resource string `json:"resource"` // primitive id
	Clone    string `json:"clone,omitempty"`
	Instance int    `json:"-"` // in JSON exactly when Clone is set
	Node     string `json:"node"`
	// Role is "Promoted" for a promotable clone's instance that runs
	// promoted, "" otherwise.
	Role string `json:"role,omitempty"`
}

// Name is "VIP" or "haproxy#1".
func (a Assignment) Name() string { return instanceName(a.Resource, a.Clone, a.Instance) }

type assignmentJSON struct {
	Resource string `json:"resource"`
	Clone    string `json:"clone,omitempty"`
	Instance *int   `json:"instance,omitempty"`
	Node     string `json:"node"`
	Role     string `json:"role,omitempty"`
}

// MarshalJSON writes "instance" exactly when the assignment is a clone
// instance.
func (a Assignment) MarshalJSON() ([]byte, error) {
	w := assignmentJSON{Resource: a.Resource, Clone: a.Clone, Node: a.Node, Role: a.Role}
	if a.Clone != "" {
		w.Instance = &a.Instance
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (a *Assignment) UnmarshalJSON(data []byte) error {
	var w assignmentJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*a = Assignment{Resource: w.Resource, Clone: w.Clone, Node: w.Node, Role: w.Role}
	if w.Instance != nil {
		a.Instance = *w.Instance
	}
	return nil
}

// Note is an explanation about one resource (a primitive or clone id, as
// constraints name it).
type Note struct {
	Resource string `json:"resource"`
	Text     string `json:"text"`
}

// ResourceScores are the scores of one resource on every node. For a
// clone, the scores are those of the clone as a whole; an instance adds its
// stickiness on the node it runs on.
type ResourceScores struct {
	Resource string      `json:"resource"` // primitive or clone id
	Nodes    []NodeScore `json:"nodes"`
}

// NodeScore is a resource's final score on one node and what it is made of.
// A negative score (or -INFINITY) means the resource cannot run there.
type NodeScore struct {
	Node  string      `json:"node"`
	Score cib.Score   `json:"score"`
	Parts []ScorePart `json:"parts,omitempty"`
}

// ScorePart is one contribution to a score.
type ScorePart struct {
	Score  cib.Score `json:"score"`
	Reason string    `json:"reason"`
}
