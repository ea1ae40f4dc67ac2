package crosscut_test

import (
	"context"
	"strings"
	"testing"

	"github.com/kala-server/kala/impl/errs"
	"github.com/kala-server/kala/impl/testkit"
)

// A Basic credential kept in the cache is renewed by reading its user again, not by a
// password hash: Recheck passes the fresh row while what the verification vouched for
// holds, and fails as soon as the password changes, the user is disabled or the name is
// locked.
func TestRecheckHoldsOnlyWhileTheCredentialsDo(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Bearer(e.AdminToken())
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, u testkit.User)
		code   errs.Code
	}{
		{"unchanged", func(*testing.T, testkit.User) {}, ""},
		{"password reset", func(t *testing.T, u testkit.User) {
			e.Do("PUT", "/api/users/"+u.ID.String()+"/password", map[string]any{"newPassword": "Reset#pass2026x"}, admin).Expect(t, 204)
		}, errs.BadLogin},
		{"disabled", func(t *testing.T, u testkit.User) {
			e.Do("PATCH", "/api/users/"+u.ID.String(), map[string]any{"disabled": true}, admin).Expect(t, 200)
		}, errs.BadLogin},
		{"locked", func(_ *testing.T, u testkit.User) {
			for range 3 {
				e.Do("POST", "/api/auth/access-token", map[string]any{"username": u.Name, "password": "Wrong#pass2026x"})
			}
		}, errs.Locked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := e.NewUser("rc_"+strings.ReplaceAll(tc.name, " ", "_"), false)
			verified, err := e.Server.Accounts.Login(ctx, u.Name, u.Password)
			if err != nil {
				t.Fatal(err)
			}
			tc.change(t, u)
			fresh, err := e.Server.Accounts.Recheck(ctx, verified)
			if tc.code == "" {
				if err != nil || fresh.ID != u.ID {
					t.Fatalf("recheck of unchanged credentials: %v", err)
				}
				return
			}
			if err == nil || errs.CodeOf(err) != tc.code {
				t.Fatalf("recheck after %s: %v, want %s", tc.name, err, tc.code)
			}
		})
	}
}
