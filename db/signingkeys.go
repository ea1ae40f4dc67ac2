package db

import (
	"context"
	"time"
)

// SigningKey is a JWT signing key pair.
type SigningKey struct {
	Kid        string     `db:"kid"`
	Algorithm  string     `db:"algorithm"`
	PrivateKey []byte     `db:"private_key"`
	PublicKey  []byte     `db:"public_key"`
	CreatedAt  time.Time  `db:"created_at"`
	RetiredAt  *time.Time `db:"retired_at"`
}

// SigningKeys lists keys that still verify: active ones and those retired after retiredAfter.
func SigningKeys(ctx context.Context, q Queryer, retiredAfter time.Time) ([]SigningKey, error) {
	var ks []SigningKey
	err := q.SelectContext(ctx, &ks, `SELECT kid, algorithm, private_key, public_key, created_at, retired_at
		FROM signing_keys WHERE retired_at IS NULL OR retired_at > $1 ORDER BY created_at DESC, kid`, retiredAfter)
	return ks, mapErr(err)
}

// ActiveSigningKeys counts the keys that are not retired.
func ActiveSigningKeys(ctx context.Context, q Queryer) (int, error) {
	var n int
	err := q.GetContext(ctx, &n, `SELECT count(*) FROM signing_keys WHERE retired_at IS NULL`)
	return n, mapErr(err)
}

// RotateSigningKey retires every active key at now and adds k as the one that signs.
// Keys retired before pruneBefore are deleted: no token they signed can still be valid.
func RotateSigningKey(ctx context.Context, q Queryer, k *SigningKey, now, pruneBefore time.Time) error {
	if _, err := q.ExecContext(ctx, `UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL`, now); err != nil {
		return mapErr(err)
	}
	if _, err := q.ExecContext(ctx, `DELETE FROM signing_keys WHERE retired_at < $1`, pruneBefore); err != nil {
		return mapErr(err)
	}
	_, err := q.ExecContext(ctx, `INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at)
		VALUES ($1,$2,$3,$4,$5)`, k.Kid, k.Algorithm, k.PrivateKey, k.PublicKey, k.CreatedAt)
	return mapErr(err)
}
