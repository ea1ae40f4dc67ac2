// Command kala is Kala Server: `kala serve` (default), `kala migrate`,
// `kala admin reset-password USER`, `kala keys rotate`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl"
	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/data"
	"github.com/kala-server/kala/impl/ratelimit"
)

const usage = `usage: kala [flags] [command]

commands:
  serve                        migrate, then serve HTTP (default)
  migrate                      apply database migrations and exit
  admin reset-password USER    give USER a new random password and print it
  keys rotate                  add a new JWT signing key; old keys verify until their tokens expire

Every flag can also be set by the environment variable named in its description.
`

type options struct {
	databaseURL   string
	addr          string
	adminPassword string
	issuer        string
	tokenTTL      time.Duration
	apiKeyMaxDays int
	sessionIdle   time.Duration
	sessionMax    time.Duration
	cookieSecure  bool
	corsOrigins   string
	queryTimeout  time.Duration
	trusted       string
	publicURL     string
	rateFailures  string
	ratePasswords string
	proxies       []netip.Prefix
	rates         [2]ratelimit.Rule
	auditKeep     time.Duration
	queryPerUser  int
	queryMax      int
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(os.Args[1:], log); err != nil {
		fmt.Fprintln(os.Stderr, "kala:", err)
		os.Exit(1)
	}
}

// envDefault reads an env var for a flag's default, remembering parse errors.
type envDefault struct{ errs []string }

func (e *envDefault) str(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func (e *envDefault) dur(name string, def time.Duration) time.Duration {
	v, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		e.errs = append(e.errs, fmt.Sprintf("%s=%q: want a positive duration like 15m", name, v))
		return def
	}
	return d
}

func (e *envDefault) num(name string, def int) int {
	v, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		e.errs = append(e.errs, fmt.Sprintf("%s=%q: want a positive whole number", name, v))
		return def
	}
	return n
}

func (e *envDefault) boolean(name string, def bool) bool {
	v, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Sprintf("%s=%q: want true or false", name, v))
		return def
	}
	return b
}

