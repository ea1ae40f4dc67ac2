package account

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// cheap keeps argon2id fast in tests; one test uses DefaultHashParams.
var cheap = HashParams{MemoryKiB: 64, Passes: 1, Lanes: 1}

func mustHash(t *testing.T, h *Hasher, pw string) string {
	t.Helper()
	enc, err := h.Hash(context.Background(), pw)
	if err != nil {
		t.Fatalf("Hash(%q): %v", pw, err)
	}
	return enc
}

func verify(t *testing.T, h *Hasher, enc, pw string) bool {
	t.Helper()
	ok, err := h.Verify(context.Background(), enc, pw)
	if err != nil {
		t.Fatalf("Verify(%q, %q): %v", enc, pw, err)
	}
	return ok
}

func TestHashVerify(t *testing.T) {
	h := NewHasher(cheap, 2)
	for _, pw := range []string{"Secret1!", "", "jösé-pässwörd-1!", "with\x00nul", strings.Repeat("x", 1000)} {
		enc := mustHash(t, h, pw)
		if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
			t.Fatalf("Hash(%q) = %q: not an argon2id PHC string with the configured params", pw, enc)
		}
		if strings.Contains(enc, pw) && pw != "" {
			t.Fatalf("Hash(%q) = %q contains the password", pw, enc)
		}
		if !verify(t, h, enc, pw) {
			t.Fatalf("Verify(Hash(%q), %q) = false", pw, pw)
		}
		for _, wrong := range []string{pw + "x", "x" + pw, strings.ToUpper(pw) + "X", " " + pw, pw + " "} {
			if verify(t, h, enc, wrong) {
				t.Fatalf("Verify(Hash(%q), %q) = true", pw, wrong)
			}
		}
	}
}

func TestHashDefaultParams(t *testing.T) {
	h := NewHasher(DefaultHashParams, 1)
	enc := mustHash(t, h, "Secret1!")
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("Hash = %q, want argon2id with m=19456,t=2,p=1 (OWASP)", enc)
	}
	if !verify(t, h, enc, "Secret1!") {
		t.Fatal("Verify(Hash(pw), pw) = false")
	}
	if verify(t, h, enc, "Secret1?") {
		t.Fatal("Verify(Hash(pw), other) = true")
	}
}

func TestHashIsSalted(t *testing.T) {
	h := NewHasher(cheap, 1)
	a, b := mustHash(t, h, "Secret1!"), mustHash(t, h, "Secret1!")
	if a == b {
		t.Fatalf("two hashes of the same password are equal: %q", a)
	}
	sa, sb := strings.Split(a, "$")[4], strings.Split(b, "$")[4]
	if sa == sb {
		t.Fatalf("two hashes share a salt: %q", sa)
	}
	if len(sa) < 22 { // 16 bytes, unpadded base64
		t.Fatalf("salt %q is shorter than 16 bytes", sa)
	}
	if !verify(t, h, a, "Secret1!") || !verify(t, h, b, "Secret1!") {
		t.Fatal("a salted hash does not verify")
	}
}

// Unlike bcrypt (72 bytes), every byte of a password up to the 128-byte limit counts.
func TestHashNoTruncation(t *testing.T) {
	h := NewHasher(cheap, 1)
	pw := []byte(strings.Repeat("Ab1!", 32))
	if len(pw) != 128 {
		t.Fatal("bad test password")
	}
	enc := mustHash(t, h, string(pw))
	if !verify(t, h, enc, string(pw)) {
		t.Fatal("a 128-byte password does not verify")
	}
	for _, i := range []int{0, 71, 72, 73, 100, 127} {
		other := append([]byte(nil), pw...)
		other[i] ^= 1
		if verify(t, h, enc, string(other)) {
			t.Errorf("a password differing only in byte %d verifies", i)
		}
	}
	if verify(t, h, enc, string(pw[:72])) || verify(t, h, enc, string(pw[:127])) {
		t.Error("a prefix of the password verifies")
	}
	if verify(t, h, enc, string(pw)+"x") {
		t.Error("a longer password verifies")
	}
}

// A hash keeps its own parameters: changing the configured costs does not break logins.
func TestVerifyUsesParamsOfTheHash(t *testing.T) {
	old := NewHasher(cheap, 1)
	enc := mustHash(t, old, "Secret1!")
	h := NewHasher(HashParams{MemoryKiB: 128, Passes: 2, Lanes: 2}, 1)
	if !verify(t, h, enc, "Secret1!") {
		t.Fatal("a hash made with other params does not verify")
	}
	if verify(t, h, enc, "Secret1?") {
		t.Fatal("wrong password verifies against a hash made with other params")
	}
}

