package db

import (
	"context"
	"time"
)

// HitRate counts one hit of bucket in the window starting at window, and returns the
// window's count after it and the previous window's count (for a sliding estimate).
func HitRate(ctx context.Context, q Queryer, bucket string, window, previous time.Time) (cur, prev int, err error) {
	var out struct {
		Cur  int `db:"cur"`
		Prev int `db:"prev"`
	}
	err = q.GetContext(ctx, &out, `WITH up AS (
			INSERT INTO rate_counters AS c (bucket, window_start, hits) VALUES ($1, $2, 1)
			ON CONFLICT (bucket, window_start) DO UPDATE SET hits = c.hits + 1
			RETURNING hits)
		SELECT up.hits AS cur, coalesce((SELECT hits FROM rate_counters
			WHERE bucket = $1 AND window_start = $3), 0) AS prev FROM up`, bucket, window, previous)
	return out.Cur, out.Prev, mapErr(err)
}

// RateOf reads bucket's counts in the window starting at window and the previous one.
func RateOf(ctx context.Context, q Queryer, bucket string, window, previous time.Time) (cur, prev int, err error) {
	var out struct {
		Cur  int `db:"cur"`
		Prev int `db:"prev"`
	}
	err = q.GetContext(ctx, &out, `SELECT
		coalesce(sum(hits) FILTER (WHERE window_start = $2), 0) AS cur,
		coalesce(sum(hits) FILTER (WHERE window_start = $3), 0) AS prev
		FROM rate_counters WHERE bucket = $1 AND window_start IN ($2, $3)`, bucket, window, previous)
	return out.Cur, out.Prev, mapErr(err)
}

// PruneRates drops counters of windows that started before before.
func PruneRates(ctx context.Context, q Queryer, before time.Time) (int64, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM rate_counters WHERE window_start < $1`, before)
	if err != nil {
		return 0, mapErr(err)
	}
	return res.RowsAffected()
}
