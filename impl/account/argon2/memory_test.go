package argon2

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"testing"

	upstream "golang.org/x/crypto/argon2"
)

// One Memory used for hashes of growing and shrinking costs gives exactly upstream's
// answers.
func TestMemoryMatchesUpstream(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var m Memory
	for i := range 60 {
		password := make([]byte, r.IntN(40))
		salt := make([]byte, 8+r.IntN(24))
		for _, b := range [][]byte{password, salt} {
			for j := range b {
				b[j] = byte(r.Uint32())
			}
		}
		time, memory, threads, keyLen := 1+r.Uint32N(3), 8+r.Uint32N(2048), uint8(1+r.IntN(4)), 4+r.Uint32N(60)
		got := m.IDKey(password, salt, time, memory, threads, keyLen)
		want := upstream.IDKey(password, salt, time, memory, threads, keyLen)
		if !bytes.Equal(got, want) {
			t.Fatalf("hash %d (t=%d m=%d p=%d len=%d): got %x, upstream %x", i, time, memory, threads, keyLen, got, want)
		}
	}
}

// A reused Memory allocates nothing of the memory cost after its first hash.
func TestMemoryIsReused(t *testing.T) {
	var m Memory
	const cost = 8 << 10 // KiB
	hash := func() { m.IDKey([]byte("pw"), []byte("saltsaltsalt"), 1, cost, 1, 32) }
	hash()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 4 {
		hash()
	}
	runtime.ReadMemStats(&after)
	// the key, a blake2b state, goroutine bookkeeping: kilobytes, never the 8 MiB
	if n := after.TotalAlloc - before.TotalAlloc; n > cost<<10/8 {
		t.Fatalf("4 hashes in reused memory allocated %d bytes", n)
	}
	if len(m.blocks) != cost {
		t.Fatalf("memory holds %d blocks, want %d", len(m.blocks), cost)
	}
}

func BenchmarkIDKey(b *testing.B) {
	pw, salt := []byte("password"), []byte("choosing random salts is hard")
	b.Run("new memory", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			upstream.IDKey(pw, salt, 2, 19*1024, 1, 32)
		}
	})
	b.Run("reused memory", func(b *testing.B) {
		var m Memory
		b.ReportAllocs()
		for b.Loop() {
			m.IDKey(pw, salt, 2, 19*1024, 1, 32)
		}
	})
}