func TestVerifyMalformedHash(t *testing.T) {
	h := NewHasher(cheap, 1)
	good := mustHash(t, h, "Secret1!")
	parts := strings.Split(good, "$") // "", argon2id, v=19, m=64,t=1,p=1, salt, sum
	join := func(p ...string) string { return strings.Join(p, "$") }
	for name, enc := range map[string]string{
		"empty":            "",
		"dollar":           "$",
		"plain text":       "Secret1!",
		"bcrypt":           "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":          join("", "argon2i", parts[2], parts[3], parts[4], parts[5]),
		"argon2d":          join("", "argon2d", parts[2], parts[3], parts[4], parts[5]),
		"ARGON2ID":         join("", "ARGON2ID", parts[2], parts[3], parts[4], parts[5]),
		"no version":       join("", "argon2id", parts[3], parts[4], parts[5]),
		"version 16":       join("", "argon2id", "v=16", parts[3], parts[4], parts[5]),
		"version junk":     join("", "argon2id", "v=x", parts[3], parts[4], parts[5]),
		"no params":        join("", "argon2id", parts[2], "", parts[4], parts[5]),
		"params reordered": join("", "argon2id", parts[2], "t=1,m=64,p=1", parts[4], parts[5]),
		"zero passes":      join("", "argon2id", parts[2], "m=64,t=0,p=1", parts[4], parts[5]),
		"zero lanes":       join("", "argon2id", parts[2], "m=64,t=1,p=0", parts[4], parts[5]),
		"lanes overflow":   join("", "argon2id", parts[2], "m=64,t=1,p=256", parts[4], parts[5]),
		"negative memory":  join("", "argon2id", parts[2], "m=-64,t=1,p=1", parts[4], parts[5]),
		"memory overflow":  join("", "argon2id", parts[2], "m=4294967296,t=1,p=1", parts[4], parts[5]),
		"salt not base64":  join("", "argon2id", parts[2], parts[3], "!!!!", parts[5]),
		"sum not base64":   join("", "argon2id", parts[2], parts[3], parts[4], "!!!!"),
		"padded sum":       join("", "argon2id", parts[2], parts[3], parts[4], parts[5]+"="),
		"short sum":        join("", "argon2id", parts[2], parts[3], parts[4], parts[5][:20]),
		"empty sum":        join("", "argon2id", parts[2], parts[3], parts[4], ""),
		"extra field":      good + "$x",
		"missing field":    join("", "argon2id", parts[2], parts[3], parts[5]),
		"only separators":  "$$$$$",
	} {
		t.Run(name, func(t *testing.T) {
			ok, err := h.Verify(context.Background(), enc, "Secret1!")
			if err == nil || ok {
				t.Fatalf("Verify(%q) = %v, %v; want false and an error", enc, ok, err)
			}
		})
	}
}

// FuzzDecodeHash: decoding a stored hash never panics, and whatever it accepts is safe
// to hand to argon2 (which panics on zero passes or lanes) and long enough to compare.
// It does not run argon2: a fuzzed hash could ask for any amount of memory and time.
func FuzzDecodeHash(f *testing.F) {
	h := NewHasher(cheap, 1)
	good, _ := h.Hash(context.Background(), "Secret1!")
	for _, s := range []string{good, "", "$", "$$$$$", "$argon2id$v=19$m=64,t=0,p=1$AAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=64,t=1,p=0$AAAA$AAAAAAAAAAAAAAAAAAAAAA", "$2a$10$abc", good + "$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, sum, err := decodeHash(s)
		if err != nil {
			return
		}
		if p.Passes == 0 || p.Lanes == 0 {
			t.Fatalf("decodeHash(%q) accepted zero passes or lanes: %+v", s, p)
		}
		if len(sum) < 16 {
			t.Fatalf("decodeHash(%q) accepted a %d-byte sum", s, len(sum))
		}
		_ = salt
	})
}

func TestHasherSlots(t *testing.T) {
	for _, tt := range []struct{ concurrency, want int }{{1, 1}, {2, 2}, {4, 4}, {16, 16}, {0, 1}, {-3, 1}} {
		h := NewHasher(cheap, tt.concurrency)
		if got := cap(h.slots); got != tt.want {
			t.Errorf("NewHasher(_, %d): %d slots, want %d", tt.concurrency, got, tt.want)
		}
		if n := cap(h.slots) - len(h.slots); n != 0 {
			t.Errorf("NewHasher(_, %d): %d slots taken after construction", tt.concurrency, n)
		}
		if _, _, _, err := decodeHash(h.dummy); err != nil {
			t.Errorf("NewHasher(_, %d): dummy hash %q is not a valid hash: %v", tt.concurrency, h.dummy, err)
		}
	}
}

