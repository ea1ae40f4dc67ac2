package account

import (
	"crypto/rand"
	"math/big"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"

	"github.com/kala-server/kala/impl/errs"
)

// UsernameKey folds a username for uniqueness and lookup: the same name in any case is
// the same user.
func UsernameKey(name string) string {
	return strings.Map(cherokeeUpper, cases.Fold().String(name))
}

// cherokeeUpper finishes folding Cherokee, which Unicode folds to the capitals:
// golang.org/x/text swaps its cases instead (golang/go#46101), so both spellings of a
// name would get different keys.
func cherokeeUpper(r rune) rune {
	switch {
	case r >= 0xAB70 && r <= 0xABBF:
		return r - 0xAB70 + 0x13A0
	case r >= 0x13F8 && r <= 0x13FD:
		return r - 0x13F8 + 0x13F0
	}
	return r
}

// CheckUsername applies Kylin's username rule.
func CheckUsername(field, name string) error {
	bad := func(msg string) error { return errs.Field(field, msg).WithReason(errs.ReasonUsername) }
	n := utf8.RuneCountInString(name)
	switch {
	case !utf8.ValidString(name):
		return bad("must be UTF-8")
	case n == 0:
		return bad("must not be empty")
	case n > 180:
		return bad("must be at most 180 characters")
	case strings.HasPrefix(name, "."):
		return bad("must not start with '.'")
	case strings.TrimSpace(name) != name:
		return bad("must not start or end with a space")
	case strings.ContainsAny(name, `\/:*?"<>|`):
		return bad(`must not contain any of \ / : * ? " < > |`)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return bad("must not contain control characters")
		}
	}
	return nil
}

// PasswordSpecials are the characters Kylin's rule counts as special.
const PasswordSpecials = "~!@#$%^&*(){}|:\"<>?[];',./`"

// CheckPassword applies Kylin's password rule and the 128-byte limit.
func CheckPassword(field, pw string) error {
	if utf8.RuneCountInString(pw) < 8 {
		return errs.Field(field, "must be at least 8 characters").WithReason(errs.ReasonPasswordTooShort)
	}
	if len(pw) > 128 {
		return errs.Field(field, "must be at most 128 bytes")
	}
	var letter, digit, special bool
	for _, r := range pw {
		switch {
		case r < 128 && unicode.IsLetter(r):
			letter = true
		case r < 128 && unicode.IsDigit(r):
			digit = true
		case strings.ContainsRune(PasswordSpecials, r):
			special = true
		}
	}
	if !letter || !digit || !special {
		return errs.Field(field, "must contain a letter, a digit and one of "+PasswordSpecials).WithReason(errs.ReasonPasswordWeak)
	}
	return nil
}

// RandomPassword makes a password that meets the rule, with about 120 bits of entropy.
func RandomPassword() string {
	const (
		letters  = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
		digits   = "23456789"
		specials = "#%@^~!*"
	)
	pick := func(set string) byte {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			panic(err)
		}
		return set[n.Int64()]
	}
	all := letters + digits + specials
	b := make([]byte, 22)
	for i := range b {
		b[i] = pick(all)
	}
	// one of each class at fixed-but-random positions keeps the rule met
	b[3], b[11], b[17] = pick(letters), pick(digits), pick(specials)
	return string(b)
}
