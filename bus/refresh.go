package bus

// Refresh asks the coordinator to plan again now, although nothing it
// watches changed: `tandem resource cleanup` cleared fail-counts, which live
// in the state bucket and raise no event of their own.
type Refresh struct {
	Reason string `json:"reason"`
}

func (Refresh) Kind() string    { return "refresh" }
func (Refresh) Schema() int     { return 1 }
func (Refresh) Subject() string { return SubjectRefresh }