// With every slot taken, a caller whose context is already cancelled gets the context's
// error instead of hashing; one whose deadline passes while queued gets that.
func TestHashHonoursContextWhileSlotsAreFull(t *testing.T) {
	h := NewHasher(cheap, 2)
	enc := mustHash(t, h, "Secret1!")
	a, b := <-h.slots, <-h.slots // all slots taken

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got, err := h.Hash(ctx, "Secret1!"); !errors.Is(err, context.Canceled) || got != "" {
		t.Fatalf("Hash with a cancelled context and no free slot = %q, %v; want context.Canceled", got, err)
	}
	if ok, err := h.Verify(ctx, enc, "Secret1!"); !errors.Is(err, context.Canceled) || ok {
		t.Fatalf("Verify with a cancelled context and no free slot = %v, %v; want context.Canceled", ok, err)
	}
	h.VerifyDummy(ctx, "x") // returns rather than blocking

	start := time.Now()
	dctx, dcancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer dcancel()
	if _, err := h.Hash(dctx, "Secret1!"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Hash queued past its deadline: err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("Hash gave up after %v, before its deadline: it did not wait for a slot", d)
	}

	if n := len(h.slots); n != 0 {
		t.Fatalf("%d slots free after the failed calls, want none: the test holds both", n)
	}
	h.slots <- a
	h.slots <- b
	if !verify(t, h, enc, "Secret1!") {
		t.Fatal("Verify fails after the slots are freed")
	}
}

// A hash waits for a free slot and proceeds as soon as one is released.
func TestHashWaitsForASlot(t *testing.T) {
	h := NewHasher(cheap, 2)
	a := <-h.slots // one of two taken: hashing still proceeds
	if _, err := h.Hash(context.Background(), "Secret1!"); err != nil {
		t.Fatalf("Hash with a free slot: %v", err)
	}
	b := <-h.slots // now both

	done := make(chan error, 1)
	go func() {
		_, err := h.Hash(context.Background(), "Secret1!")
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Hash finished (err %v) while every slot was taken", err)
	case <-time.After(100 * time.Millisecond):
	}
	h.slots <- a
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Hash after a slot was freed: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Hash did not proceed after a slot was freed")
	}
	h.slots <- b
}

// Four hashes at once on a one-slot hasher all succeed, never more than one runs at a
// time, and no slot leaks.
func TestHashConcurrencyBound(t *testing.T) {
	h := NewHasher(HashParams{MemoryKiB: 1024, Passes: 2, Lanes: 1}, 1)
	if cap(h.slots) != 1 {
		t.Fatalf("%d slots, want 1", cap(h.slots))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	maxTaken := make(chan int, 1)
	go func() { // watch the slots while the hashes run
		m := 0
		for {
			select {
			case <-stop:
				maxTaken <- m
				return
			default:
				m = max(m, cap(h.slots)-len(h.slots))
			}
		}
	}()
	hashes := make([]string, 4)
	errs := make([]error, 4)
	for i := range hashes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hashes[i], errs[i] = h.Hash(context.Background(), "Secret1!")
		}()
	}
	wg.Wait()
	close(stop)
	if m := <-maxTaken; m > 1 {
		t.Fatalf("%d slots taken at once, want at most 1", m)
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("hash %d: %v", i, err)
		}
		if !verify(t, h, hashes[i], "Secret1!") {
			t.Fatalf("hash %d does not verify", i)
		}
	}
	if n := cap(h.slots) - len(h.slots); n != 0 {
		t.Fatalf("%d slots still taken after every hash returned", n)
	}
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A slot keeps its working memory: after the first, a verification allocates kilobytes,
// not its memory cost. A stored hash costing more memory than the hasher's own is
// verified in memory of its own, which the slot does not keep.
func TestHasherReusesItsMemory(t *testing.T) {
	const cost = 8 << 10 // KiB
	h := NewHasher(HashParams{MemoryKiB: cost, Passes: 1, Lanes: 1}, 1)
	enc := mustHash(t, h, "Secret1!")
	if n := allocated(func() {
		for range 3 {
			if !verify(t, h, enc, "Secret1!") {
				t.Fatal("the right password does not verify")
			}
		}
	}); n > cost<<10/4 {
		t.Fatalf("3 verifications allocated %d bytes; the slot's %d KiB is not reused", n, cost)
	}
	big := HashParams{MemoryKiB: 2 * cost, Passes: 1, Lanes: 1}
	bigEnc := mustHash(t, NewHasher(big, 1), "Secret1!")
	for i := range 2 {
		if n := allocated(func() { verify(t, h, bigEnc, "Secret1!") }); n < 2*cost<<10 {
			t.Fatalf("verification %d of a %d KiB hash allocated only %d bytes: the slot kept its memory", i, 2*cost, n)
		}
	}
}

// The dummy hash that unknown names are verified against costs what a real one does, so a
// login for a name that does not exist takes as long as one that does.
func TestDummyHashCostsWhatARealOneDoes(t *testing.T) {
	p := HashParams{MemoryKiB: 64, Passes: 3, Lanes: 2}
	h := NewHasher(p, 1)
	got, _, _, err := decodeHash(h.dummy)
	if err != nil {
		t.Fatal(err)
	}
	if got != p {
		t.Fatalf("dummy hash params %+v, want the hasher's %+v", got, p)
	}
	before := h.Verifications()
	h.VerifyDummy(context.Background(), "anything")
	if h.Verifications()-before != 1 {
		t.Fatal("VerifyDummy did not run a verification")
	}
}
