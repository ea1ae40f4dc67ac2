package crosscut_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kala-server/kala/impl"
	"github.com/kala-server/kala/impl/account"
	"github.com/kala-server/kala/impl/testkit"
)

const lkWrong = "Wr0ng#Password"

type lkProblem struct {
	Type        string     `json:"type"`
	Status      int        `json:"status"`
	Detail      string     `json:"detail"`
	LockedUntil *time.Time `json:"lockedUntil"`
}

func lkLogin(e *testkit.Env, name, password string) *testkit.Resp {
	return e.Do("POST", "/api/auth/access-token", map[string]string{"username": name, "password": password})
}

func lkProblemOf(t *testing.T, r *testkit.Resp) lkProblem {
	t.Helper()
	if r.Status != 401 {
		t.Fatalf("status %d, want 401: %s", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q", ct)
	}
	var p lkProblem
	r.JSON(t, &p)
	if p.Status != 401 {
		t.Errorf("problem status %d", p.Status)
	}
	return p
}

// lkBad asserts a plain bad-credentials refusal: no lock, no lockedUntil.
func lkBad(t *testing.T, r *testkit.Resp) {
	t.Helper()
	p := lkProblemOf(t, r)
	if !strings.HasSuffix(p.Type, "/bad-credentials") || p.LockedUntil != nil {
		t.Fatalf("want bad credentials, got %s", r.Body)
	}
}

// lkLocked asserts a lock refusal ending at until (the wire form has whole seconds).
func lkLocked(t *testing.T, r *testkit.Resp, until time.Time) {
	t.Helper()
	p := lkProblemOf(t, r)
	if !strings.HasSuffix(p.Type, "/locked") || p.LockedUntil == nil {
		t.Fatalf("want locked, got %s", r.Body)
	}
	if d := until.Sub(*p.LockedUntil); d < 0 || d >= time.Second {
		t.Fatalf("lockedUntil %v, want %v (to the second)", p.LockedUntil, until)
	}
}

// lkFailures is the counter of a login name (-1: no row).
func lkFailures(t *testing.T, e *testkit.Env, name string) int {
	t.Helper()
	var n []int
	if err := e.DB.Select(&n, `SELECT failures FROM login_failures WHERE username_key = $1`, account.UsernameKey(name)); err != nil {
		t.Fatal(err)
	}
	if len(n) == 0 {
		return -1
	}
	return n[0]
}

func lkExpectFailures(t *testing.T, e *testkit.Env, name string, want int) {
	t.Helper()
	if got := lkFailures(t, e, name); got != want {
		t.Fatalf("login_failures.failures for %q is %d, want %d", name, got, want)
	}
}

// lkSchedule is Kylin's: the lock earned by the n-th consecutive failure (index n).
var lkSchedule = []time.Duration{0, 0, 0, 30 * time.Second, time.Minute, 5 * time.Minute,
	10 * time.Minute, 30 * time.Minute, 24 * time.Hour, 24 * time.Hour}

func TestLockoutKylinSchedule(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("lk_kylin", false)

	for n := 1; n <= 2; n++ {
		lkBad(t, lkLogin(e, u.Name, lkWrong))
		lkExpectFailures(t, e, u.Name, n)
	}
	for n := 3; n < len(lkSchedule); n++ {
		// the n-th consecutive failure locks for lkSchedule[n]
		until := e.Clock.Now().Add(lkSchedule[n])
		lkLocked(t, lkLogin(e, u.Name, lkWrong), until)
		lkExpectFailures(t, e, u.Name, n)

		// while locked, every attempt is refused, the right password too, and nothing counts
		lkLocked(t, lkLogin(e, u.Name, u.Password), until)
		lkLocked(t, lkLogin(e, u.Name, lkWrong), until)
		e.Clock.Advance(lkSchedule[n] - time.Second)
		lkLocked(t, lkLogin(e, u.Name, u.Password), until)
		lkLocked(t, lkLogin(e, strings.ToUpper(u.Name), lkWrong), until)
		lkExpectFailures(t, e, u.Name, n)
		e.Clock.Advance(time.Second)
	}
	// the 9th lock has ended: the right password gets in and resets the counter
	r := lkLogin(e, u.Name, u.Password).Expect(t, 200)
	if !strings.Contains(string(r.Body), "access_token") {
		t.Fatalf("login: %s", r.Body)
	}
	lkExpectFailures(t, e, u.Name, -1)
	lkBad(t, lkLogin(e, u.Name, lkWrong))
	lkExpectFailures(t, e, u.Name, 1)
}

func TestLockoutSuccessResets(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("lk_reset", false)
	for range 2 {
		lkBad(t, lkLogin(e, u.Name, lkWrong))
	}
	lkExpectFailures(t, e, u.Name, 2)
	// a success before the lock resets the count: two more failures do not lock
	lkLogin(e, u.Name, u.Password).Expect(t, 200)
	lkExpectFailures(t, e, u.Name, -1)
	for n := 1; n <= 2; n++ {
		lkBad(t, lkLogin(e, u.Name, lkWrong))
		lkExpectFailures(t, e, u.Name, n)
	}
	lkLocked(t, lkLogin(e, u.Name, lkWrong), e.Clock.Now().Add(30*time.Second))
	e.Clock.Advance(30 * time.Second)
	lkLogin(e, u.Name, u.Password).Expect(t, 200)
	lkExpectFailures(t, e, u.Name, -1)
	// the next failures start from one again
	lkBad(t, lkLogin(e, u.Name, lkWrong))
	lkBad(t, lkLogin(e, u.Name, lkWrong))
	lkLocked(t, lkLogin(e, u.Name, lkWrong), e.Clock.Now().Add(30*time.Second))
}

func TestLockoutCountsPerCaseFoldedName(t *testing.T) {
	e := testkit.New(t)
	lkBad(t, lkLogin(e, "admin", lkWrong))
	lkBad(t, lkLogin(e, "Admin", lkWrong))
	lkExpectFailures(t, e, "ADMIN", 2)
	lkLocked(t, lkLogin(e, "ADMIN", lkWrong), e.Clock.Now().Add(30*time.Second))
	lkLocked(t, lkLogin(e, "admin", testkit.AdminPassword), e.Clock.Now().Add(30*time.Second))
	lkLocked(t, lkLogin(e, "ADMIN", testkit.AdminPassword), e.Clock.Now().Add(30*time.Second))
	var keys []string
	if err := e.DB.Select(&keys, `SELECT username_key FROM login_failures`); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != account.UsernameKey("ADMIN") {
		t.Fatalf("login_failures rows %q, want one for the folded name", keys)
	}
	lkExpectFailures(t, e, "aDmIn", 3)

	// another name is not affected
	u := e.NewUser("lk_bystander", false)
	lkLogin(e, u.Name, u.Password).Expect(t, 200)

	e.Clock.Advance(30 * time.Second)
	lkLogin(e, "aDmIn", testkit.AdminPassword).Expect(t, 200)
	lkExpectFailures(t, e, "ADMIN", -1)
}

// lkSame asserts two refusals are the same to the byte, headers that matter included.
func lkSame(t *testing.T, step string, a, b *testkit.Resp) {
	t.Helper()
	if a.Status != b.Status || string(a.Body) != string(b.Body) {
		t.Fatalf("%s: existing user %d %s\nunknown user %d %s", step, a.Status, a.Body, b.Status, b.Body)
	}
	for _, h := range []string{"Content-Type", "Content-Length", "WWW-Authenticate", "Cache-Control", "X-Content-Type-Options"} {
		if a.Header.Get(h) != b.Header.Get(h) {
			t.Fatalf("%s: header %s %q for the existing user, %q for the unknown one", step, h, a.Header.Get(h), b.Header.Get(h))
		}
	}
	var ha, hb []string
	for k := range a.Header {
		ha = append(ha, k)
	}
	for k := range b.Header {
		hb = append(hb, k)
	}
	slices.Sort(ha)
	slices.Sort(hb)
	if !slices.Equal(ha, hb) {
		t.Fatalf("%s: header names %v for the existing user, %v for the unknown one", step, ha, hb)
	}
}

// An unknown name follows the same schedule as an existing one, and its answers are the
// same bytes: run both side by side at the same clock times.
func TestLockoutUnknownUserLooksTheSame(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("lk_real_1", false)
	const ghost = "lk_ghost_1"
	// both tries the existing name with password a and the unknown one with b
	both := func(step, pa, pb string) (*testkit.Resp, *testkit.Resp) {
		a, b := lkLogin(e, u.Name, pa), lkLogin(e, ghost, pb)
		lkSame(t, step, a, b)
		if fa, fb := lkFailures(t, e, u.Name), lkFailures(t, e, ghost); fa != fb {
			t.Fatalf("%s: counters %d (existing) and %d (unknown)", step, fa, fb)
		}
		return a, b
	}
	for n := 1; n <= 2; n++ {
		_, b := both(testkit.Sprintf("failure %d", n), lkWrong, lkWrong)
		lkBad(t, b)
	}
	for n := 3; n < len(lkSchedule); n++ {
		until := e.Clock.Now().Add(lkSchedule[n])
		_, b := both(testkit.Sprintf("failure %d", n), lkWrong, lkWrong)
		lkLocked(t, b, until)
		lkExpectFailures(t, e, ghost, n)
		e.Clock.Advance(lkSchedule[n] - time.Second)
		_, b = both(testkit.Sprintf("while locked after %d", n), lkWrong, lkWrong)
		lkLocked(t, b, until)
		// the right password of the existing name reads like any password of the unknown one
		_, b = both(testkit.Sprintf("right password while locked after %d", n), u.Password, lkWrong)
		lkLocked(t, b, until)
		lkExpectFailures(t, e, ghost, n)
		e.Clock.Advance(time.Second)
	}

	// also apart from lockedUntil, when the two locks started at different times
	u2 := e.NewUser("lk_real_2", false)
	const ghost2 = "lk_ghost_2"
	for n := 1; n <= 3; n++ {
		a := lkLogin(e, u2.Name, lkWrong)
		e.Clock.Advance(1500 * time.Millisecond)
		b := lkLogin(e, ghost2, lkWrong)
		if n < 3 {
			lkSame(t, testkit.Sprintf("staggered failure %d", n), a, b)
			continue
		}
		pa, pb := lkProblemOf(t, a), lkProblemOf(t, b)
		if pa.LockedUntil == nil || pb.LockedUntil == nil || pa.Type != pb.Type {
			t.Fatalf("staggered third failure: %s vs %s", a.Body, b.Body)
		}
		norm := func(body []byte, until *time.Time) string {
			s := string(body)
			for _, f := range []string{time.RFC3339, time.RFC3339Nano} {
				s = strings.ReplaceAll(s, until.UTC().Format(f), "T")
			}
			return s
		}
		if na, nb := norm(a.Body, pa.LockedUntil), norm(b.Body, pb.LockedUntil); na != nb {
			t.Fatalf("apart from lockedUntil, the bodies differ:\n%s\n%s", na, nb)
		}
	}
}

func lkMedian(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// An unknown name costs the same work as a known one: exactly one password verification
// (against a dummy hash of the same cost, see account's tests) and one counter step, so
// neither answer nor timing tells which names exist. The timing itself is compared in
// BenchmarkLoginTiming (make bench), where a busy machine cannot fail the suite.
func TestLockoutUnknownNamesDoTheSameWork(t *testing.T) {
	// no locks at all: every attempt does the full work
	e := testkit.New(t, func(c *impl.Config) { c.LockSchedule = []time.Duration{0} })
	u := e.NewUser("lk_timing_real", false)
	const ghost = "lk_timing_ghost"
	const n = 5
	for i := range n {
		for _, name := range []string{u.Name, ghost} {
			before := e.Server.Accounts.Hasher.Verifications()
			lkBad(t, lkLogin(e, name, lkWrong))
			if d := e.Server.Accounts.Hasher.Verifications() - before; d != 1 {
				t.Fatalf("attempt %d for %s verified %d passwords, want 1", i, name, d)
			}
			if f := lkFailures(t, e, name); f != i+1 {
				t.Fatalf("attempt %d for %s: counter %d, want %d", i, name, f, i+1)
			}
		}
	}
	lkLogin(e, u.Name, u.Password).Expect(t, 200)
}
