// Package priority lets work a person is waiting on go before bulk work when both want
// the processors. Go's scheduler shares them evenly among runnable goroutines: a login's
// password hash (tens of milliseconds of CPU) among 32 query answers streaming megabytes
// would take many times as long as on an idle server. With a Gate, while urgent work
// runs, bulk work goes in turns: one worker at a time, each turn followed by a rest
// three times as long (RestPerTurn), so bulk work keeps at most a quarter of a processor
// until the urgent work ends. A bulk worker never waits longer than MaxWait for a turn,
// so bulk work slows under a stream of urgent work but never stops.
//
// Turns go on for Linger after the last urgent work ends. Without it, every bulk worker
// waiting for a turn starts a piece the moment one login ends, and the next login, often
// a millisecond later (the same client's next request, or the next in a queue), starts
// its hash among all of those pieces.
package priority

import (
	"context"
	"sync"
	"time"
)

const (
	// DefaultMaxWait is how long a bulk worker waits at most for a turn.
	DefaultMaxWait = 100 * time.Millisecond
	// DefaultLinger is how long turns go on after urgent work ends.
	DefaultLinger = 20 * time.Millisecond
	// RestPerTurn is how many times as long as its turn a bulk worker rests after it.
	// Measured on a flooded 2-core machine (make bench, login p99 flooded ÷ idle, medians
	// of 5 rounds): 2.00–2.11× resting as long as the turn, 1.59–2.08× three times as
	// long: the processor bulk work keeps is shared with PostgreSQL's side of the same
	// answers and the clients reading them.
	RestPerTurn = 3
)

// Gate orders urgent and bulk work. A nil *Gate orders nothing.
type Gate struct {
	maxWait, linger time.Duration
	turn            chan struct{} // held by the one bulk worker whose turn it is

	mu      sync.Mutex
	urgent  int
	calm    chan struct{} // closed once no urgent work has run for linger
	calmed  bool          // calm is closed
	lastEnd time.Time     // when urgent work last ended
	lull    *time.Timer   // closes calm linger after lastEnd
}

// New returns a gate whose bulk workers wait at most maxWait for a turn, and take
// turns until linger after the last urgent work ends.
func New(maxWait, linger time.Duration) *Gate {
	calm := make(chan struct{})
	close(calm)
	return &Gate{maxWait: maxWait, linger: linger, turn: make(chan struct{}, 1), calm: calm, calmed: true}
}

func nothing() {}

// Urgent marks urgent work as running until done is called (once; more calls do nothing).
func (g *Gate) Urgent() (done func()) {
	if g == nil {
		return nothing
	}
	g.mu.Lock()
	if g.calmed {
		g.calm, g.calmed = make(chan struct{}), false
	}
	g.urgent++
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			if g.urgent--; g.urgent > 0 {
				return
			}
			if g.linger <= 0 {
				g.settle()
				return
			}
			g.lastEnd = time.Now()
			if g.lull == nil {
				g.lull = time.AfterFunc(g.linger, g.lullEnded)
			} else {
				g.lull.Reset(g.linger)
			}
		})
	}
}

// lullEnded closes calm once no urgent work has run for linger.
func (g *Gate) lullEnded() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.urgent > 0 {
		return // its end times the next lull
	}
	if left := g.linger - time.Since(g.lastEnd); left > 0 {
		g.lull.Reset(left)
		return
	}
	g.settle()
}

// settle closes calm; g.mu is held.
func (g *Gate) settle() {
	if !g.calmed {
		close(g.calm)
		g.calmed = true
	}
}

// Turn is called before a piece of bulk work (a few tens of KiB of an answer), and end
// after it. With no urgent work running nor ended within Linger it returns at once.
// Otherwise it waits for the bulk turn, for calm (Linger after the urgent work ends), for
// MaxWait or for ctx, whichever comes first; a worker that got the turn rests
// RestPerTurn times as long as its piece took before passing it on (less if calm comes
// first).
func (g *Gate) Turn(ctx context.Context) (end func()) {
	if g == nil {
		return nothing
	}
	g.mu.Lock()
	calm, busy := g.calm, !g.calmed
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
		rest := time.NewTimer(RestPerTurn * time.Since(start))
		select {
		case <-rest.C:
		case <-calm:
		case <-ctx.Done():
		}
		rest.Stop()
		<-g.turn
	}
}
