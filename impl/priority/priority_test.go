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
	g := New(time.Hour)
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
	g := New(time.Hour)
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
	g := New(20 * time.Millisecond)
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
	g2 := New(time.Hour)
	defer g2.Urgent()()
	defer g2.Turn(ctx)()
	if !returned(func() { g2.Turn(cctx)() }, 10*time.Second) {
		t.Fatal("a cancelled bulk worker kept waiting")
	}
}
