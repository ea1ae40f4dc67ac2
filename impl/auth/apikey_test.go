package auth_test

import (
	"bytes"
	"encoding/base32"
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"
	"testing/cryptotest"

	"github.com/kala-server/kala/impl/auth"
)

// The key layout, restated independently of apikey.go so the tests check the format
// rather than echo the implementation.
const (
	b32Alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	lookupLen   = 16
	secretLen   = 32
	checksumLen = 7
)

var testB32 = base32.NewEncoding(b32Alphabet).WithPadding(base32.NoPadding)

// keySum is the checksum the format prescribes: CRC-32 (IEEE) over everything before
// it, big-endian, lower-case unpadded base32.
func keySum(body string) string {
	var c [4]byte
	binary.BigEndian.PutUint32(c[:], crc32.ChecksumIEEE([]byte(body)))
	return testB32.EncodeToString(c[:])
}

// withSum appends the right checksum to body, for keys that are well-formed except
// for whatever the test broke in body.
func withSum(body string) string { return body + keySum(body) }

func isB32(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(b32Alphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}

func TestKeyLen(t *testing.T) {
	if want := len("kala_") + lookupLen + 1 + secretLen + checksumLen; auth.KeyLen != want {
		t.Fatalf("KeyLen = %d, want %d", auth.KeyLen, want)
	}
	if auth.KeyPrefix != "kala_" {
		t.Fatalf("KeyPrefix = %q, want kala_", auth.KeyPrefix)
	}
}

func TestNewAPIKey(t *testing.T) {
	seen := map[string]bool{}
	seenLookup := map[string]bool{}
	for i := 0; i < 2000; i++ {
		key, lookup, hash := auth.NewAPIKey()
		if len(key) != auth.KeyLen || !strings.HasPrefix(key, auth.KeyPrefix) {
			t.Fatalf("NewAPIKey() = %q: wrong length or prefix", key)
		}
		gotLookup, secret, err := auth.ParseAPIKey(key)
		if err != nil {
			t.Fatalf("ParseAPIKey(NewAPIKey() = %q): %v", key, err)
		}
		if gotLookup != lookup {
			t.Fatalf("lookup: NewAPIKey says %q, ParseAPIKey says %q", lookup, gotLookup)
		}
		if !bytes.Equal(auth.HashSecret(secret), hash) {
			t.Fatalf("NewAPIKey's hash is not HashSecret of the parsed secret (key %q)", key)
		}
		if len(hash) != 32 {
			t.Fatalf("hash length %d, want 32 (SHA-256)", len(hash))
		}
		if bytes.Contains(hash, []byte(secret)) {
			t.Fatalf("hash contains the secret in clear")
		}
		if got := auth.KeyPrefixOf(lookup); got != key[:len(auth.KeyPrefix)+lookupLen] {
			t.Fatalf("KeyPrefixOf(%q) = %q, want the key's first %d characters", lookup, got, len(auth.KeyPrefix)+lookupLen)
		}
		if strings.Contains(auth.KeyPrefixOf(lookup), secret) {
			t.Fatalf("the public prefix shows the secret")
		}
		if seen[key] || seenLookup[lookup] {
			t.Fatalf("NewAPIKey repeated itself after %d keys: %q", i, key)
		}
		seen[key], seenLookup[lookup] = true, true
	}
}

func TestHashSecret(t *testing.T) {
	a, b := auth.HashSecret("abc"), auth.HashSecret("abd")
	if bytes.Equal(a, b) {
		t.Fatal("different secrets, same hash")
	}
	if !bytes.Equal(a, auth.HashSecret("abc")) {
		t.Fatal("HashSecret is not deterministic")
	}
}

func TestParseAPIKey(t *testing.T) {
	good, goodLookup, _ := auth.NewAPIKey()
	lookup := strings.Repeat("a", lookupLen)
	secret := strings.Repeat("b", secretLen)
	valid := withSum("kala_" + lookup + "_" + secret)
	body := valid[:auth.KeyLen-checksumLen]
	sum := valid[auth.KeyLen-checksumLen:]

	tests := []struct {
		name   string
		key    string
		ok     bool
		lookup string
		secret string
	}{
		{"fresh key", good, true, goodLookup, good[len("kala_")+lookupLen+1 : auth.KeyLen-checksumLen]},
		{"hand-built key", valid, true, lookup, secret},
		{"empty", "", false, "", ""},
		{"prefix only", "kala_", false, "", ""},
		{"one short", valid[:len(valid)-1], false, "", ""},
		{"one long", valid + "a", false, "", ""},
		{"trailing space", valid + " ", false, "", ""},
		{"trailing newline", valid + "\n", false, "", ""},
		{"leading space", " " + valid[:len(valid)-1], false, "", ""},
		{"upper-case", strings.ToUpper(valid), false, "", ""},
		{"upper-case prefix", "KALA_" + valid[5:], false, "", ""},
		{"other prefix, right checksum", withSum("kalb_" + lookup + "_" + secret), false, "", ""},
		{"no separator, right checksum", withSum("kala_" + lookup + "b" + secret), false, "", ""},
		{"separator moved, right checksum", withSum("kala_" + lookup[1:] + "_a" + secret), false, "", ""},
		{"underscore in lookup, right checksum", withSum("kala_" + "_" + lookup[1:] + "_" + secret), false, "", ""},
		{"underscore in secret, right checksum", withSum("kala_" + lookup + "_" + secret[1:] + "_"), false, "", ""},
		{"underscore in checksum", body + "_" + sum[1:], false, "", ""},
		{"digit 0 (not base32), right checksum", withSum("kala_" + "0" + lookup[1:] + "_" + secret), false, "", ""},
		{"digit 1 (not base32), right checksum", withSum("kala_" + lookup + "_" + "1" + secret[1:]), false, "", ""},
		{"digit 8 (not base32), right checksum", withSum("kala_" + lookup + "_" + "8" + secret[1:]), false, "", ""},
		{"padding, right checksum", withSum("kala_" + lookup + "_" + secret[1:] + "="), false, "", ""},
		{"wrong checksum", body + "aaaaaaa", false, "", ""},
		{"checksum of another body", body + keySum("kala_"+lookup+"_"+strings.Repeat("c", secretLen)), false, "", ""},
		{"non-ASCII of the right byte length", "kala_" + "é" + lookup[2:] + "_" + secret + sum, false, "", ""},
		{"NUL", "kala_" + "\x00" + lookup[1:] + "_" + secret + sum, false, "", ""},
		{"all underscores", strings.Repeat("_", auth.KeyLen), false, "", ""},
		{"Bearer-looking", "Bearer " + valid[:auth.KeyLen-7], false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, s, err := auth.ParseAPIKey(tt.key)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseAPIKey(%q) err = %v, want ok=%v", tt.key, err, tt.ok)
			}
			if !tt.ok {
				if l != "" || s != "" {
					t.Fatalf("rejected key still returned lookup %q / secret %q", l, s)
				}
				return
			}
			if l != tt.lookup || s != tt.secret {
				t.Fatalf("ParseAPIKey(%q) = %q, %q; want %q, %q", tt.key, l, s, tt.lookup, tt.secret)
			}
		})
	}
}

