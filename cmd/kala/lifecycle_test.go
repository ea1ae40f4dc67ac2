package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/kala-server/kala/impl/testkit"
)

// The binary's whole life on a real database: migrate (twice, saying what it did), serve
// with /metrics on a listener of its own, log in, rotate keys while serving, reset a
// password, and shut down cleanly on SIGTERM.
func TestBinaryLifecycle(t *testing.T) {
	adminURL := os.Getenv("KALA_TEST_DATABASE_URL")
	if adminURL == "" {
		t.Fatal("KALA_TEST_DATABASE_URL is not set: run the tests with `make test`")
	}
	bin := buildBinary(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "kala_cmd_" + hex.EncodeToString(b[:])
	admin, err := sqlx.Open("postgres", adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(adminURL)
	u.Path = "/" + name
	dbURL := u.String()
	t.Cleanup(func() {
		if d, err := sqlx.Open("postgres", dbURL); err == nil {
			var roles []string
			_ = d.Select(&roles, `SELECT role_name FROM projects`)
			d.Close()
			_, _ = admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
			for _, r := range roles {
				_, _ = admin.Exec(`DROP ROLE IF EXISTS ` + pq.QuoteIdentifier(r))
			}
		}
	})
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	env := append(os.Environ(), "DATABASE_URL="+dbURL, "KALA_ADDR="+addr, "KALA_ADMIN_PASSWORD=Life#cycle-2026")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kala %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	// migrate says what it applied: every migration file, then nothing
	files, err := filepath.Glob("../../db/migrations/*.sql")
	if err != nil || len(files) < 2 {
		t.Fatalf("migration files: %v %v", files, err)
	}
	for i := range files {
		files[i] = filepath.Base(files[i])
	}
	version, _, _ := strings.Cut(files[len(files)-1], "_")
	version = strings.TrimLeft(version, "0")
	if out, want := run("migrate"), fmt.Sprintf("applied %d migrations (now at version %s): %s\n", len(files), version, strings.Join(files, ", ")); out != want {
		t.Errorf("first migrate printed %q, want %q", out, want)
	}
	if out, want := run("migrate"), "database is up to date at version "+version+"\n"; out != want {
		t.Errorf("second migrate printed %q, want %q", out, want)
	}

	// flags after the command; /metrics, and the profiles, on their own listener
	var stderr bytes.Buffer
	serve := exec.Command(bin, "serve", "-metrics-addr", metricsAddr, "-pprof")
	serve.Env, serve.Stderr = env, &stderr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve.Wait() }()
	t.Cleanup(func() { _ = serve.Process.Kill() })
	base := "http://" + addr
	testkit.Eventually(t, "the server to be ready", func() bool {
		r, err := http.Get(base + "/readyz")
		if err == nil {
			r.Body.Close()
		}
		return err == nil && r.StatusCode == 200
	})
	login := func(pw string) int {
		body, _ := json.Marshal(map[string]string{"username": "ADMIN", "password": pw})
		r, err := http.Post(base+"/api/auth/access-token", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if s := login("Life#cycle-2026"); s != 200 {
		t.Fatalf("login with KALA_ADMIN_PASSWORD: %d", s)
	}
	get := func(url string) (int, string) {
		t.Helper()
		r, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b)
	}
	if status, body := get("http://" + metricsAddr + "/metrics"); status != 200 ||
		!strings.Contains(body, `kala_http_requests_total{operation="createAccessToken",status="200"} 1`) {
		t.Errorf("/metrics on -metrics-addr: %d, want 200 with the login counted:\n%.2000s", status, body)
	}
	if status, body := get(base + "/metrics"); status != 404 {
		t.Errorf("/metrics on the public listener: %d, want 404 when -metrics-addr is set: %.300s", status, body)
	}
	if status, _ := get("http://" + metricsAddr + "/healthz"); status != 404 {
		t.Errorf("/healthz on the metrics listener: %d, want 404: it serves /metrics (and the profiles) alone", status)
	}
	if status, body := get("http://" + metricsAddr + "/debug/pprof/heap?debug=1"); status != 200 || !strings.Contains(body, "heap profile") {
		t.Errorf("/debug/pprof/heap on the metrics listener with -pprof: %d %.200s", status, body)
	}
	if status, _ := get(base + "/debug/pprof/heap"); status != 404 {
		t.Errorf("/debug/pprof/heap on the public listener: %d, want 404", status)
	}

	run("keys", "rotate")
	testkit.Eventually(t, "the running server to publish the rotated key", func() bool {
		r, err := http.Get(base + "/.well-known/jwks.json")
		if err != nil {
			return false
		}
		defer r.Body.Close()
		var set struct{ Keys []any }
		return json.NewDecoder(r.Body).Decode(&set) == nil && len(set.Keys) == 2
	})

	// the reset builds the account rules alone: it makes no signing key (nor anything else)
	signingKeys := func() (n int) {
		d, err := sqlx.Open("postgres", dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if err := d.Get(&n, `SELECT count(*) FROM signing_keys`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	keysBefore := signingKeys()
	out := run("admin", "reset-password", "admin")
	if n := signingKeys(); n != keysBefore {
		t.Errorf("reset-password changed the signing keys: %d -> %d", keysBefore, n)
	}
	i := strings.LastIndex(out, ": ")
	if i < 0 {
		t.Fatalf("reset-password printed no password: %q", out)
	}
	newPW := strings.TrimSpace(out[i+2:])
	if s := login("Life#cycle-2026"); s != 401 {
		t.Errorf("the old password still logs in after a reset: %d", s)
	}
	if s := login(newPW); s != 200 {
		t.Errorf("the reset password does not log in: %d", s)
	}
	// the reset is audited as the command line's, with no actor
	var tok struct {
		Data struct {
			AccessToken string `json:"access_token"`
		}
	}
	body, _ := json.Marshal(map[string]string{"username": "ADMIN", "password": newPW})
	if r, err := http.Post(base+"/api/auth/access-token", "application/json", bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	} else {
		_ = json.NewDecoder(r.Body).Decode(&tok)
		r.Body.Close()
	}
	req, _ := http.NewRequest("GET", base+"/api/audit-events?event=password.reset", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Data.AccessToken)
	var events struct {
		Data []struct {
			Actor  *string        `json:"actor"`
			Detail map[string]any `json:"detail"`
		} `json:"data"`
	}
	if r, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		_ = json.NewDecoder(r.Body).Decode(&events)
		r.Body.Close()
	}
	if len(events.Data) != 1 || events.Data[0].Actor != nil || events.Data[0].Detail["via"] != "cli" {
		t.Errorf("password.reset events %+v, want one by the command line", events.Data)
	}

	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit within 30 s of SIGTERM")
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Errorf("no shutdown log line:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), newPW) || strings.Contains(stderr.String(), "Life#cycle-2026") {
		t.Error("the server log contains a password")
	}
}

// freeAddr is a loopback address with a port nothing listens on (for now).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
