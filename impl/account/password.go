package account

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/kala-server/kala/impl/account/argon2"
	"github.com/kala-server/kala/impl/priority"
)

// HashParams are argon2id's costs. The defaults follow OWASP's recommendation
// (19 MiB, 2 passes, 1 lane).
type HashParams struct {
	MemoryKiB uint32
	Passes    uint32
	Lanes     uint8
}

// DefaultHashParams is what new hashes use.
var DefaultHashParams = HashParams{MemoryKiB: 19 * 1024, Passes: 2, Lanes: 1}

// Hasher hashes and verifies passwords with argon2id. At most `concurrency` hashes run
// at once, so a login flood queues instead of exhausting memory. Each slot keeps its
// hash's working memory (MemoryKiB, 19 MiB by default) from one hash to the next: the
// server holds concurrency × MemoryKiB once it has hashed, and a login neither makes
// 19 MiB of garbage nor faults fresh pages in, which under load made single logins
// several times slower (package argon2).
type Hasher struct {
	params HashParams
	slots  chan *argon2.Memory
	dummy  string // a hash of nothing anyone knows, verified for unknown users

	verifications atomic.Int64

	// Gate, when set, lets hashes go before bulk work.
	Gate *priority.Gate
}

// Verifications is how many passwords were verified (dummy ones included) since start.
func (h *Hasher) Verifications() int64 { return h.verifications.Load() }

// NewHasher makes a hasher allowing `concurrency` hashes at once.
func NewHasher(p HashParams, concurrency int) *Hasher {
	if concurrency < 1 {
		concurrency = 1
	}
	h := &Hasher{params: p, slots: make(chan *argon2.Memory, concurrency)}
	for range concurrency {
		h.slots <- new(argon2.Memory)
	}
	var secret [32]byte
	_, _ = rand.Read(secret[:])
	h.dummy, _ = h.Hash(context.Background(), base64.RawStdEncoding.EncodeToString(secret[:]))
	return h
}

// acquire waits for a slot and returns its memory; release gives it back.
func (h *Hasher) acquire(ctx context.Context) (*argon2.Memory, error) {
	select {
	case m := <-h.slots:
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (h *Hasher) release(m *argon2.Memory) { h.slots <- m }

// run runs a hash as urgent work: while it runs, query answers take turns (package
// priority). x/crypto/argon2 computes on goroutines of its own, which Go schedules like
// any other; without the gate a hash would be one among dozens of runnable goroutines
// streaming answers, and a login would wait many times as long as on an idle server.
func (h *Hasher) run(hash func()) {
	defer h.Gate.Urgent()()
	hash()
}

const keyLen = 32

// Hash returns the PHC string of password.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	var salt [16]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return "", err
	}
	m, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	var sum []byte
	h.run(func() {
		sum = m.IDKey([]byte(password), salt[:], h.params.Passes, h.params.MemoryKiB, h.params.Lanes, keyLen)
	})
	h.release(m)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		h.params.MemoryKiB, h.params.Passes, h.params.Lanes, b64.EncodeToString(salt[:]), b64.EncodeToString(sum)), nil
}

var errBadHash = errors.New("malformed password hash")

// Verify reports whether password matches encoded, comparing in constant time.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (bool, error) {
	p, salt, want, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	m, err := h.acquire(ctx)
	if err != nil {
		return false, err
	}
	// a stored hash costing more memory than new ones (made before the cost was lowered)
	// is computed in memory of its own, so a slot keeps no more than the configured cost
	in := m
	if p.MemoryKiB > h.params.MemoryKiB {
		in = nil
	}
	var got []byte
	h.run(func() { got = in.IDKey([]byte(password), salt, p.Passes, p.MemoryKiB, p.Lanes, uint32(len(want))) })
	h.release(m)
	h.verifications.Add(1)
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// VerifyDummy spends the same time as Verify on a real hash, for names with no user, so
// that timing does not tell which usernames exist.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) {
	_, _ = h.Verify(ctx, h.dummy, password)
}

func decodeHash(s string) (HashParams, []byte, []byte, error) {
	var p HashParams
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Passes, &p.Lanes); err != nil {
		return p, nil, nil, errBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	sum, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	// bounds: a tampered row must not make one login take all memory or time
	if err1 != nil || err2 != nil || len(sum) < 16 || len(sum) > 64 || len(salt) < 8 || p.Lanes == 0 || p.Lanes > 16 ||
		p.Passes == 0 || p.Passes > 16 || p.MemoryKiB < 8*uint32(p.Lanes) || p.MemoryKiB > 1<<20 {
		return p, nil, nil, errBadHash
	}
	return p, salt, sum, nil
}
