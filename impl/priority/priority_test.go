package priority

import (
	"context"
	"testing"
	"time"
)

// returned reports whether f returns before the deadline d (a bound, not a schedule).
func returned(f func(), d time.Duration) bool {
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

func TestBulkRunsFreelyWithoutUrgentWork(t *testing.T) {
	g := New(time.Hour, 0)
	ctx := context.Background()
	// no urgent work: every worker goes at once, none holds a turn
	for range 100 {
		end := g.Turn(ctx)
		if !returned(func() { g.Turn(ctx)() }, 10*time.Second) {
			t.Fatal("a bulk worker waited while no urgent work ran")
		}
		end()
	}
	var nilGate *Gate
	nilGate.Urgent()()
	nilGate.Turn(ctx)()
}

func TestBulkTakesTurnsWhileUrgentWorkRuns(t *testing.T) {
	g := New(time.Hour, 0)
	ctx := context.Background()
	done := g.Urgent()
	first := g.Turn(ctx) // the turn
	second := make(chan func())
	go func() { second <- g.Turn(ctx) }()
	select {
	case <-second:
		t.Fatal("a second bulk worker went while the turn was taken and urgent work ran")
	case <-time.After(50 * time.Millisecond):
	}
	// the urgent work ends: the holder's rest is cut short and everyone goes
	done()
	done() // a second call changes nothing
	if !returned(first, 10*time.Second) {
		t.Fatal("the turn's end still rested after the urgent work ended")
	}
	select {
	case end := <-second:
		end()
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting worker did not go when the urgent work ended")
	}
	if g.urgent != 0 {
		t.Fatalf("urgent count %d after done", g.urgent)
	}
}

func TestBulkNeverWaitsLongerThanMaxWait(t *testing.T) {
	g := New(20*time.Millisecond, 0)
	defer g.Urgent()()
	ctx := context.Background()
	hold := g.Turn(ctx) // held for the whole test, as by a worker stuck writing
	defer func() { go hold() }()
	// urgent work never ends here: the others still go, each after at most MaxWait
	for range 5 {
		if !returned(func() { g.Turn(ctx)() }, 10*time.Second) {
			t.Fatal("a bulk worker waited past MaxWait")
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	g2 := New(time.Hour, 0)
	defer g2.Urgent()()
	defer g2.Turn(ctx)()
	if !returned(func() { g2.Turn(cctx)() }, 10*time.Second) {
		t.Fatal("a cancelled bulk worker kept waiting")
	}
}

// Turns go on for Linger after the last urgent work ends, timed from the last end: a
// login following another within Linger finds bulk work still taking turns.
func TestTurnsLingerAfterUrgentWork(t *testing.T) {
	g := New(time.Hour, time.Hour)
	ctx := context.Background()
	g.Urgent()()
	first := g.Turn(ctx) // urgent work ended, but within Linger: this is a turn
	second := make(chan func())
	go func() { second <- g.Turn(ctx) }()
	select {
	case <-second:
		t.Fatal("a second bulk worker went within Linger of the urgent work's end")
	case <-time.After(50 * time.Millisecond):
	}

	// the lull ends only Linger after the last end
	g.mu.Lock()
	g.lastEnd = time.Now()
	g.mu.Unlock()
	g.lullEnded()
	if calmNow(g) {
		t.Fatal("calm came before Linger passed")
	}
	done := g.Urgent() // urgent work again: a lull ending now changes nothing
	g.mu.Lock()
	g.lastEnd = time.Now().Add(-2 * time.Hour)
	g.mu.Unlock()
	g.lullEnded()
	if calmNow(g) {
		t.Fatal("calm came while urgent work ran")
	}
	done()
	g.mu.Lock()
	g.lastEnd = time.Now().Add(-2 * time.Hour)
	g.mu.Unlock()
	g.lullEnded()
	if !calmNow(g) {
		t.Fatal("no calm Linger after the last urgent work ended")
	}
	if !returned(first, 10*time.Second) {
		t.Fatal("the turn's end still rested after calm")
	}
	select {
	case end := <-second:
		end()
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting worker did not go at calm")
	}
	g.lull.Stop()
}

// With a short Linger, calm comes by itself after the urgent work ends.
func TestCalmComesAfterLinger(t *testing.T) {
	g := New(time.Hour, 10*time.Millisecond)
	ctx := context.Background()
	g.Urgent()()
	hold := g.Turn(ctx)
	if !returned(func() { g.Turn(ctx)() }, 10*time.Second) {
		t.Fatal("a bulk worker still waited long after Linger")
	}
	hold()
	if !returned(func() { g.Turn(ctx)() }, time.Second) || !calmNow(g) {
		t.Fatal("bulk work still takes turns after calm")
	}
}

func calmNow(g *Gate) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calmed
}
