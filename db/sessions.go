package db

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// Session is a row of sessions; the cookie value itself is never stored.
type Session struct {
	IDHash     []byte    `db:"id_hash"`
	UserID     uuid.UUID `db:"user_id"`
	CreatedAt  time.Time `db:"created_at"`
	LastSeenAt time.Time `db:"last_seen_at"`
}

// InsertSession stores a new session.
func InsertSession(ctx context.Context, q Queryer, s *Session) error {
	_, err := q.ExecContext(ctx, `INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at) VALUES ($1,$2,$3,$4)`,
		s.IDHash, s.UserID, s.CreatedAt, s.LastSeenAt)
	return mapErr(err)
}

var selectSessionUser = strings.Replace(selectUser, "SELECT ",
	"SELECT s.created_at AS session_created_at, s.last_seen_at AS session_last_seen_at, ", 1) +
	` JOIN sessions s ON s.user_id = u.id WHERE s.id_hash = $1`

// SessionWithUser loads a session and its user in one trip.
func SessionWithUser(ctx context.Context, q Queryer, idHash []byte) (*Session, *User, error) {
	var r struct {
		User
		SessionCreatedAt time.Time `db:"session_created_at"`
		SessionLastSeen  time.Time `db:"session_last_seen_at"`
	}
	if err := get(ctx, q, &r, selectSessionUser, idHash); err != nil {
		return nil, nil, err
	}
	return &Session{IDHash: idHash, UserID: r.ID, CreatedAt: r.SessionCreatedAt, LastSeenAt: r.SessionLastSeen}, &r.User, nil
}

// TouchSessions records the last use of each session (by id hash), in one statement
// (never moving a last use back).
func TouchSessions(ctx context.Context, q Queryer, at map[string]time.Time) error {
	if len(at) == 0 {
		return nil
	}
	hashes, times := make([][]byte, 0, len(at)), make([]string, 0, len(at))
	for h, t := range at {
		hashes, times = append(hashes, []byte(h)), append(times, t.UTC().Format(time.RFC3339Nano))
	}
	_, err := q.ExecContext(ctx, `UPDATE sessions s SET last_seen_at = u.at
		FROM unnest($1::bytea[], $2::timestamptz[]) AS u(id_hash, at)
		WHERE s.id_hash = u.id_hash AND s.last_seen_at < u.at`, pq.ByteaArray(hashes), pq.Array(times))
	return mapErr(err)
}

// DeleteSession ends one session.
func DeleteSession(ctx context.Context, q Queryer, idHash []byte) error {
	_, err := q.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = $1`, idHash)
	return mapErr(err)
}

// EndSession deletes one session and returns its user's id and login name; ErrNotFound
// when there is no such session.
func EndSession(ctx context.Context, q Queryer, idHash []byte) (uuid.UUID, string, error) {
	var r struct {
		ID  uuid.UUID `db:"id"`
		Key string    `db:"username_key"`
	}
	err := q.GetContext(ctx, &r, `DELETE FROM sessions s USING users u
		WHERE s.id_hash = $1 AND u.id = s.user_id RETURNING u.id, u.username_key`, idHash)
	return r.ID, r.Key, mapErr(err)
}

// PruneSessions deletes sessions idle since before idleBefore or created before createdBefore.
func PruneSessions(ctx context.Context, q Queryer, idleBefore, createdBefore time.Time) (int64, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2`, idleBefore, createdBefore)
	if err != nil {
		return 0, mapErr(err)
	}
	return res.RowsAffected()
}
