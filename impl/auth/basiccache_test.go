package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/auth"
)

// slowLogin answers Login only when the test lets it, so a drop can land while a login
// is in flight.
type slowLogin struct {
	user    *db.User
	started chan struct{}
	release chan struct{}
	calls   int

	rechecked  chan struct{} // a Recheck ran (buffered)
	recheckErr error
}

func (s *slowLogin) Login(context.Context, string, string) (*db.User, error) {
	s.calls++
	s.started <- struct{}{}
	<-s.release
	return s.user, nil
}

func (s *slowLogin) Recheck(context.Context, *db.User) (*db.User, error) {
	defer func() { s.rechecked <- struct{}{} }()
	if s.recheckErr != nil {
		return nil, s.recheckErr
	}
	return s.user, nil
}

// A login that began before its user was dropped (password changed, disabled) answers
// its request but is not kept: the old password must not keep working for the TTL.
func TestBasicCacheKeepsNoLoginThatRacedADrop(t *testing.T) {
	for _, drop := range []struct {
		name string
		do   func(c *auth.BasicCache, u *db.User)
	}{
		{"user", func(c *auth.BasicCache, u *db.User) { c.DropUser(u.ID) }},
		{"name", func(c *auth.BasicCache, u *db.User) { c.DropName(u.UsernameKey) }},
		{"all", func(c *auth.BasicCache, _ *db.User) { c.DropAll() }},
	} {
		t.Run(drop.name, func(t *testing.T) {
			u := &db.User{ID: uuid.Must(uuid.NewV7()), UsernameKey: "racer"}
			l := &slowLogin{user: u, started: make(chan struct{}), release: make(chan struct{})}
			c := &auth.BasicCache{Accounts: l, TTL: time.Minute, Now: time.Now}
			done := make(chan error)
			go func() {
				_, err := c.Verify(context.Background(), "racer", "old-password")
				done <- err
			}()
			<-l.started
			drop.do(c, u)
			close(l.release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if c.Len() != 0 {
				t.Fatalf("the login that raced the drop was cached")
			}
			// with nothing racing, a login is kept
			l.release = make(chan struct{})
			close(l.release)
			go func() { <-l.started }()
			if _, err := c.Verify(context.Background(), "racer", "old-password"); err != nil {
				t.Fatal(err)
			}
			if c.Len() != 1 || l.calls != 2 {
				t.Fatalf("cache %d entries after %d logins, want 1 after 2", c.Len(), l.calls)
			}
		})
	}
}

// An entry in its last quarter is checked again in the background while it answers (a
// read of the user, not a password hash), so a client sending its password on every
// request never waits on an expired entry; a check that fails drops the entry, and the
// next request verifies the password.
func TestBasicCacheRefreshesBeforeExpiry(t *testing.T) {
	for _, fails := range []bool{false, true} {
		name := map[bool]string{false: "still valid", true: "changed"}[fails]
		t.Run(name, func(t *testing.T) {
			now := time.Unix(1_800_000_000, 0)
			clock := func() time.Time { return now }
			u := &db.User{ID: uuid.Must(uuid.NewV7()), UsernameKey: "steady"}
			l := &slowLogin{user: u, started: make(chan struct{}, 4), release: make(chan struct{}), rechecked: make(chan struct{}, 4)}
			if fails {
				l.recheckErr = errors.New("password changed")
			}
			close(l.release)
			c := &auth.BasicCache{Accounts: l, TTL: 40 * time.Second, Now: clock}
			verify := func() {
				t.Helper()
				if _, err := c.Verify(context.Background(), "steady", "pw"); err != nil {
					t.Fatal(err)
				}
			}
			verify()
			<-l.started
			now = now.Add(20 * time.Second) // half-way: answered, nothing more
			verify()
			now = now.Add(12 * time.Second) // last quarter: answered, and checked again behind
			verify()
			<-l.rechecked
			deadline := time.Now().Add(10 * time.Second)
			for {
				exp, ok := c.Expires("steady", "pw")
				if !fails && ok && exp.Equal(now.Add(40*time.Second)) || fails && !ok {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after the check: entry %v until %v", ok, exp)
				}
				time.Sleep(time.Millisecond)
			}
			now = now.Add(20 * time.Second) // past the first entry's end
			verify()
			wantLogins := 1 // the renewed entry answers
			if fails {
				wantLogins = 2 // the dropped entry: the password is verified again
				<-l.started
			}
			if l.calls != wantLogins {
				t.Fatalf("%d password verifications, want %d", l.calls, wantLogins)
			}
		})
	}
}
