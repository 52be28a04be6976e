package sdk_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tandem-ha/tandem/plugins/sdk"
)

// Holders of one key never overlap; the counter is written without any
// other synchronisation, so -race also sees a missing exclusion.
func TestKeyedMutexExcludesPerKey(t *testing.T) {
	var m sdk.KeyedMutex
	const keys, workers, rounds = 4, 8, 200
	counters := make([]int, keys)
	inside := make([]int, keys)
	var wg sync.WaitGroup
	var bad sync.Once
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				k := (w + i) % keys
				unlock := m.Lock(fmt.Sprint("r", k))
				inside[k]++
				if inside[k] != 1 {
					bad.Do(func() { t.Errorf("key r%d held by %d at once", k, inside[k]) })
				}
				counters[k]++
				inside[k]--
				unlock()
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, c := range counters {
		total += c
	}
	if total != workers*rounds {
		t.Errorf("counted %d, want %d", total, workers*rounds)
	}
	if n := m.Len(); n != 0 {
		t.Errorf("%d entries left after every holder released its key", n)
	}
}

// A held key does not hold up another key; a waiter on the held key gets
// it once it is released.
func TestKeyedMutexKeysIndependent(t *testing.T) {
	var m sdk.KeyedMutex
	unlockA := m.Lock("a")
	got := make(chan string, 2)
	go func() { u := m.Lock("b"); u(); got <- "b" }()
	select {
	case k := <-got:
		if k != "b" {
			t.Fatalf("got %s", k)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("key b waited for key a")
	}
	go func() { u := m.Lock("a"); u(); got <- "a" }()
	// The waiter holds an entry for "a" too: Len counts keys, not holders.
	checkLen := func(want int) error {
		if n := m.Len(); n != want {
			return fmt.Errorf("Len() = %d, want %d", n, want)
		}
		return nil
	}
	if err := checkLen(1); err != nil {
		t.Fatal(err)
	}
	select {
	case k := <-got:
		t.Fatalf("key %s taken while a is held", k)
	case <-time.After(50 * time.Millisecond): // a negative check: nothing may arrive
	}
	unlockA()
	select {
	case k := <-got:
		if k != "a" {
			t.Fatalf("got %s", k)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter on a never got it")
	}
	if err := checkLen(0); err != nil {
		t.Fatal(err)
	}
}

func TestKeyedMutexDoubleUnlockPanics(t *testing.T) {
	var m sdk.KeyedMutex
	unlock := m.Lock("x")
	unlock()
	defer func() {
		if recover() == nil {
			t.Error("a second unlock did not panic")
		}
	}()
	unlock()
}
