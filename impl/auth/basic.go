package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf8"
)

var errBasic = errors.New("malformed Basic credentials")

// ParseBasic decodes RFC 7617 credentials: base64 of user ":" password, split at the
// first colon (a password may contain colons, a username may not), UTF-8.
func ParseBasic(cred string) (user, pass string, err error) {
	b, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return "", "", errBasic
	}
	s := string(b)
	user, pass, ok := strings.Cut(s, ":")
	if !ok || user == "" || !utf8.ValidString(s) {
		return "", "", errBasic
	}
	return user, pass, nil
}
