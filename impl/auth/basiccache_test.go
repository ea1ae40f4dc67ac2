package auth_test

import (
	"context"
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
}

func (s *slowLogin) Login(context.Context, string, string) (*db.User, error) {
	s.calls++
	s.started <- struct{}{}
	<-s.release
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

// An entry in its last quarter is verified again in the background while it answers, so
// a client sending its password on every request never waits on an expired entry.
func TestBasicCacheRefreshesBeforeExpiry(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	u := &db.User{ID: uuid.Must(uuid.NewV7()), UsernameKey: "steady"}
	l := &slowLogin{user: u, started: make(chan struct{}, 4), release: make(chan struct{})}
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
	now = now.Add(12 * time.Second) // last quarter: answered, and verified again behind
	verify()
	<-l.started
	deadline := time.Now().Add(10 * time.Second)
	for {
		if exp, ok := c.Expires("steady", "pw"); ok && exp.Equal(now.Add(40*time.Second)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the refreshed entry was never kept")
		}
		time.Sleep(time.Millisecond)
	}
	now = now.Add(20 * time.Second) // past the first entry's end: the refreshed one answers
	verify()
	select {
	case <-l.started:
		t.Fatal("a third verification: the refresh did not extend the entry")
	default:
	}
	if l.calls != 2 {
		t.Fatalf("%d verifications, want 2", l.calls)
	}
}
