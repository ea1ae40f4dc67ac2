package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/audit"
	"github.com/kala-server/kala/impl/contract"
	"github.com/kala-server/kala/impl/errs"
)

// APIKeys manages a user's API keys.
type APIKeys struct {
	Contract *contract.Contract
	DB       *db.DB
	Now      func() time.Time
	MaxDays  int
	// Revoked is called inside a revocation's transaction, so every instance forgets the key.
	Revoked func(ctx context.Context, q db.Queryer, id uuid.UUID) error
}

// NewKey is what a user asks of a new key. Nil Services means every service.
type NewKey struct {
	Name        string
	ValidFrom   *time.Time
	ValidTo     time.Time
	Permissions []string
	Services    []string
}

// Create makes a key for p (a user, never a key) and returns the key, shown this once.
func (k *APIKeys) Create(ctx context.Context, p *Principal, in NewKey) (string, *db.APIKey, error) {
	if p.Kind != KindUser {
		return "", nil, errs.E(errs.Forbidden, "an API key cannot create API keys")
	}
	now := k.Now()
	from := now
	if in.ValidFrom != nil {
		from = *in.ValidFrom
	}
	switch {
	case !in.ValidTo.After(now):
		return "", nil, errs.Field("validTo", "must be in the future")
	case !in.ValidTo.After(from):
		return "", nil, errs.Field("validTo", "must be after validFrom")
	case in.ValidTo.After(now.AddDate(0, 0, k.MaxDays)):
		return "", nil, errs.Field("validTo", fmt.Sprintf("must be at most %d days from now", k.MaxDays))
	case len(in.Name) > 200:
		return "", nil, errs.Field("name", "must be at most 200 characters")
	}
	perms, err := k.checkIDs("permissions", in.Permissions, func(id string) bool { return k.Contract.Permission(id) != nil })
	if err != nil {
		return "", nil, err
	}
	for i, perm := range perms {
		if !p.Has(perm) {
			return "", nil, errs.E(errs.Forbidden, "permissions[%d]: you do not hold the %s permission", i, k.Contract.Permission(perm).Name)
		}
	}
	var services []string
	if in.Services != nil {
		if services, err = k.checkIDs("services", in.Services, func(id string) bool { return k.Contract.Service(id) != nil }); err != nil {
			return "", nil, err
		}
	}
	key, lookup, hash := NewAPIKey()
	row := &db.APIKey{ID: uuid.Must(uuid.NewV7()), UserID: p.User.ID, Lookup: lookup, SecretHash: hash,
		Name: in.Name, Permissions: perms, Services: services, ValidFrom: from, ValidTo: in.ValidTo, CreatedAt: now}
	if services == nil {
		row.Services = nil
	}
	detail := map[string]any{"name": row.Name, "permissions": perms, "validFrom": from, "validTo": in.ValidTo}
	if services != nil {
		detail["services"] = services
	}
	err = k.DB.Tx(ctx, func(tx db.Queryer) error {
		if err := db.InsertAPIKey(ctx, tx, row); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{At: now, Name: audit.APIKeyCreate, Actor: p.AuditActor(),
			Target: row.ID.String(), Detail: detail})
	})
	if err != nil {
		return "", nil, errs.Wrap(err, "store API key")
	}
	return key, row, nil
}

// checkIDs refuses unknown and repeated ids, naming the offending element.
func (k *APIKeys) checkIDs(field string, ids []string, known func(string) bool) ([]string, error) {
	out := make([]string, 0, len(ids))
	for i, id := range ids {
		switch {
		case !known(id):
			return nil, errs.Field(fmt.Sprintf("%s[%d]", field, i), "unknown id "+id)
		case slices.Contains(out, id):
			return nil, errs.Field(fmt.Sprintf("%s[%d]", field, i), "repeated id "+id)
		}
		out = append(out, id)
	}
	return out, nil
}

// List returns a page of p's own keys and their count.
func (k *APIKeys) List(ctx context.Context, p *Principal, offset, limit int) ([]db.APIKey, int, error) {
	ks, total, err := db.APIKeysOf(ctx, k.DB, p.User.ID, offset, limit)
	return ks, total, errs.Wrap(err, "list API keys")
}

// Revoke deletes one of p's keys. Keys are read from the database on every request, so
// the revocation holds on every instance from the next request on.
func (k *APIKeys) Revoke(ctx context.Context, p *Principal, id uuid.UUID) error {
	err := k.DB.Tx(ctx, func(tx db.Queryer) error {
		if err := db.DeleteAPIKey(ctx, tx, p.User.ID, id); err != nil {
			return err
		}
		if k.Revoked != nil {
			if err := k.Revoked(ctx, tx, id); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, audit.Event{At: k.Now(), Name: audit.APIKeyRevoke, Actor: p.AuditActor(),
			Target: id.String()})
	})
	if errors.Is(err, db.ErrNotFound) {
		return errs.E(errs.NotFound, "no such API key")
	}
	return errs.Wrap(err, "revoke API key")
}
