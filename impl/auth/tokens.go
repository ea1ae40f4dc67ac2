package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
)

// Leeway is the clock skew tolerated on exp, nbf and iat.
const Leeway = 30 * time.Second

const algorithm = "EdDSA"

// Claims are the JWT's claims. Ver is the user's credential version when the token was
// issued: a password change or disable bumps it, and older tokens stop verifying.
type Claims struct {
	jwt.RegisteredClaims
	Ver int64 `json:"ver"`
}

// Tokens issues and verifies access tokens with Ed25519 keys kept in PostgreSQL, so every
// instance signs and verifies with the same keys.
type Tokens struct {
	DB       *db.DB
	Issuer   string
	Audience string
	TTL      time.Duration
	Now      func() time.Time

	reloading  sync.Mutex // held through a whole Reload
	mu         sync.RWMutex
	verify     map[string]ed25519.PublicKey
	signKid    string
	signKey    ed25519.PrivateKey
	jwks       []byte
	lastReload time.Time
}

// Init makes the first signing key if there is none, then loads the keys.
func (t *Tokens) Init(ctx context.Context) error {
	err := t.DB.WithAdvisoryLock(ctx, db.LockSigningKeys, func(tx db.Queryer) error {
		n, err := db.ActiveSigningKeys(ctx, tx)
		if err != nil || n > 0 {
			return err
		}
		return rotate(ctx, tx, t.Now(), t.TTL)
	})
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	return t.Reload(ctx)
}

// Rotate adds a new signing key; older keys keep verifying until their tokens expire.
func Rotate(ctx context.Context, d *db.DB, now time.Time, ttl time.Duration) error {
	return d.WithAdvisoryLock(ctx, db.LockSigningKeys, func(tx db.Queryer) error {
		if err := rotate(ctx, tx, now, ttl); err != nil {
			return err
		}
		return db.Notify(ctx, tx, db.Event{Kind: db.EventSigningKeys})
	})
}

func rotate(ctx context.Context, q db.Queryer, now time.Time, ttl time.Duration) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	k := &db.SigningKey{Kid: thumbprint(pub), Algorithm: algorithm, PrivateKey: priv.Seed(),
		PublicKey: pub, CreatedAt: now}
	// a key retired longer ago than a token lives (plus a day of margin) verifies nothing
	return db.RotateSigningKey(ctx, q, k, now, now.Add(-ttl-Leeway-24*time.Hour))
}

// thumbprint is the key's RFC 7638 JWK thumbprint, used as its kid.
func thumbprint(pub ed25519.PublicKey) string {
	j := fmt.Sprintf(`{"crv":"Ed25519","kty":"OKP","x":"%s"}`, base64.RawURLEncoding.EncodeToString(pub))
	sum := sha256.Sum256([]byte(j))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Reload reads the keys from the database. Reloads run one at a time (one after a
// NOTIFY can race one asked for directly): otherwise a reload that read the keys first
// could store its older view last.
func (t *Tokens) Reload(ctx context.Context) error {
	t.reloading.Lock()
	defer t.reloading.Unlock()
	now := t.Now()
	ks, err := db.SigningKeys(ctx, t.DB, now.Add(-t.TTL-Leeway))
	if err != nil {
		return err
	}
	verify := map[string]ed25519.PublicKey{}
	type jwk struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Kid string `json:"kid"`
		Alg string `json:"alg"`
		Use string `json:"use"`
	}
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	var signKid string
	var signKey ed25519.PrivateKey
	for _, k := range ks {
		if k.Algorithm != algorithm || len(k.PublicKey) != ed25519.PublicKeySize {
			continue
		}
		verify[k.Kid] = ed25519.PublicKey(k.PublicKey)
		set.Keys = append(set.Keys, jwk{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.PublicKey),
			Kid: k.Kid, Alg: algorithm, Use: "sig"})
		if k.RetiredAt == nil && signKey == nil && len(k.PrivateKey) == ed25519.SeedSize {
			signKid, signKey = k.Kid, ed25519.NewKeyFromSeed(k.PrivateKey)
		}
	}
	if signKey == nil {
		return errors.New("no active signing key: run `kala keys rotate`")
	}
	b, _ := json.Marshal(set)
	t.mu.Lock()
	t.verify, t.signKid, t.signKey, t.jwks, t.lastReload = verify, signKid, signKey, b, now
	t.mu.Unlock()
	return nil
}

// JWKS is the public key set, as served at /.well-known/jwks.json.
func (t *Tokens) JWKS() []byte {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.jwks
}

// Issue signs a token for user.
func (t *Tokens) Issue(userID uuid.UUID, credentialVersion int64) (string, time.Duration, error) {
	now := t.Now()
	t.mu.RLock()
	kid, key := t.signKid, t.signKey
	t.mu.RUnlock()
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: t.Issuer, Audience: jwt.ClaimStrings{t.Audience}, Subject: userID.String(),
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.TTL)), ID: uuid.Must(uuid.NewV7()).String(),
		},
		Ver: credentialVersion,
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = kid
	tok.Header["typ"] = tokenType
	s, err := tok.SignedString(key)
	return s, t.TTL, err
}

// tokenType is the typ header of every token this server issues, and the only one it accepts.
const tokenType = "JWT"

var (
	errUnknownKid = errors.New("unknown key id")
	errType       = errors.New(`token type is not "JWT"`)
)

// Verify checks a token's signature and claims and returns them. Exactly EdDSA with a
// known kid and the typ this server issues ("JWT") is accepted; exp is required; iss and
// aud must be this server's.
func (t *Tokens) Verify(ctx context.Context, raw string) (*Claims, error) {
	parse := func() (*Claims, error) {
		var c Claims
		_, err := jwt.ParseWithClaims(raw, &c, t.keyFunc,
			jwt.WithValidMethods([]string{algorithm}), jwt.WithExpirationRequired(),
			jwt.WithIssuer(t.Issuer), jwt.WithAudience(t.Audience), jwt.WithLeeway(Leeway),
			jwt.WithIssuedAt(), jwt.WithTimeFunc(t.Now))
		return &c, err
	}
	c, err := parse()
	if errors.Is(err, errUnknownKid) && t.mayReload() {
		// another instance may have rotated a moment ago
		if rerr := t.Reload(ctx); rerr == nil {
			c, err = parse()
		}
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// mayReload limits reloads caused by unknown kids to one every few seconds, so forged
// kids cannot turn into a database load.
func (t *Tokens) mayReload() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.Now().Sub(t.lastReload) > 5*time.Second
}

func (t *Tokens) keyFunc(tok *jwt.Token) (any, error) {
	// a token of another type signed by the same key (say a future at+jwt) is not an access token
	if typ, _ := tok.Header["typ"].(string); typ != tokenType {
		return nil, errType
	}
	kid, _ := tok.Header["kid"].(string)
	t.mu.RLock()
	k, ok := t.verify[kid]
	t.mu.RUnlock()
	if !ok {
		return nil, errUnknownKid
	}
	return k, nil
}
