package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl"
	"github.com/kala-server/kala/impl/ratelimit"
)

// configEnv is every environment variable parse reads.
var configEnv = []string{
	"DATABASE_URL", "KALA_ADDR", "KALA_ADMIN_PASSWORD", "KALA_ISSUER", "KALA_TOKEN_TTL",
	"KALA_API_KEY_MAX_DAYS", "KALA_SESSION_IDLE", "KALA_SESSION_MAX", "KALA_COOKIE_SECURE",
	"KALA_CORS_ORIGINS", "KALA_QUERY_TIMEOUT", "KALA_TRUSTED_PROXIES", "KALA_RATE_FAILURES", "KALA_RATE_PASSWORDS", "KALA_PUBLIC_URL",
	"KALA_AUDIT_RETENTION", "KALA_QUERY_PER_USER", "KALA_QUERY_MAX", "KALA_DB_CONNS", "KALA_METRICS_ADDR", "KALA_PPROF",
}

const testDB = "postgres://kala@localhost/kala?sslmode=disable"

// cleanEnv unsets every configuration variable for the test (restored afterwards), then
// sets the given ones.
func cleanEnv(t *testing.T, set map[string]string) {
	t.Helper()
	for _, k := range configEnv {
		t.Setenv(k, "") // registers the restore
		os.Unsetenv(k)
	}
	for k, v := range set {
		t.Setenv(k, v)
	}
}

// configured parses args and checks the configuration, as run does before a command
// that uses it.
func configured(args []string) (*options, []string, error) {
	o, words, _, err := parse(args)
	if err != nil {
		return nil, nil, err
	}
	if err := o.check(); err != nil {
		return nil, nil, err
	}
	return o, words, nil
}

// quietStderr sends what is printed to stderr to a pipe until the returned function is
// called (or the test ends); that function returns what was printed.
func quietStderr(t *testing.T) func() string { return capture(t, &os.Stderr) }

// capture sends what is printed to *f (os.Stdout or os.Stderr) to a pipe until the
// returned function is called (or the test ends); that function returns what was printed.
func capture(t *testing.T, f **os.File) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := *f
	*f = w
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() { _, _ = io.Copy(&buf, r); close(done) }()
	var once sync.Once
	stop := func() string {
		once.Do(func() {
			*f = old
			w.Close()
			<-done
			r.Close()
		})
		return buf.String()
	}
	t.Cleanup(func() { stop() })
	return stop
}

func TestParseDefaults(t *testing.T) {
	cleanEnv(t, map[string]string{"DATABASE_URL": testDB})
	o, rest, err := configured(nil)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	want := options{databaseURL: testDB, addr: "127.0.0.1:8080", issuer: "kala", tokenTTL: 15 * time.Minute,
		apiKeyMaxDays: 365, sessionIdle: 10 * time.Minute, sessionMax: 12 * time.Hour, queryTimeout: 30 * time.Second,
		rateFailures: "30/1m0s", ratePasswords: "60/1m0s", rates: [2]ratelimit.Rule{impl.DefaultRateFailures, impl.DefaultRatePasswords},
		auditKeep: 90 * 24 * time.Hour, queryPerUser: 4, queryMax: 32, dbConns: db.DefaultMaxConns()}
	if !reflect.DeepEqual(*o, want) {
		t.Fatalf("parse() = %+v, want %+v", *o, want)
	}
	if len(rest) != 0 {
		t.Fatalf("rest = %q, want none", rest)
	}
}