func parse(args []string) (*options, []string, error) {
	var o options
	var env envDefault
	fs := flag.NewFlagSet("kala", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage, "\nflags:\n"); fs.PrintDefaults() }
	// Secrets get no flag default: usage text prints defaults, and must not print these.
	fs.StringVar(&o.databaseURL, "database-url", "", "PostgreSQL URL (DATABASE_URL)")
	fs.StringVar(&o.addr, "addr", env.str("KALA_ADDR", "127.0.0.1:8080"), "listen address (KALA_ADDR)")
	fs.StringVar(&o.adminPassword, "admin-password", "", "first ADMIN password; random if empty (KALA_ADMIN_PASSWORD)")
	fs.StringVar(&o.issuer, "issuer", env.str("KALA_ISSUER", "kala"), "JWT issuer (KALA_ISSUER)")
	fs.DurationVar(&o.tokenTTL, "token-ttl", env.dur("KALA_TOKEN_TTL", 15*time.Minute), "access token lifetime (KALA_TOKEN_TTL)")
	fs.IntVar(&o.apiKeyMaxDays, "api-key-max-days", env.num("KALA_API_KEY_MAX_DAYS", 365), "longest API key lifetime in days (KALA_API_KEY_MAX_DAYS)")
	fs.DurationVar(&o.sessionIdle, "session-idle", env.dur("KALA_SESSION_IDLE", 10*time.Minute), "session idle timeout (KALA_SESSION_IDLE)")
	fs.DurationVar(&o.sessionMax, "session-max", env.dur("KALA_SESSION_MAX", 12*time.Hour), "session absolute timeout (KALA_SESSION_MAX)")
	fs.BoolVar(&o.cookieSecure, "cookie-secure", env.boolean("KALA_COOKIE_SECURE", false), "mark the session cookie Secure (KALA_COOKIE_SECURE)")
	fs.StringVar(&o.corsOrigins, "cors-origins", env.str("KALA_CORS_ORIGINS", ""), "comma-separated origins allowed by CORS (KALA_CORS_ORIGINS)")
	fs.DurationVar(&o.queryTimeout, "query-timeout", env.dur("KALA_QUERY_TIMEOUT", 30*time.Second), "SQL query timeout (KALA_QUERY_TIMEOUT)")
	fs.StringVar(&o.publicURL, "public-url", env.str("KALA_PUBLIC_URL", ""), "the origin users reach the server at, e.g. https://kala.example.com behind a proxy (KALA_PUBLIC_URL)")
	fs.StringVar(&o.trusted, "trusted-proxies", env.str("KALA_TRUSTED_PROXIES", ""), "comma-separated CIDRs of proxies whose X-Forwarded-For is believed (KALA_TRUSTED_PROXIES)")
	fs.StringVar(&o.rateFailures, "rate-failures", env.str("KALA_RATE_FAILURES", rateString(impl.DefaultRateFailures)), "failed credentials allowed per client address, N/window or off (KALA_RATE_FAILURES)")
	fs.StringVar(&o.ratePasswords, "rate-passwords", env.str("KALA_RATE_PASSWORDS", rateString(impl.DefaultRatePasswords)), "password verifications allowed per client address, N/window or off (KALA_RATE_PASSWORDS)")
	fs.DurationVar(&o.auditKeep, "audit-retention", env.dur("KALA_AUDIT_RETENTION", 90*24*time.Hour), "how long security events are kept, like 2160h for 90 days (KALA_AUDIT_RETENTION)")
	fs.IntVar(&o.queryPerUser, "query-per-user", env.num("KALA_QUERY_PER_USER", data.DefaultQueriesPerUser), "queries one user may run at once (KALA_QUERY_PER_USER)")
	fs.IntVar(&o.queryMax, "query-max", env.num("KALA_QUERY_MAX", db.SandboxConnBudget), "queries the server runs at once, all users together (KALA_QUERY_MAX)")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if o.databaseURL == "" {
		o.databaseURL = os.Getenv("DATABASE_URL")
	}
	if o.adminPassword == "" {
		o.adminPassword = os.Getenv("KALA_ADMIN_PASSWORD")
	}
	if len(env.errs) > 0 {
		return nil, nil, errors.New("bad configuration: " + strings.Join(env.errs, "; "))
	}
	var bad []string
	if o.databaseURL == "" {
		bad = append(bad, "DATABASE_URL is not set (make run starts a private PostgreSQL and sets it)")
	}
	if o.tokenTTL <= 0 || o.sessionIdle <= 0 || o.sessionMax <= 0 || o.queryTimeout <= 0 || o.apiKeyMaxDays <= 0 ||
		o.auditKeep <= 0 || o.queryPerUser <= 0 || o.queryMax <= 0 {
		bad = append(bad, "durations, -api-key-max-days, -query-per-user and -query-max must be positive")
	}
	if o.sessionIdle > o.sessionMax {
		bad = append(bad, "KALA_SESSION_IDLE must not exceed KALA_SESSION_MAX")
	}
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		bad = append(bad, fmt.Sprintf("KALA_ADDR=%q: want host:port", o.addr))
	}
	for _, origin := range splitList(o.corsOrigins) {
		if !isOrigin(origin) {
			bad = append(bad, fmt.Sprintf("KALA_CORS_ORIGINS: %q is not an origin like https://app.example.com", origin))
		}
	}
	if o.publicURL = strings.TrimSuffix(o.publicURL, "/"); o.publicURL != "" && !isOrigin(o.publicURL) {
		bad = append(bad, fmt.Sprintf("KALA_PUBLIC_URL=%q: want an origin like https://kala.example.com", o.publicURL))
	}
	var err error
	if o.proxies, err = impl.ParseTrustedProxies(o.trusted); err != nil {
		bad = append(bad, fmt.Sprintf("KALA_TRUSTED_PROXIES=%q: want CIDRs like 10.0.0.0/8: %v", o.trusted, err))
	}
	for i, r := range []struct{ env, v, name string }{
		{"KALA_RATE_FAILURES", o.rateFailures, impl.DefaultRateFailures.Name},
		{"KALA_RATE_PASSWORDS", o.ratePasswords, impl.DefaultRatePasswords.Name}} {
		if o.rates[i], err = parseRate(r.name, r.v); err != nil {
			bad = append(bad, fmt.Sprintf("%s=%q: %v", r.env, r.v, err))
		}
	}
	if len(bad) > 0 {
		return nil, nil, errors.New("bad configuration: " + strings.Join(bad, "; "))
	}
	return &o, fs.Args(), nil
}

func rateString(r ratelimit.Rule) string { return fmt.Sprintf("%d/%s", r.Limit, r.Window) }

