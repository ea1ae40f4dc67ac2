package db

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// AuditEvent is a row of audit_events. Nil pointers are SQL NULLs.
type AuditEvent struct {
	ID         uuid.UUID       `db:"id"`
	At         time.Time       `db:"at"`
	Event      string          `db:"event"`
	Outcome    string          `db:"outcome"`
	Actor      *string         `db:"actor"`
	ActorName  *string         `db:"actor_name"`
	Target     *string         `db:"target"`
	ClientAddr *string         `db:"client_addr"`
	RequestID  *string         `db:"request_id"`
	Detail     json.RawMessage `db:"detail"`
}

const auditColumns = `id, at, event, outcome, actor, actor_name, target, client_addr, request_id, detail`

// InsertAuditEvent stores one event; with a transaction as q, it stands or falls with the
// change it records.
func InsertAuditEvent(ctx context.Context, q Queryer, ev *AuditEvent) error {
	detail := ev.Detail
	if len(detail) == 0 {
		detail = json.RawMessage(`{}`)
	}
	_, err := q.ExecContext(ctx, `INSERT INTO audit_events (`+auditColumns+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
		ev.ID, ev.At, ev.Event, ev.Outcome, ev.Actor, ev.ActorName, ev.Target, ev.ClientAddr, ev.RequestID, []byte(detail))
	return mapErr(err)
}

// AuditFilter narrows a listing; zero fields do not filter.
type AuditFilter struct {
	From, To time.Time // From inclusive, To exclusive
	// Actor matches the principal id or the normalised login name.
	Actor string
	Event string
}

// ListAuditEvents returns a page of the events that pass f, newest first, and how many pass.
func ListAuditEvents(ctx context.Context, q Queryer, f AuditFilter, offset, limit int) ([]AuditEvent, int, error) {
	var from, to *time.Time
	if !f.From.IsZero() {
		from = &f.From
	}
	if !f.To.IsZero() {
		to = &f.To
	}
	// $n IS NULL / = '' keeps one statement for every combination of filters
	where := ` WHERE ($1::timestamptz IS NULL OR at >= $1) AND ($2::timestamptz IS NULL OR at < $2)
		AND ($3 = '' OR actor = $3 OR actor_name = $3) AND ($4 = '' OR event = $4)`
	args := []any{from, to, f.Actor, f.Event}
	var evs []AuditEvent
	if err := q.SelectContext(ctx, &evs, `SELECT `+auditColumns+` FROM audit_events`+where+
		` ORDER BY at DESC, id DESC OFFSET $5 LIMIT $6`, append(args, offset, limit)...); err != nil {
		return nil, 0, mapErr(err)
	}
	var total int
	err := q.GetContext(ctx, &total, `SELECT count(*) FROM audit_events`+where, args...)
	return evs, total, mapErr(err)
}

// PruneAuditEvents deletes the events from before cutoff.
func PruneAuditEvents(ctx context.Context, q Queryer, cutoff time.Time) (int64, error) {
	res, err := q.ExecContext(ctx, `DELETE FROM audit_events WHERE at < $1`, cutoff)
	if err != nil {
		return 0, mapErr(err)
	}
	return res.RowsAffected()
}
