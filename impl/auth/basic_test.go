package auth_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kala-server/kala/impl/auth"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestParseBasic(t *testing.T) {
	tests := []struct {
		name       string
		cred       string
		ok         bool
		user, pass string
	}{
		{"simple", b64("alice:secret"), true, "alice", "secret"},
		{"RFC 7617 example", "QWxhZGRpbjpvcGVuIHNlc2FtZQ==", true, "Aladdin", "open sesame"},
		{"first colon splits", b64("a:b:c"), true, "a", "b:c"},
		{"password of colons", b64("a:::"), true, "a", "::"},
		{"empty password", b64("alice:"), true, "alice", ""},
		{"spaces kept in password", b64("alice: pass word "), true, "alice", " pass word "},
		{"UTF-8 user", b64("jösé:pässwörd"), true, "jösé", "pässwörd"},
		{"UTF-8 user, RFC 7617 test vector", "dGVzdDoxMjPCow==", true, "test", "123£"},
		{"non-BMP", b64("😀:🔑"), true, "😀", "🔑"},
		{"long password", b64("u:" + strings.Repeat("p", 1000)), true, "u", strings.Repeat("p", 1000)},

		{"empty user", b64(":secret"), false, "", ""},
		{"empty user and password", b64(":"), false, "", ""},
		{"no colon", b64("alice"), false, "", ""},
		{"empty credentials", "", false, "", ""},
		{"not base64", "!!!!", false, "", ""},
		{"plain text", "alice:secret", false, "", ""},
		{"truncated base64", b64("alice:secret")[:5], false, "", ""},
		{"space inside base64", "YWxp Y2U6c2VjcmV0", false, "", ""},
		{"URL-safe alphabet", base64.URLEncoding.EncodeToString([]byte("ab:>>>")) /* "YWI6Pj4-" */, false, "", ""},
		{"invalid UTF-8 in user", b64("\xff\xfe:secret"), false, "", ""},
		{"invalid UTF-8 in password", b64("alice:\xc3\x28"), false, "", ""},
		{"Latin-1 (not UTF-8)", b64("j\xf6s\xe9:secret"), false, "", ""},
		{"overlong encoding of ':'", b64("a\xc0\xbab"), false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, pass, err := auth.ParseBasic(tt.cred)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseBasic(%q) err = %v, want ok=%v", tt.cred, err, tt.ok)
			}
			if user != tt.user || pass != tt.pass {
				t.Fatalf("ParseBasic(%q) = %q, %q; want %q, %q", tt.cred, user, pass, tt.user, tt.pass)
			}
		})
	}
}

// FuzzParseBasic: ParseBasic never panics, and what it accepts is a non-empty,
// colon-free user and a password that encode back to the same pair. Each input is tried
// twice: as the header's credentials, and as the decoded user:pass text (base64-encoded
// here), where the expected result is known exactly.
func FuzzParseBasic(f *testing.F) {
	for _, s := range []string{
		"alice:secret", "a:b:c", "alice:", ":secret", ":", "", "alice",
		"jösé:pässwörd", "\xff:secret", "alice:\xc3\x28", "j\xf6s\xe9:x", "a\x00b:c\x00",
		b64("alice:secret"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "QWxhZGRpbjpvcGVuIHNlc2FtZQ",
		"YTpi\n", "YTpi\r\nYw==", "====", "YQ==YQ==", "!!!!",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// s as the credentials of an Authorization: Basic header
		user, pass, err := auth.ParseBasic(s)
		if err != nil {
			if user != "" || pass != "" {
				t.Fatalf("ParseBasic(%q) failed but returned %q, %q", s, user, pass)
			}
		} else {
			checkBasicPair(t, s, user, pass)
		}

		// s as the decoded credentials
		user, pass, err = auth.ParseBasic(b64(s))
		wantUser, wantPass, hasColon := strings.Cut(s, ":")
		wantOK := hasColon && wantUser != "" && utf8.ValidString(s)
		if (err == nil) != wantOK {
			t.Fatalf("ParseBasic(base64(%q)) err = %v, want ok=%v", s, err, wantOK)
		}
		if !wantOK {
			return
		}
		if user != wantUser || pass != wantPass {
			t.Fatalf("ParseBasic(base64(%q)) = %q, %q; want %q, %q", s, user, pass, wantUser, wantPass)
		}
		checkBasicPair(t, b64(s), user, pass)
	})
}

func checkBasicPair(t *testing.T, cred, user, pass string) {
	t.Helper()
	if user == "" || strings.Contains(user, ":") {
		t.Fatalf("ParseBasic(%q) accepted user %q: empty or with a colon", cred, user)
	}
	if !utf8.ValidString(user) || !utf8.ValidString(pass) {
		t.Fatalf("ParseBasic(%q) accepted invalid UTF-8: %q, %q", cred, user, pass)
	}
	u2, p2, err := auth.ParseBasic(b64(user + ":" + pass))
	if err != nil || u2 != user || p2 != pass {
		t.Fatalf("ParseBasic(%q) = %q, %q, but their re-encoding parses to %q, %q, %v", cred, user, pass, u2, p2, err)
	}
}
