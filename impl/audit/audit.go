// Package audit records security events (SPEC §3 "Audit") in PostgreSQL: who did what
// to whom, with what outcome, from which client address in which request. It knows no
// HTTP: the request's id and client address reach it through the context.
//
// An event that records a change is written in the change's transaction, so a change
// rolled back leaves no event; a refusal or failure is written on its own.
// Nothing secret goes into an event: no password, key, token or cookie value.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/errs"
)

// Name is the kind of an event. openapi.yaml lists the same set (AuditEventName).
type Name string

const (
	LoginSuccess      Name = "login.success"      // a password was accepted (actor_name: the login name)
	LoginFailure      Name = "login.failure"      // a password was refused
	LoginLocked       Name = "login.locked"       // failures locked a login name
	SessionLogin      Name = "session.login"      // a Kylin cookie session started
	SessionLogout     Name = "session.logout"     // a Kylin cookie session ended by logout
	APIKeyCreate      Name = "api_key.create"     // target: the key id
	APIKeyRevoke      Name = "api_key.revoke"     // target: the key id
	PasswordChange    Name = "password.change"    // users changing their own password
	PasswordReset     Name = "password.reset"     // someone else setting a user's password
	UserCreate        Name = "user.create"        // target: the user id
	UserUpdate        Name = "user.update"        // target: the user id; detail: the fields set
	UserDelete        Name = "user.delete"        // target: the user id
	AccessGrant       Name = "access.grant"       // target: the project id; detail: user and level
	AccessChange      Name = "access.change"      // target: the project id; detail: user and level
	AccessRevoke      Name = "access.revoke"      // target: the project id; detail: user
	PermissionRefused Name = "permission.refused" // a 403 to an authenticated caller; detail: the operation
	GroupCreate       Name = "group.create"       // target: the group id
	GroupDelete       Name = "group.delete"       // target: the group id; its memberships and access entries went with it
	GroupMembers      Name = "group.members"      // target: the group id; detail: who joined and who left
)

// Names is every event name, in the order openapi.yaml lists them.
var Names = []Name{LoginSuccess, LoginFailure, LoginLocked, SessionLogin, SessionLogout,
	APIKeyCreate, APIKeyRevoke, PasswordChange, PasswordReset, UserCreate, UserUpdate, UserDelete,
	AccessGrant, AccessChange, AccessRevoke, PermissionRefused, GroupCreate, GroupDelete, GroupMembers}

// Outcome is whether the attempt succeeded.
type Outcome string

const (
	Success Outcome = "success"
	Failure Outcome = "failure"
)

// Actor is who acted, as events name them. The zero Actor is nobody (the command line).
type Actor struct {
	ID   string // the principal: a user id, or key:<key id> for an API key
	Name string // the normalised login name of the user (the key's owner)
}

// Event is one security event to record.
type Event struct {
	At      time.Time // when; the caller's clock, so tests can move it
	Name    Name
	Outcome Outcome // Success when empty
	Actor   Actor
	Target  string         // what was acted on, if anything: a user, key or project id
	Detail  map[string]any // small and never secret; nil is {}
}

// Request is what the audit log keeps of the HTTP request an event happened in.
type Request struct {
	ID         string
	ClientAddr string
}

type requestKey struct{}

// WithRequest puts the request's id and client address in ctx for the events recorded
// while serving it.
func WithRequest(ctx context.Context, requestID, clientAddr string) context.Context {
	return context.WithValue(ctx, requestKey{}, Request{ID: requestID, ClientAddr: clientAddr})
}

// RequestFrom returns the request ctx serves, and false outside a request (the command line).
func RequestFrom(ctx context.Context) (Request, bool) {
	r, ok := ctx.Value(requestKey{}).(Request)
	return r, ok
}

// Record stores ev with the request ctx carries. With a transaction as q, the event is
// part of the change it records.
func Record(ctx context.Context, q db.Queryer, ev Event) error {
	row, err := ev.row(ctx)
	if err != nil {
		return err
	}
	if err := db.InsertAuditEvent(ctx, q, row); err != nil {
		return fmt.Errorf("record %s: %w", ev.Name, err)
	}
	return nil
}

func (ev Event) row(ctx context.Context) (*db.AuditEvent, error) {
	detail := []byte(`{}`)
	if len(ev.Detail) > 0 {
		var err error
		if detail, err = json.Marshal(ev.Detail); err != nil {
			return nil, fmt.Errorf("audit detail of %s: %w", ev.Name, err)
		}
	}
	if ev.Outcome == "" {
		ev.Outcome = Success
	}
	at := ev.At
	if at.IsZero() {
		at = time.Now()
	}
	row := &db.AuditEvent{ID: uuid.Must(uuid.NewV7()), At: at, Event: string(ev.Name), Outcome: string(ev.Outcome),
		Actor: null(ev.Actor.ID), ActorName: null(ev.Actor.Name), Target: null(ev.Target), Detail: detail}
	if r, ok := RequestFrom(ctx); ok {
		row.RequestID, row.ClientAddr = null(r.ID), null(r.ClientAddr)
	}
	return row, nil
}

// null is s, or SQL NULL for "".
func null(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Log reads the recorded events and forgets old ones.
type Log struct {
	DB        *db.DB
	Now       func() time.Time
	Retention time.Duration // events older than this are pruned
}

// Filter narrows a listing; zero fields do not filter. Actor is a principal id or a
// normalised login name.
type Filter = db.AuditFilter

// List returns a page of the events that pass f, newest first, and how many pass.
func (l *Log) List(ctx context.Context, f Filter, offset, limit int) ([]db.AuditEvent, int, error) {
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return nil, 0, errs.Field("to", "must be after from")
	}
	evs, total, err := db.ListAuditEvents(ctx, l.DB, f, offset, limit)
	return evs, total, errs.Wrap(err, "list audit events")
}

// Prune deletes the events older than the retention and returns how many went.
func (l *Log) Prune(ctx context.Context) (int64, error) {
	return db.PruneAuditEvents(ctx, l.DB, l.Now().Add(-l.Retention))
}