// replacements are the characters each position of a key is changed to: the whole
// alphabet, the separator, upper case, digits outside base32, and a few others.
const replacements = b32Alphabet + "_ABCDEFGHIJKLMNOPQRSTUVWXYZ01890-=+/. \t\x00\xff"

// Changing any one character of a valid key, to anything, must be rejected: the checksum
// catches what the shape check lets through.
func TestParseAPIKeyRejectsAnySingleCharChange(t *testing.T) {
	keys := []string{withSum("kala_" + strings.Repeat("a", lookupLen) + "_" + strings.Repeat("a", secretLen))}
	for i := 0; i < 20; i++ {
		k, _, _ := auth.NewAPIKey()
		keys = append(keys, k)
	}
	for _, key := range keys {
		if _, _, err := auth.ParseAPIKey(key); err != nil {
			t.Fatalf("ParseAPIKey(%q): %v", key, err)
		}
		for i := 0; i < len(key); i++ {
			for j := 0; j < len(replacements); j++ {
				c := replacements[j]
				if c == key[i] {
					continue
				}
				typo := key[:i] + string([]byte{c}) + key[i+1:]
				if _, _, err := auth.ParseAPIKey(typo); err == nil {
					t.Errorf("key %q with position %d changed to %q was accepted: %q", key, i, c, typo)
				}
			}
			// deleting or doubling a character changes the length
			if _, _, err := auth.ParseAPIKey(key[:i] + key[i+1:]); err == nil {
				t.Errorf("key %q with position %d deleted was accepted", key, i)
			}
			if _, _, err := auth.ParseAPIKey(key[:i] + key[i:i+1] + key[i:]); err == nil {
				t.Errorf("key %q with position %d doubled was accepted", key, i)
			}
		}
	}
}

