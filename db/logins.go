package db

import (
	"context"
	"time"

	"github.com/lib/pq"
)

// LoginFailures is the failure counter of one login name.
type LoginFailures struct {
	UsernameKey   string     `db:"username_key"`
	Failures      int        `db:"failures"`
	FirstFailedAt *time.Time `db:"first_failed_at"`
	LastFailedAt  *time.Time `db:"last_failed_at"`
	LockedUntil   *time.Time `db:"locked_until"`
}

// LoginFailuresOf returns the counter of a name, or nil when it has none.
func LoginFailuresOf(ctx context.Context, q Queryer, key string) (*LoginFailures, error) {
	var f LoginFailures
	err := q.GetContext(ctx, &f, `SELECT username_key, failures, first_failed_at, last_failed_at, locked_until
		FROM login_failures WHERE username_key = $1`, key)
	if err != nil {
		err = mapErr(err)
		if err == ErrNotFound {
			return nil, nil
		}
		return nil, err
	}
	return &f, nil
}

// Reservation is the answer to ReserveLoginAttempt.
type Reservation struct {
	Granted     bool
	LockedUntil *time.Time // set when the name is locked at now
}

// ReserveLoginAttempt asks for the right to verify one password of a name. It is granted
// when the name is not locked and, counting every verification still in flight as a
// failure to come, the schedule cannot have locked the name before this one: while fewer
// than threshold failures are counted, up to threshold minus failures verifications may
// run at once; from threshold on, one at a time. One INSERT … ON CONFLICT decides it
// on the name's row, which PostgreSQL locks and re-reads for every concurrent caller, so
// the rule holds across requests, paths and instances. A reservation lapses at now+lease
// so that an instance dying mid-verification cannot hold the name forever.
func ReserveLoginAttempt(ctx context.Context, q Queryer, key string, now time.Time, threshold int, lease time.Duration) (Reservation, error) {
	var n int
	err := q.GetContext(ctx, &n, `INSERT INTO login_failures AS f (username_key, failures, pending, pending_until)
		VALUES ($1, 0, 1, $3)
		ON CONFLICT (username_key) DO UPDATE
			SET pending = (CASE WHEN f.pending_until > $2 THEN f.pending ELSE 0 END) + 1, pending_until = $3
			WHERE (f.locked_until IS NULL OR f.locked_until <= $2)
			  AND ((CASE WHEN f.pending_until > $2 THEN f.pending ELSE 0 END) = 0
			       OR f.failures + f.pending < $4)
		RETURNING pending`, key, now, now.Add(lease), threshold)
	if err == nil {
		return Reservation{Granted: true}, nil
	}
	if err = mapErr(err); err != ErrNotFound {
		return Reservation{}, err
	}
	// refused: locked, or the budget is taken by verifications in flight
	f, err := LoginFailuresOf(ctx, q, key)
	if err != nil {
		return Reservation{}, err
	}
	if f != nil && f.LockedUntil != nil && f.LockedUntil.After(now) {
		return Reservation{LockedUntil: f.LockedUntil}, nil
	}
	return Reservation{}, nil
}

// ReleaseLoginFailure ends a reservation whose password was wrong: it counts the failure
// and sets the lock the new count earns (schedule[i] = lock after the i-th consecutive
// failure; the last entry applies to every later one). It returns the new count and the
// lock's end (nil when this failure locked nothing).
func ReleaseLoginFailure(ctx context.Context, q Queryer, key string, now time.Time, schedule []time.Duration) (int, *time.Time, error) {
	secs := make(pq.Float64Array, len(schedule))
	for i, d := range schedule {
		secs[i] = d.Seconds()
	}
	var out struct {
		Failures    int        `db:"failures"`
		LockedUntil *time.Time `db:"locked_until"`
	}
	err := q.GetContext(ctx, &out, `INSERT INTO login_failures AS f (username_key, failures, first_failed_at, last_failed_at)
		VALUES ($1, 1, $2, $2)
		ON CONFLICT (username_key) DO UPDATE SET
			failures = f.failures + 1,
			first_failed_at = coalesce(f.first_failed_at, $2),
			last_failed_at = $2,
			pending = greatest(f.pending - 1, 0),
			locked_until = CASE WHEN ($3::float8[])[least(f.failures + 1, cardinality($3::float8[]) - 1) + 1] > 0
				THEN $2 + make_interval(secs => ($3::float8[])[least(f.failures + 1, cardinality($3::float8[]) - 1) + 1])
				ELSE f.locked_until END
		RETURNING failures, locked_until`, key, now, secs)
	if err != nil {
		return 0, nil, mapErr(err)
	}
	if out.LockedUntil != nil && !out.LockedUntil.After(now) {
		out.LockedUntil = nil
	}
	return out.Failures, out.LockedUntil, nil
}

// ReleaseLoginSuccess ends a reservation whose password was right: the name's failures
// are forgotten (the row goes when nothing else is in flight).
func ReleaseLoginSuccess(ctx context.Context, q Queryer, key string) error {
	_, err := q.ExecContext(ctx, `WITH gone AS (
			DELETE FROM login_failures WHERE username_key = $1 AND pending <= 1 RETURNING 1)
		UPDATE login_failures SET failures = 0, first_failed_at = NULL, last_failed_at = NULL,
			locked_until = NULL, pending = greatest(pending - 1, 0)
		WHERE username_key = $1 AND NOT EXISTS (SELECT 1 FROM gone)`, key)
	return mapErr(err)
}

// ReleaseLoginAttempt ends a reservation whose password was not judged (the request
// ended, the database failed): nothing is counted.
func ReleaseLoginAttempt(ctx context.Context, q Queryer, key string) error {
	_, err := q.ExecContext(ctx, `UPDATE login_failures SET pending = greatest(pending - 1, 0)
		WHERE username_key = $1`, key)
	return mapErr(err)
}

// ClearLoginFailures forgets a name's failures and lock (a password change, an unlock).
// Verifications in flight keep their reservations (the row stays only for them).
func ClearLoginFailures(ctx context.Context, q Queryer, key string) error {
	_, err := q.ExecContext(ctx, `WITH gone AS (
			DELETE FROM login_failures WHERE username_key = $1 AND pending = 0 RETURNING 1)
		UPDATE login_failures SET failures = 0, first_failed_at = NULL, last_failed_at = NULL, locked_until = NULL
		WHERE username_key = $1 AND NOT EXISTS (SELECT 1 FROM gone)`, key)
	return mapErr(err)
}

// PruneLoginFailures drops counters of unlocked names idle since before.
func PruneLoginFailures(ctx context.Context, q Queryer, before, now time.Time) (int64, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM login_failures
		WHERE coalesce(last_failed_at, pending_until, '-infinity') < $1
		  AND (locked_until IS NULL OR locked_until < $2)
		  AND (pending = 0 OR pending_until < $2)`, before, now)
	if err != nil {
		return 0, mapErr(err)
	}
	return res.RowsAffected()
}
