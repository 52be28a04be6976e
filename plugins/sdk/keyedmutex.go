package sdk

import "sync"

// KeyedMutex is one mutex per key, for agents that serialise the actions
// of each resource (or instance, or file) while letting different ones run
// at once: the host may send a monitor of one resource while another
// starts. A key's entry exists only while someone holds or waits for it,
// so an agent that sees many resources come and go does not accumulate
// them. The zero value is ready to use; a KeyedMutex must not be copied
// after first use.
type KeyedMutex struct {
	mu      sync.Mutex
	entries map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int // holders and waiters; the entry goes when it drops to 0
}

// Lock waits for key's mutex and returns the function that releases it,
// so that a caller can write `defer m.Lock(key)()`. Calling the release
// function twice panics, as unlocking an unlocked sync.Mutex does.
func (m *KeyedMutex) Lock(key string) (unlock func()) {
	m.mu.Lock()
	if m.entries == nil {
		m.entries = map[string]*keyedEntry{}
	}
	e := m.entries[key]
	if e == nil {
		e = &keyedEntry{}
		m.entries[key] = e
	}
	e.refs++
	m.mu.Unlock()

	e.mu.Lock()
	released := false
	return func() {
		if released {
			panic("sdk: KeyedMutex: unlock of key " + key + " that is not locked")
		}
		released = true
		e.mu.Unlock()
		m.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(m.entries, key)
		}
		m.mu.Unlock()
	}
}

// Len returns how many keys are held or waited for.
func (m *KeyedMutex) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
