package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
)

// An API key reads kala_<lookup>_<secret><checksum>:
//   - lookup: 16 base32 characters (80 random bits), stored in clear to find the key;
//   - secret: 32 base32 characters (160 random bits), stored only as SHA-256;
//   - checksum: 7 base32 characters of CRC-32 over everything before it, so a mistyped
//     key is refused without a database trip.
const (
	KeyPrefix   = "kala_"
	lookupLen   = 16
	secretLen   = 32
	checksumLen = 7
	// KeyLen is the length of a whole key.
	KeyLen = len(KeyPrefix) + lookupLen + 1 + secretLen + checksumLen
)

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

var errKeyFormat = errors.New("malformed API key")

// NewAPIKey makes a fresh key; it returns the whole key, its lookup id and the hash to store.
func NewAPIKey() (key, lookup string, hash []byte) {
	var raw [30]byte // 10 bytes lookup, 20 bytes secret
	if _, err := rand.Read(raw[:]); err != nil {
		panic(err)
	}
	lookup = b32.EncodeToString(raw[:10])
	secret := b32.EncodeToString(raw[10:])
	body := KeyPrefix + lookup + "_" + secret
	return body + checksum(body), lookup, HashSecret(secret)
}

func checksum(body string) string {
	var c [4]byte
	binary.BigEndian.PutUint32(c[:], crc32.ChecksumIEEE([]byte(body)))
	return b32.EncodeToString(c[:])
}

// ParseAPIKey splits a key into lookup id and secret, checking its shape and checksum.
func ParseAPIKey(key string) (lookup, secret string, err error) {
	if len(key) != KeyLen || !strings.HasPrefix(key, KeyPrefix) || key[len(KeyPrefix)+lookupLen] != '_' {
		return "", "", errKeyFormat
	}
	for _, r := range key[len(KeyPrefix):] {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7' || r == '_') {
			return "", "", errKeyFormat
		}
	}
	body, sum := key[:KeyLen-checksumLen], key[KeyLen-checksumLen:]
	if checksum(body) != sum {
		return "", "", errKeyFormat
	}
	lookup = key[len(KeyPrefix) : len(KeyPrefix)+lookupLen]
	secret = key[len(KeyPrefix)+lookupLen+1 : KeyLen-checksumLen]
	if strings.Contains(lookup+secret, "_") {
		return "", "", errKeyFormat
	}
	return lookup, secret, nil
}

// HashSecret is how a key's secret is stored. The secret has 160 random bits, so a fast
// hash is enough: there is nothing to guess.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// KeyPrefixOf is the public part of a key shown in listings.
func KeyPrefixOf(lookup string) string { return KeyPrefix + lookup }
