// Package priority lets work a person is waiting on go before bulk work when both want
// the processors. Go's scheduler shares them evenly among runnable goroutines: a login's
// password hash (tens of milliseconds of CPU) among 32 query answers streaming megabytes
// would take many times as long as on an idle server. With a Gate, while urgent work
// runs, bulk work goes in turns: one worker at a time, each turn followed by a rest as
// long as itself, so bulk work keeps at most half a processor until the urgent work
// ends. A bulk worker never waits longer than MaxWait for a turn, so bulk work slows
// under a stream of urgent work but never stops.
package priority

import (
	"context"
	"sync"
	"time"
)

// DefaultMaxWait is how long a bulk worker waits at most for a turn.
const DefaultMaxWait = 100 * time.Millisecond

// Gate orders urgent and bulk work. A nil *Gate orders nothing.
type Gate struct {
	maxWait time.Duration
	turn    chan struct{} // held by the one bulk worker whose turn it is

	mu     sync.Mutex
	urgent int
	calm   chan struct{} // closed once no urgent work runs
}

// New returns a gate whose bulk workers wait at most maxWait for a turn.
func New(maxWait time.Duration) *Gate {
	calm := make(chan struct{})
	close(calm)
	return &Gate{maxWait: maxWait, turn: make(chan struct{}, 1), calm: calm}
}

func nothing() {}

// Urgent marks urgent work as running until done is called (once; more calls do nothing).
func (g *Gate) Urgent() (done func()) {
	if g == nil {
		return nothing
	}
	g.mu.Lock()
	if g.urgent == 0 {
		g.calm = make(chan struct{})
	}
	g.urgent++
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			if g.urgent--; g.urgent == 0 {
				close(g.calm)
			}
			g.mu.Unlock()
		})
	}
}

// Turn is called before a piece of bulk work (a few tens of KiB of an answer), and end
// after it. With no urgent work running it returns at once. Otherwise it waits for the
// bulk turn, for the urgent work to end, for MaxWait or for ctx, whichever comes first;
// a worker that got the turn rests as long as its piece took before passing it on
// (less if the urgent work ends first).
func (g *Gate) Turn(ctx context.Context) (end func()) {
	if g == nil {
		return nothing
	}
	g.mu.Lock()
	calm, busy := g.calm, g.urgent > 0
	g.mu.Unlock()
	if !busy {
		return nothing
	}
	wait := time.NewTimer(g.maxWait)
	defer wait.Stop()
	select {
	case g.turn <- struct{}{}:
	case <-calm:
		return nothing
	case <-wait.C:
		return nothing
	case <-ctx.Done():
		return nothing
	}
	start := time.Now()
	return func() {
		rest := time.NewTimer(time.Since(start))
		select {
		case <-rest.C:
		case <-calm:
		case <-ctx.Done():
		}
		rest.Stop()
		<-g.turn
	}
}