// parseRate reads "N/window" (e.g. 30/1m) or "off".
func parseRate(name, s string) (ratelimit.Rule, error) {
	if s == "off" {
		return ratelimit.Rule{Name: name, Limit: -1, Window: time.Minute}, nil
	}
	n, w, ok := strings.Cut(s, "/")
	limit, err1 := strconv.Atoi(n)
	window, err2 := time.ParseDuration(w)
	if !ok || err1 != nil || err2 != nil || limit <= 0 || window < time.Second {
		return ratelimit.Rule{}, errors.New("want N/window like 30/1m, or off")
	}
	return ratelimit.Rule{Name: name, Limit: limit, Window: window}, nil
}

// isOrigin reports a bare scheme://host[:port].
func isOrigin(origin string) bool {
	u, err := url.Parse(origin)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && !strings.HasSuffix(origin, "?") && !strings.HasSuffix(origin, "#")
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (o *options) config() impl.Config {
	return impl.Config{Issuer: o.issuer, TokenTTL: o.tokenTTL, APIKeyMaxDays: o.apiKeyMaxDays,
		SessionIdle: o.sessionIdle, SessionMax: o.sessionMax, CookieSecure: o.cookieSecure,
		CORSOrigins: splitList(o.corsOrigins), QueryTimeout: o.queryTimeout,
		PublicURL: o.publicURL, TrustedProxies: o.proxies, RateFailures: o.rates[0], RatePasswords: o.rates[1],
		AuditRetention: o.auditKeep, QueryPerUser: o.queryPerUser, QueryMax: o.queryMax}
}

func run(args []string, log *slog.Logger) error {
	o, rest, err := parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := "serve"
	if len(rest) > 0 {
		cmd = rest[0]
	}
	switch {
	case cmd == "serve" && len(rest) <= 1:
		return serve(ctx, o, log)
	case cmd == "migrate" && len(rest) == 1:
		d, err := openMigrated(ctx, o, log)
		if err == nil {
			d.Close()
		}
		return err
	case cmd == "admin" && len(rest) == 3 && rest[1] == "reset-password":
		return resetPassword(ctx, o, log, rest[2])
	case cmd == "keys" && len(rest) == 2 && rest[1] == "rotate":
		d, err := openMigrated(ctx, o, log)
		if err != nil {
			return err
		}
		defer d.Close()
		cfg := o.config()
		cfg.Defaults()
		if err := auth.Rotate(ctx, d, time.Now(), cfg.TokenTTL); err != nil {
			return err
		}
		fmt.Println("added a new signing key; older keys verify until their tokens expire")
		return nil
	}
	return fmt.Errorf("unknown command %q\n\n%s", strings.Join(rest, " "), usage)
}

func openMigrated(ctx context.Context, o *options, log *slog.Logger) (*db.DB, error) {
	d, err := db.Open(ctx, o.databaseURL)
	if err != nil {
		return nil, err
	}
	n, err := d.Migrate(ctx)
	if err != nil {
		d.Close()
		return nil, err
	}
	if n > 0 {
		log.Info("migrated", "applied", n)
	}
	return d, nil
}

func resetPassword(ctx context.Context, o *options, log *slog.Logger, user string) error {
	d, err := openMigrated(ctx, o, log)
	if err != nil {
		return err
	}
	defer d.Close()
	s, err := impl.New(ctx, d, o.config(), log)
	if err != nil {
		return err
	}
	pw, err := s.Accounts.ResetPassword(ctx, user)
	if err != nil {
		return err
	}
	fmt.Printf("new password for %s (shown once; they should change it): %s\n", user, pw)
	return nil
}

func serve(ctx context.Context, o *options, log *slog.Logger) error {
	d, err := openMigrated(ctx, o, log)
	if err != nil {
		return err
	}
	defer d.Close()
	s, err := impl.New(ctx, d, o.config(), log)
	if err != nil {
		return err
	}
	impl.ReserveHashingProcs(s.Config.HashConcurrency)
	generated, created, err := s.Accounts.Bootstrap(ctx, o.adminPassword)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if created && generated != "" {
		// printed once, to the terminal, never into the structured log
		fmt.Fprintf(os.Stderr, "\n  Created user ADMIN with password: %s\n  It is shown only now; change it after logging in.\n\n", generated)
	} else if created {
		log.Info("created user ADMIN with the password from KALA_ADMIN_PASSWORD")
	}
	if err := s.Listen(ctx); err != nil {
		return fmt.Errorf("listen for events: %w", err)
	}
	go s.Janitor(ctx)
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
