package auth

import (
	"sync"
	"testing"
	"time"
)

// A mark is dropped once written, unless a newer one replaced it meanwhile; marks never
// move back in time.
func TestTouchesKeepNewerMarks(t *testing.T) {
	var tc Touches
	t0 := time.Unix(1_700_000_000, 0)
	tc.Session("a", t0)
	tc.Session("a", t0.Add(-time.Minute))
	if at, _ := tc.sessionSeen("a"); !at.Equal(t0) {
		t.Fatalf("an older mark replaced a newer one: %v", at)
	}
	written := map[string]time.Time{"a": t0}
	tc.Session("a", t0.Add(time.Second)) // a use while the write was under way
	tc.Session("b", t0)
	forget(&tc.mu, &tc.sessions, written)
	if at, ok := tc.sessionSeen("a"); !ok || !at.Equal(t0.Add(time.Second)) {
		t.Errorf("the newer mark was dropped: %v %v", at, ok)
	}
	forget(&tc.mu, &tc.sessions, map[string]time.Time{"a": t0.Add(time.Second), "b": t0})
	if _, ok := tc.sessionSeen("a"); ok {
		t.Error("a written mark was kept")
	}
	if _, ok := tc.sessionSeen("b"); ok {
		t.Error("a written mark was kept")
	}
	// marks from many requests at once (go test -race)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			tc.Session("c", t0.Add(time.Duration(i)*time.Second))
			forget(&tc.mu, &tc.sessions, map[string]time.Time{"c": t0})
		})
	}
	wg.Wait()
	if at, _ := tc.sessionSeen("c"); !at.Equal(t0.Add(49 * time.Second)) {
		t.Errorf("latest mark %v, want the newest", at)
	}
}
