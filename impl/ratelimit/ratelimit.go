// Package ratelimit limits, per client address, what an attacker needs many of: failed
// credentials and password attempts. Counters live in PostgreSQL, so every instance
// counts toward one limit; a client over a limit is also remembered in process (and told
// to the other instances), so refusing it, and letting a good credential pass, costs no
// database trip.
package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/audit"
	"github.com/kala-server/kala/impl/errs"
)

// Rule is one limit: at most Limit hits per Window per client address.
type Rule struct {
	Name   string
	Limit  int
	Window time.Duration
}

// Off reports a rule that limits nothing.
func (r Rule) Off() bool { return r.Limit <= 0 || r.Window <= 0 }

// clientFrom is the client address of the request ctx belongs to ("" outside one).
func clientFrom(ctx context.Context) string {
	r, _ := audit.RequestFrom(ctx)
	return r.ClientAddr
}

// Limiter counts hits per rule and client address.
type Limiter struct {
	DB  *db.DB
	Now func() time.Time
	// Blocked tells the other instances that bucket is over its limit until until.
	Blocked func(ctx context.Context, bucket string, until time.Time)

	mu      sync.Mutex
	blocked map[string]time.Time // bucket → end of its block
}

// maxBlocked bounds the in-process block list (an attacker may rotate addresses).
const maxBlocked = 100_000

func bucket(r Rule, addr string) string { return r.Name + "|" + addr }

// Check refuses a client that is over r (in process only: no database trip).
func (l *Limiter) Check(ctx context.Context, r Rule) error {
	addr := clientFrom(ctx)
	if r.Off() || addr == "" {
		return nil
	}
	now := l.Now()
	l.mu.Lock()
	until, ok := l.blocked[bucket(r, addr)]
	l.mu.Unlock()
	if ok && now.Before(until) {
		return tooMany(r, until.Sub(now))
	}
	return nil
}

// Hit counts one hit of the client against r and refuses it when that takes the client
// over the limit. The count is a sliding-window estimate over two fixed windows.
func (l *Limiter) Hit(ctx context.Context, r Rule) error {
	addr := clientFrom(ctx)
	if r.Off() || addr == "" {
		return nil
	}
	now := l.Now()
	start := now.Truncate(r.Window)
	b := bucket(r, addr)
	cur, prev, err := db.HitRate(ctx, l.DB, b, start, start.Add(-r.Window))
	if err != nil {
		return errs.Wrap(err, "count rate")
	}
	weight := 1 - float64(now.Sub(start))/float64(r.Window)
	if float64(cur)+float64(prev)*weight <= float64(r.Limit) {
		return nil
	}
	// blocked until the estimate falls back to the limit: the previous window's share
	// fades out over this window; past it, only this window's hits count
	until := start.Add(r.Window)
	if cur < r.Limit && prev > 0 {
		fade := 1 - float64(r.Limit-cur)/float64(prev)
		until = start.Add(time.Duration(fade * float64(r.Window)))
	}
	until = until.Add(time.Second - 1).Truncate(time.Second) // whole seconds, as Retry-After
	if !until.After(now) {
		until = now.Add(time.Second)
	}
	l.Block(b, until)
	if l.Blocked != nil {
		l.Blocked(ctx, b, until)
	}
	return tooMany(r, until.Sub(now))
}

// Full refuses the client when it has used all of r (another hit would be over).
func (l *Limiter) Full(ctx context.Context, r Rule) error {
	addr := clientFrom(ctx)
	if r.Off() || addr == "" {
		return nil
	}
	now := l.Now()
	start := now.Truncate(r.Window)
	cur, prev, err := db.RateOf(ctx, l.DB, bucket(r, addr), start, start.Add(-r.Window))
	if err != nil {
		return errs.Wrap(err, "read rate")
	}
	weight := 1 - float64(now.Sub(start))/float64(r.Window)
	if float64(cur)+float64(prev)*weight < float64(r.Limit) {
		return nil
	}
	return tooMany(r, start.Add(r.Window).Sub(now))
}

// Block records that bucket is over its limit until until (from this or another instance).
func (l *Limiter) Block(bucket string, until time.Time) {
	now := l.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.blocked == nil {
		l.blocked = map[string]time.Time{}
	}
	if len(l.blocked) >= maxBlocked {
		for k, u := range l.blocked {
			if !u.After(now) {
				delete(l.blocked, k)
			}
		}
		if len(l.blocked) >= maxBlocked {
			return // the database counters still refuse this client on its next failure
		}
	}
	if until.After(l.blocked[bucket]) {
		l.blocked[bucket] = until
	}
}

func tooMany(r Rule, wait time.Duration) *errs.Error {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	e := errs.E(errs.TooMany, "this address is over its limit of %d %s per %d s; try again in %d s",
		r.Limit, r.Name, int(r.Window.Seconds()), secs)
	e.RetryAfter = time.Duration(secs) * time.Second
	e.Limit = &errs.Limit{Policy: r.Name, Quota: r.Limit, Window: r.Window}
	return e
}

// Guard is the server's two rules: failed credentials of any scheme, and password
// verifications, per client address. A nil *Guard limits nothing.
type Guard struct {
	Limiter   *Limiter
	Failures  Rule
	Passwords Rule
}

// Check refuses a client over either limit, before its credential is looked at.
func (g *Guard) Check(ctx context.Context) error {
	if g == nil {
		return nil
	}
	if err := g.Limiter.Check(ctx, g.Failures); err != nil {
		return err
	}
	return g.Limiter.Check(ctx, g.Passwords)
}

// Password counts a password verification about to happen, refusing it over the
// password limit, or when the client's failures are already at their limit (a
// verification is too dear to spend on a client whose next failure is refused anyway).
func (g *Guard) Password(ctx context.Context) error {
	if g == nil {
		return nil
	}
	if err := g.Check(ctx); err != nil {
		return err
	}
	if err := g.Limiter.Full(ctx, g.Failures); err != nil {
		return err
	}
	return g.Limiter.Hit(ctx, g.Passwords)
}

// Failed counts a refused credential. Over the limit it returns the 429 to answer
// instead of the refusal, so that however many requests race past Check, no more than
// the limit learn that their credential was wrong. A database error here must not turn
// a 401 into a 500: the refusal stands.
func (g *Guard) Failed(ctx context.Context) error {
	if g == nil {
		return nil
	}
	if err := g.Limiter.Hit(ctx, g.Failures); errs.CodeOf(err) == errs.TooMany {
		return err
	}
	return nil
}