func TestParseGoodEnv(t *testing.T) {
	cleanEnv(t, map[string]string{
		"DATABASE_URL":          testDB,
		"KALA_ADDR":             "[::1]:9090",
		"KALA_ADMIN_PASSWORD":   "Secret1!",
		"KALA_ISSUER":           "https://kala.example.com",
		"KALA_TOKEN_TTL":        "5m",
		"KALA_API_KEY_MAX_DAYS": "30",
		"KALA_SESSION_IDLE":     "1h",
		"KALA_SESSION_MAX":      "1h",
		"KALA_COOKIE_SECURE":    "true",
		"KALA_CORS_ORIGINS":     " https://a.example.com, http://localhost:3000 ,,https://b.example.com:8443",
		"KALA_QUERY_TIMEOUT":    "1m30s",
		"KALA_TRUSTED_PROXIES":  "10.0.0.0/8, 192.168.1.7",
		"KALA_RATE_FAILURES":    "5/10s",
		"KALA_RATE_PASSWORDS":   "off",
		"KALA_AUDIT_RETENTION":  "720h",
		"KALA_QUERY_PER_USER":   "2",
		"KALA_QUERY_MAX":        "10",
		"KALA_DB_CONNS":         "12",
		"KALA_METRICS_ADDR":     "127.0.0.1:9100",
		"KALA_PPROF":            "true",
	})
	o, rest, err := configured([]string{"migrate"})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	want := options{databaseURL: testDB, addr: "[::1]:9090", adminPassword: "Secret1!", issuer: "https://kala.example.com",
		tokenTTL: 5 * time.Minute, apiKeyMaxDays: 30, sessionIdle: time.Hour, sessionMax: time.Hour, cookieSecure: true,
		corsOrigins: " https://a.example.com, http://localhost:3000 ,,https://b.example.com:8443", queryTimeout: 90 * time.Second,
		trusted: "10.0.0.0/8, 192.168.1.7", rateFailures: "5/10s", ratePasswords: "off",
		proxies:   []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32")},
		rates:     [2]ratelimit.Rule{{Name: "failures", Limit: 5, Window: 10 * time.Second}, {Name: "passwords", Limit: -1, Window: time.Minute}},
		auditKeep: 30 * 24 * time.Hour, queryPerUser: 2, queryMax: 10, dbConns: 12, metricsAddr: "127.0.0.1:9100", pprof: true}
	if !reflect.DeepEqual(*o, want) {
		t.Fatalf("parse() = %+v\nwant %+v", *o, want)
	}
	if !reflect.DeepEqual(rest, []string{"migrate"}) {
		t.Fatalf("rest = %q, want [migrate]", rest)
	}
	cfg := o.config()
	if want := []string{"https://a.example.com", "http://localhost:3000", "https://b.example.com:8443"}; !reflect.DeepEqual(cfg.CORSOrigins, want) {
		t.Fatalf("config().CORSOrigins = %q, want %q", cfg.CORSOrigins, want)
	}
	if cfg.Issuer != o.issuer || cfg.TokenTTL != o.tokenTTL || cfg.APIKeyMaxDays != 30 || cfg.SessionIdle != time.Hour ||
		cfg.SessionMax != time.Hour || !cfg.CookieSecure || cfg.QueryTimeout != 90*time.Second || cfg.AuditRetention != 30*24*time.Hour ||
		cfg.QueryPerUser != 2 || cfg.QueryMax != 10 || !cfg.MetricsElsewhere {
		t.Fatalf("config() = %+v does not carry the options %+v", cfg, *o)
	}
}