// Swapping two neighbouring characters (a common typo) is caught too.
func TestParseAPIKeyRejectsTranspositions(t *testing.T) {
	for n := 0; n < 50; n++ {
		key, _, _ := auth.NewAPIKey()
		for i := 0; i+1 < len(key); i++ {
			if key[i] == key[i+1] {
				continue
			}
			b := []byte(key)
			b[i], b[i+1] = b[i+1], b[i]
			if _, _, err := auth.ParseAPIKey(string(b)); err == nil {
				t.Errorf("key %q with positions %d,%d swapped was accepted: %q", key, i, i+1, b)
			}
		}
	}
}

// FuzzParseAPIKey: ParseAPIKey never panics; what it accepts has the documented shape
// and is rebuilt exactly from its parts; any one-character change of an accepted key is
// rejected. The seed also drives crypto/rand (cryptotest.SetGlobalRandom), so every run
// checks a deterministic key from NewAPIKey as well.
func FuzzParseAPIKey(f *testing.F) {
	lookup := strings.Repeat("a", lookupLen)
	secret := strings.Repeat("b", secretLen)
	valid := withSum("kala_" + lookup + "_" + secret)
	seeds := []string{
		valid,
		"",
		"kala_",
		"kala_" + lookup + "_" + secret,
		valid[:len(valid)-1],
		valid + "a",
		strings.ToUpper(valid),
		strings.Repeat("_", auth.KeyLen),
		strings.Repeat("a", auth.KeyLen),
		withSum("kala_" + "_" + lookup[1:] + "_" + secret),
		withSum("kala_" + lookup + "_" + secret[1:] + "_"),
		withSum("kala_" + lookup + "b" + secret),
		"kala_" + "é" + lookup[2:] + "_" + secret + valid[len(valid)-checksumLen:],
		"kala_\xff\xfe" + valid[7:],
	}
	for i := 0; i < 4; i++ {
		k, _, _ := auth.NewAPIKey()
		seeds = append(seeds, k)
	}
	for i, s := range seeds {
		f.Add(s, uint64(i))
	}
	f.Fuzz(func(t *testing.T, key string, seed uint64) {
		l, s, err := auth.ParseAPIKey(key)
		if err != nil {
			if l != "" || s != "" {
				t.Fatalf("rejected %q but returned lookup %q / secret %q", key, l, s)
			}
		} else {
			checkAccepted(t, key, l, s)
		}

		// a key made by NewAPIKey, from a seed-determined random stream, is accepted
		cryptotest.SetGlobalRandom(t, seed)
		fresh, freshLookup, hash := auth.NewAPIKey()
		fl, fs, err := auth.ParseAPIKey(fresh)
		if err != nil {
			t.Fatalf("ParseAPIKey(NewAPIKey() = %q): %v", fresh, err)
		}
		if fl != freshLookup || !bytes.Equal(auth.HashSecret(fs), hash) {
			t.Fatalf("NewAPIKey() = %q, %q, %x disagrees with ParseAPIKey = %q, %q", fresh, freshLookup, hash, fl, fs)
		}
		checkAccepted(t, fresh, fl, fs)
		// and changing one of its characters to a byte taken from the fuzz input is not
		if len(key) > 0 {
			i := int(seed % uint64(len(fresh)))
			c := key[int(seed/uint64(len(fresh))%uint64(len(key)))]
			if c != fresh[i] {
				typo := fresh[:i] + string([]byte{c}) + fresh[i+1:]
				if _, _, err := auth.ParseAPIKey(typo); err == nil {
					t.Fatalf("NewAPIKey() = %q with position %d changed to %q was accepted", fresh, i, c)
				}
			}
		}
	})
}

func checkAccepted(t *testing.T, key, lookup, secret string) {
	t.Helper()
	if len(lookup) != lookupLen || !isB32(lookup) {
		t.Fatalf("ParseAPIKey(%q): lookup %q is not %d base32 characters", key, lookup, lookupLen)
	}
	if len(secret) != secretLen || !isB32(secret) {
		t.Fatalf("ParseAPIKey(%q): secret %q is not %d base32 characters", key, secret, secretLen)
	}
	if rebuilt := withSum(auth.KeyPrefix + lookup + "_" + secret); rebuilt != key {
		t.Fatalf("ParseAPIKey(%q) = %q, %q, which rebuild to %q", key, lookup, secret, rebuilt)
	}
	// every one-character change is refused (cheap: one alternative per position)
	for i := 0; i < len(key); i++ {
		c := byte('a')
		if key[i] == 'a' {
			c = '_'
		}
		typo := key[:i] + string([]byte{c}) + key[i+1:]
		if _, _, err := auth.ParseAPIKey(typo); err == nil {
			t.Fatalf("accepted %q, and also %q (position %d changed)", key, typo, i)
		}
	}
}
