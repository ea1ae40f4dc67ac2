package db

import (
	"context"
	"time"
)

// LoginFailures is the failure counter of one login name.
type LoginFailures struct {
	UsernameKey   string     `db:"username_key"`
	Failures      int        `db:"failures"`
	FirstFailedAt time.Time  `db:"first_failed_at"`
	LastFailedAt  time.Time  `db:"last_failed_at"`
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

// RecordLoginFailure counts one failure at now, unless the name is locked at now (a locked
// name's counter does not grow), and returns the new count (0 when nothing was counted).
// lockFor gives the lock that count earns; the lock is set only if no later failure has
// been counted meanwhile, so concurrent failures cannot shorten a lock.
func RecordLoginFailure(ctx context.Context, q Queryer, key string, now time.Time, lockFor func(failures int) time.Duration) (int, error) {
	var n int
	err := q.GetContext(ctx, &n, `INSERT INTO login_failures AS f (username_key, failures, first_failed_at, last_failed_at)
		VALUES ($1, 1, $2, $2)
		ON CONFLICT (username_key) DO UPDATE
			SET failures = f.failures + 1, last_failed_at = $2
			WHERE f.locked_until IS NULL OR f.locked_until <= $2
		RETURNING failures`, key, now)
	if err != nil {
		err = mapErr(err)
		if err == ErrNotFound { // locked: the conflict update did not apply
			return 0, nil
		}
		return 0, err
	}
	if d := lockFor(n); d > 0 {
		_, err = q.ExecContext(ctx, `UPDATE login_failures SET locked_until = $3
			WHERE username_key = $1 AND failures = $2`, key, n, now.Add(d))
	}
	return n, mapErr(err)
}

// ClearLoginFailures forgets a name's failures (after a success, a password change, an unlock).
func ClearLoginFailures(ctx context.Context, q Queryer, key string) error {
	_, err := q.ExecContext(ctx, `DELETE FROM login_failures WHERE username_key = $1`, key)
	return mapErr(err)
}

// PruneLoginFailures drops counters of unlocked names idle since before.
func PruneLoginFailures(ctx context.Context, q Queryer, before, now time.Time) (int64, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM login_failures
		WHERE last_failed_at < $1 AND (locked_until IS NULL OR locked_until < $2)`, before, now)
	if err != nil {
		return 0, mapErr(err)
	}
	return res.RowsAffected()
}