func TestParseBadConfig(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string // DATABASE_URL is set unless the map says otherwise
		args []string
		want []string // substrings of the error
	}{
		{"DATABASE_URL unset", map[string]string{"DATABASE_URL": "\x00unset"}, nil, []string{"DATABASE_URL"}},
		{"DATABASE_URL empty", map[string]string{"DATABASE_URL": ""}, nil, []string{"DATABASE_URL"}},
		{"token TTL not a duration", map[string]string{"KALA_TOKEN_TTL": "abc"}, nil, []string{"KALA_TOKEN_TTL", "abc"}},
		{"token TTL without unit", map[string]string{"KALA_TOKEN_TTL": "15"}, nil, []string{"KALA_TOKEN_TTL"}},
		{"token TTL zero", map[string]string{"KALA_TOKEN_TTL": "0s"}, nil, []string{"KALA_TOKEN_TTL"}},
		{"token TTL negative", map[string]string{"KALA_TOKEN_TTL": "-5m"}, nil, []string{"KALA_TOKEN_TTL"}},
		{"API key days zero", map[string]string{"KALA_API_KEY_MAX_DAYS": "0"}, nil, []string{"KALA_API_KEY_MAX_DAYS"}},
		{"API key days negative", map[string]string{"KALA_API_KEY_MAX_DAYS": "-1"}, nil, []string{"KALA_API_KEY_MAX_DAYS"}},
		{"API key days not a number", map[string]string{"KALA_API_KEY_MAX_DAYS": "a year"}, nil, []string{"KALA_API_KEY_MAX_DAYS"}},
		{"API key days fractional", map[string]string{"KALA_API_KEY_MAX_DAYS": "1.5"}, nil, []string{"KALA_API_KEY_MAX_DAYS"}},
		{"session idle not a duration", map[string]string{"KALA_SESSION_IDLE": "ten"}, nil, []string{"KALA_SESSION_IDLE"}},
		{"session max zero", map[string]string{"KALA_SESSION_MAX": "0"}, nil, []string{"KALA_SESSION_MAX"}},
		{"query timeout negative", map[string]string{"KALA_QUERY_TIMEOUT": "-1s"}, nil, []string{"KALA_QUERY_TIMEOUT"}},
		{"audit retention in days", map[string]string{"KALA_AUDIT_RETENTION": "90d"}, nil, []string{"KALA_AUDIT_RETENTION", "90d"}},
		{"audit retention zero", map[string]string{"KALA_AUDIT_RETENTION": "0s"}, nil, []string{"KALA_AUDIT_RETENTION"}},
		{"queries per user zero", map[string]string{"KALA_QUERY_PER_USER": "0"}, nil, []string{"KALA_QUERY_PER_USER"}},
		{"queries per user not a number", map[string]string{"KALA_QUERY_PER_USER": "four"}, nil, []string{"KALA_QUERY_PER_USER"}},
		{"server queries negative", map[string]string{"KALA_QUERY_MAX": "-3"}, nil, []string{"KALA_QUERY_MAX"}},
		{"database connections zero", map[string]string{"KALA_DB_CONNS": "0"}, nil, []string{"KALA_DB_CONNS"}},
		{"cookie secure not a bool", map[string]string{"KALA_COOKIE_SECURE": "maybe"}, nil, []string{"KALA_COOKIE_SECURE"}},
		{"addr nonsense", map[string]string{"KALA_ADDR": "nonsense"}, nil, []string{"KALA_ADDR", "nonsense"}},
		{"addr without port", map[string]string{"KALA_ADDR": "localhost"}, nil, []string{"KALA_ADDR"}},
		{"addr URL", map[string]string{"KALA_ADDR": "http://localhost:8080"}, nil, []string{"KALA_ADDR"}},
		{"CORS origin with path", map[string]string{"KALA_CORS_ORIGINS": "https://a.example.com/path"}, nil, []string{"KALA_CORS_ORIGINS", "https://a.example.com/path"}},
		{"CORS origin with trailing slash", map[string]string{"KALA_CORS_ORIGINS": "https://a.example.com/"}, nil, []string{"KALA_CORS_ORIGINS"}},
		{"CORS origin without scheme", map[string]string{"KALA_CORS_ORIGINS": "a.example.com"}, nil, []string{"KALA_CORS_ORIGINS"}},
		{"CORS origin other scheme", map[string]string{"KALA_CORS_ORIGINS": "ftp://a.example.com"}, nil, []string{"KALA_CORS_ORIGINS"}},
		{"CORS wildcard", map[string]string{"KALA_CORS_ORIGINS": "*"}, nil, []string{"KALA_CORS_ORIGINS"}},
		{"one bad CORS origin among good", map[string]string{"KALA_CORS_ORIGINS": "https://a.example.com,https://b.example.com/x"}, nil, []string{"https://b.example.com/x"}},
		{"session idle over max", map[string]string{"KALA_SESSION_IDLE": "2h", "KALA_SESSION_MAX": "1h"}, nil, []string{"KALA_SESSION_IDLE", "KALA_SESSION_MAX"}},
		{"session idle over default max", map[string]string{"KALA_SESSION_IDLE": "13h"}, nil, []string{"KALA_SESSION_IDLE"}},
		{"several at once", map[string]string{"KALA_TOKEN_TTL": "abc", "KALA_API_KEY_MAX_DAYS": "0"}, nil, []string{"KALA_TOKEN_TTL", "KALA_API_KEY_MAX_DAYS"}},
		{"several checks at once", map[string]string{"DATABASE_URL": "", "KALA_ADDR": "x"}, nil, []string{"DATABASE_URL", "KALA_ADDR"}},

		{"public URL with a path", map[string]string{"KALA_PUBLIC_URL": "https://kala.example.com/app"}, nil, []string{"KALA_PUBLIC_URL"}},
		{"trusted proxy not a CIDR", map[string]string{"KALA_TRUSTED_PROXIES": "10.0.0.0/33"}, nil, []string{"KALA_TRUSTED_PROXIES"}},
		{"rate without window", map[string]string{"KALA_RATE_FAILURES": "30"}, nil, []string{"KALA_RATE_FAILURES", "N/window"}},
		{"rate zero", map[string]string{"KALA_RATE_PASSWORDS": "0/1m"}, nil, []string{"KALA_RATE_PASSWORDS"}},
		{"metrics addr without port", map[string]string{"KALA_METRICS_ADDR": "localhost"}, nil, []string{"KALA_METRICS_ADDR", "localhost"}},
		{"metrics addr same as addr", map[string]string{"KALA_ADDR": "127.0.0.1:8080", "KALA_METRICS_ADDR": "127.0.0.1:8080"}, nil, []string{"KALA_METRICS_ADDR", "KALA_ADDR"}},
		{"profiles without a metrics listener", map[string]string{"KALA_PPROF": "true"}, nil, []string{"KALA_PPROF", "KALA_METRICS_ADDR"}},

		{"flag: bad addr", nil, []string{"-addr", "nonsense"}, []string{"nonsense"}},
		{"flag: zero key days", nil, []string{"-api-key-max-days", "0"}, []string{"positive"}},
		{"flag: idle over max", nil, []string{"-session-idle", "2h", "-session-max", "1h"}, []string{"KALA_SESSION_IDLE"}},
		{"flag: bad CORS origin", nil, []string{"-cors-origins", "https://a.example.com/path"}, []string{"https://a.example.com/path"}},
		{"flag: zero token TTL", nil, []string{"-token-ttl", "0s"}, []string{"positive"}},
		{"flag: zero queries per user", nil, []string{"-query-per-user", "0"}, []string{"query-per-user"}},
		{"flag: zero server queries", nil, []string{"-query-max", "0"}, []string{"query-max"}},
		{"flag: bad duration", nil, []string{"-token-ttl", "abc"}, []string{"token-ttl"}},
		{"flag: zero audit retention", nil, []string{"-audit-retention", "0s"}, []string{"positive"}},
		{"flag: unknown", nil, []string{"-no-such-flag"}, []string{"no-such-flag"}},
		{"flag: bad metrics addr", nil, []string{"-metrics-addr", "9100"}, []string{"KALA_METRICS_ADDR"}},
		{"flag after the command: bad addr", nil, []string{"serve", "-addr", "nonsense"}, []string{"nonsense"}},
		{"flag after the command: unknown", nil, []string{"migrate", "--no-such-flag"}, []string{"no-such-flag"}},
		{"flag after the command: bad duration", nil, []string{"keys", "rotate", "-token-ttl=abc"}, []string{"token-ttl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"DATABASE_URL": testDB}
			for k, v := range tt.env {
				env[k] = v
			}
			if env["DATABASE_URL"] == "\x00unset" {
				delete(env, "DATABASE_URL")
			}
			cleanEnv(t, env)
			quietStderr(t)
			o, _, err := configured(tt.args)
			if err == nil {
				t.Fatalf("parse(%q) with %v = %+v, want an error", tt.args, tt.env, *o)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestParseGoodEdgeCases(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"idle equals max":    {"KALA_SESSION_IDLE": "1h", "KALA_SESSION_MAX": "1h"},
		"any host, port 0":   {"KALA_ADDR": ":0"},
		"IPv6 addr":          {"KALA_ADDR": "[::]:8080"},
		"empty CORS list":    {"KALA_CORS_ORIGINS": " , "},
		"CORS origin port":   {"KALA_CORS_ORIGINS": "http://localhost:5173"},
		"cookie secure 1":    {"KALA_COOKIE_SECURE": "1"},
		"one day API keys":   {"KALA_API_KEY_MAX_DAYS": "1"},
		"sub-second timeout": {"KALA_QUERY_TIMEOUT": "500ms"},
	} {
		t.Run(name, func(t *testing.T) {
			env["DATABASE_URL"] = testDB
			cleanEnv(t, env)
			if _, _, err := configured(nil); err != nil {
				t.Fatalf("parse with %v: %v", env, err)
			}
		})
	}
}

func TestParseFlagsOverrideEnv(t *testing.T) {
	cleanEnv(t, map[string]string{
		"DATABASE_URL":          "postgres://env@localhost/env",
		"KALA_ADDR":             "127.0.0.1:1111",
		"KALA_TOKEN_TTL":        "5m",
		"KALA_API_KEY_MAX_DAYS": "10",
		"KALA_SESSION_IDLE":     "1m",
		"KALA_SESSION_MAX":      "2m",
		"KALA_COOKIE_SECURE":    "true",
		"KALA_CORS_ORIGINS":     "https://env.example.com",
		"KALA_ISSUER":           "env",
	})
	o, rest, err := configured([]string{
		"-database-url", testDB, "-addr", "127.0.0.1:2222", "-token-ttl", "20m", "-api-key-max-days", "20",
		"-session-idle", "3h", "-session-max", "4h", "-cookie-secure=false", "-cors-origins", "https://flag.example.com",
		"-issuer", "flag", "-query-per-user", "7", "-query-max", "70", "keys", "rotate", "-metrics-addr", "127.0.0.1:9100",
	})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	want := options{databaseURL: testDB, addr: "127.0.0.1:2222", issuer: "flag", tokenTTL: 20 * time.Minute,
		apiKeyMaxDays: 20, sessionIdle: 3 * time.Hour, sessionMax: 4 * time.Hour, cookieSecure: false,
		corsOrigins: "https://flag.example.com", queryTimeout: 30 * time.Second,
		rateFailures: "30/1m0s", ratePasswords: "60/1m0s", rates: [2]ratelimit.Rule{impl.DefaultRateFailures, impl.DefaultRatePasswords},
		auditKeep: 90 * 24 * time.Hour, queryPerUser: 7, queryMax: 70, dbConns: db.DefaultMaxConns(), metricsAddr: "127.0.0.1:9100"}
	if !reflect.DeepEqual(*o, want) {
		t.Fatalf("parse() = %+v\nwant %+v", *o, want)
	}
	if !reflect.DeepEqual(rest, []string{"keys", "rotate"}) {
		t.Fatalf("rest = %q, want [keys rotate]", rest)
	}

	// a flag also supplies what the environment lacks
	cleanEnv(t, nil)
	if o, _, err := configured([]string{"-database-url", testDB}); err != nil || o.databaseURL != testDB {
		t.Fatalf("parse(-database-url) = %+v, %v", o, err)
	}
}

func TestHelp(t *testing.T) {
	cleanEnv(t, nil)
	if _, _, help, err := parse([]string{"-h"}); err != nil || !help {
		t.Fatalf("parse(-h) = help %v, err %v; want help and no error", help, err)
	}
	stop := capture(t, &os.Stdout)
	if err := run([]string{"-help"}, nil); err != nil {
		t.Fatalf("run(-help) = %v, want nil: help is not a configuration error", err)
	}
	out := stop()
	for _, s := range []string{"usage: kala", "migrate", "-database-url", "DATABASE_URL", "KALA_TOKEN_TTL"} {
		if !strings.Contains(out, s) {
			t.Errorf("usage does not mention %q:\n%s", s, out)
		}
	}
}

// Help shows each flag's default, and the defaults come from the environment: help, and
// every error message (which lands in the service's log), must not show
// KALA_ADMIN_PASSWORD or the password inside DATABASE_URL, whichever way it is asked for.
func TestUsageDoesNotRevealSecretsFromEnv(t *testing.T) {
	const adminPW, dbPW = "Sup3r-Secret-Admin!", "db-pa55word"
	cleanEnv(t, map[string]string{
		"KALA_ADMIN_PASSWORD": adminPW,
		"DATABASE_URL":        "postgres://kala:" + dbPW + "@db.internal/kala",
	})
	for _, args := range [][]string{{"-h"}, {"-no-such-flag"}, {"help"}, {"serve", "-h"}, {"help", "serve"},
		{"migrate", "--help"}, {"admin", "reset-password", "-h"}, {"admin", "reset-password"}, {"keys", "rotate", "-h"},
		{"serve", "-addr"}, {"frobnicate"}, {"serve", "-token-ttl", "abc"}} {
		stopOut, stopErr := capture(t, &os.Stdout), quietStderr(t)
		err := run(args, nil)
		out := stopOut() + stopErr()
		if err != nil {
			out += err.Error()
		}
		if out == "" {
			t.Errorf("run(%q) printed nothing and returned nil", args)
		}
		for _, secret := range []string{adminPW, dbPW} {
			if strings.Contains(out, secret) {
				t.Errorf("run(%q) printed a secret from the environment (%q):\n%s", args, secret, out)
			}
		}
	}
}

// The built binary refuses a bad configuration: non-zero exit, a clear one-line reason
// on stderr, and it never starts listening.
func TestBinaryBadConfig(t *testing.T) {
	bin := buildBinary(t)

	// a free port, to check nothing listens on it
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	// the caller's environment, minus any configuration
	var base []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "KALA_") || name == "DATABASE_URL" || strings.HasPrefix(name, "PG") {
			continue
		}
		base = append(base, kv)
	}

	tests := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"no DATABASE_URL", []string{"KALA_ADDR=" + addr}, nil, []string{"DATABASE_URL is not set"}},
		{"bad token TTL", []string{"DATABASE_URL=" + testDB, "KALA_ADDR=" + addr, "KALA_TOKEN_TTL=abc"}, nil, []string{"KALA_TOKEN_TTL", "abc"}},
		{"zero API key days", []string{"DATABASE_URL=" + testDB, "KALA_ADDR=" + addr, "KALA_API_KEY_MAX_DAYS=0"}, nil, []string{"KALA_API_KEY_MAX_DAYS"}},
		{"bad addr", []string{"DATABASE_URL=" + testDB, "KALA_ADDR=nonsense"}, nil, []string{"KALA_ADDR"}},
		{"bad CORS origin", []string{"DATABASE_URL=" + testDB, "KALA_ADDR=" + addr, "KALA_CORS_ORIGINS=https://a.example.com/path"}, []string{"serve"}, []string{"KALA_CORS_ORIGINS"}},
		{"idle over max", []string{"DATABASE_URL=" + testDB, "KALA_ADDR=" + addr, "KALA_SESSION_IDLE=2h", "KALA_SESSION_MAX=1h"}, nil, []string{"KALA_SESSION_IDLE"}},
		{"unknown command", []string{"DATABASE_URL=" + testDB, "KALA_ADDR=" + addr}, []string{"frobnicate"}, []string{"unknown command", "frobnicate"}},
		{"unknown flag", []string{"DATABASE_URL=" + testDB, "KALA_ADDR=" + addr}, []string{"-frobnicate"}, []string{"frobnicate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, tt.args...)
			cmd.Env = append(append([]string(nil), base...), tt.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("kala did not exit within 30s (serving?); stderr:\n%s", stderr.String())
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("kala exited with %v, want a non-zero exit code; stderr:\n%s", err, stderr.String())
			}
			msg := stderr.String()
			// the reason is a "kala: " line (a flag error comes after the usage, an
			// unknown command before it)
			lines := strings.Split(strings.TrimRight(msg, "\n"), "\n")
			if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "kala: ") }) {
				t.Errorf("stderr has no \"kala: \" line:\n%s", msg)
			}
			if tt.args == nil && len(lines) != 1 {
				t.Errorf("a configuration error takes %d lines of stderr, want one:\n%s", len(lines), msg)
			}
			for _, s := range tt.want {
				if !strings.Contains(msg, s) {
					t.Errorf("stderr does not mention %q:\n%s", s, msg)
				}
			}
			if strings.Contains(msg, "goroutine ") || strings.Contains(msg, "panic") {
				t.Errorf("stderr shows a crash:\n%s", msg)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("kala took %v to refuse its configuration", d)
			}
			// nothing listens on the configured address
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Errorf("something accepts connections on %s", addr)
			}
		})
	}

	// -h prints the usage and succeeds
	cmd := exec.Command(bin, "-h")
	cmd.Env = base
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kala -h: %v\n%s", err, out)
	}
	for _, s := range []string{"usage: kala", "-database-url", "DATABASE_URL", "KALA_CORS_ORIGINS"} {
		if !bytes.Contains(out, []byte(s)) {
			t.Errorf("kala -h output does not mention %q:\n%s", s, out)
		}
	}
}

// buildBinary builds this command into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go tool on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "kala")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
