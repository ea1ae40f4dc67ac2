// Command kala is Kala Server. `kala help` lists its commands: serve (the default),
// migrate, admin reset-password, keys rotate, version, help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl"
	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/ratelimit"
)

type options struct {
	databaseURL   string
	addr          string
	metricsAddr   string
	pprof         bool
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
	dbConns       int
	envErrs       []string // environment variables that did not parse, reported by check
}

// command is one thing kala does.
type command struct {
	name    string // the words after "kala"
	args    []string
	summary string
	help    string
	// flags are those the command reads, listed by its help (nil: none; allFlags: every one).
	flags []string
	// run gets the checked configuration, or nil when flags is nil.
	run func(ctx context.Context, o *options, log *slog.Logger, args []string) error
}

var allFlags = []string{"*"}

// commands, in the order help lists them; filled by init (help's run refers to it).
var commands []*command

func init() {
	commands = []*command{
		{name: "serve", summary: "apply pending migrations, then serve HTTP (the default command)", flags: allFlags,
			help: `Applies pending database migrations, creates the user ADMIN on an empty database
(password from KALA_ADMIN_PASSWORD, else a random one printed once to stderr), then
serves HTTP on -addr until SIGINT or SIGTERM, which drain requests for up to 30 s.
/metrics is served on -metrics-addr when set, else on -addr.`,
			run: func(ctx context.Context, o *options, log *slog.Logger, _ []string) error { return serve(ctx, o, log) }},
		{name: "migrate", summary: "apply pending database migrations, print what was applied, and exit",
			flags: []string{"database-url"},
			help: `Applies the migrations embedded in this binary that the database lacks, under a
session lock (instances starting at the same time take turns), and prints what it
applied and the database's version. ` + "`kala serve`" + ` does the same at every start.`,
			run: func(ctx context.Context, o *options, log *slog.Logger, _ []string) error {
				d, m, err := openMigrated(ctx, o)
				if err != nil {
					return err
				}
				d.Close()
				fmt.Println(migrationReport(m))
				return nil
			}},
		{name: "admin reset-password", args: []string{"USER"}, summary: "give USER a new random password and print it",
			flags: []string{"database-url"},
			help: `Gives USER (any case) a new random password, marked default (they should change it),
ends their sessions and tokens, and prints the password once to stdout.
The reset is audited as the command line's. To run it against the private cluster of
` + "`make run`" + `: DATABASE_URL=$(scripts/pg.sh url kala) bin/kala admin reset-password ADMIN`,
			run: func(ctx context.Context, o *options, log *slog.Logger, args []string) error {
				return resetPassword(ctx, o, log, args[0])
			}},
		{name: "keys rotate", summary: "add a JWT signing key; older keys verify until their tokens expire",
			flags: []string{"database-url", "token-ttl"},
			help: `Adds a new JWT signing key, which signs from now on. Running instances pick it up at
once (LISTEN/NOTIFY). Older keys keep verifying until the last token they signed
expires (-token-ttl), then they are dropped.`,
			run: func(ctx context.Context, o *options, log *slog.Logger, _ []string) error {
				d, _, err := openMigrated(ctx, o)
				if err != nil {
					return err
				}
				defer d.Close()
				if err := auth.Rotate(ctx, d, time.Now(), o.tokenTTL); err != nil {
					return err
				}
				fmt.Println("added a new signing key; older keys verify until their tokens expire")
				return nil
			}},
		{name: "version", summary: "print the version and exit",
			help: "Prints the module version, the VCS revision it was built from (if known) and the Go version.",
			run: func(context.Context, *options, *slog.Logger, []string) error {
				info, _ := debug.ReadBuildInfo()
				fmt.Println(versionLine(info))
				return nil
			}},
		{name: "help", args: []string{"[COMMAND...]"}, summary: "show help for kala or one command",
			help: "`kala help admin reset-password` is the same as `kala admin reset-password -h`.",
			run: func(_ context.Context, _ *options, _ *slog.Logger, args []string) error {
				return printHelp(os.Stdout, args)
			}},
	}
}

const intro = `Kala Server: the Kala API (/api) and a Kylin-compatible API (/kylin/api) over PostgreSQL.

usage: kala [COMMAND] [flags] [ARGUMENTS]
`

const flagNote = `Flags may come before or after the command, as -name value, -name=value or --name.
A flag's default comes from the environment variable in brackets; the flag wins.
Commands that use the database check the whole configuration (every variable below)
before they start; help and version need none of it.
`

// usageError is a command line kala cannot make sense of (exit status 2).
type usageError struct {
	msg string
	cmd *command // the command it concerns, if known: its usage line is printed
}

func (e *usageError) Error() string { return e.msg }

// console is where the process writes for a person to read beside its log: the log's own
// writer, so the two stay in order.
var console io.Writer = os.Stderr

func main() {
	logs := newBatchWriter(os.Stderr)
	console = logs
	log := slog.New(slog.NewJSONHandler(logs, nil))
	err := run(os.Args[1:], log)
	logs.Flush()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "kala:", err)
	var ue *usageError
	if errors.As(err, &ue) {
		if ue.cmd != nil {
			fmt.Fprintf(os.Stderr, "usage: %s\nRun 'kala help %s' for details.\n", usageLine(ue.cmd), ue.cmd.name)
		} else {
			fmt.Fprintln(os.Stderr, "Run 'kala help' for usage.")
		}
		os.Exit(2)
	}
	os.Exit(1)
}

func run(args []string, log *slog.Logger) error {
	o, words, help, err := parse(args)
	if err != nil {
		// the usage line of the command the bad flag came with, if it is known yet
		cmd, _, _ := lookup(words)
		return &usageError{msg: err.Error(), cmd: cmd}
	}
	if help {
		return printHelp(os.Stdout, words)
	}
	cmd, rest, err := lookup(words)
	if err != nil {
		return err
	}
	if n := minArgs(cmd); len(rest) < n {
		return &usageError{msg: fmt.Sprintf("%s: missing %s", cmd.name, strings.Join(cmd.args[len(rest):n], " ")), cmd: cmd}
	}
	if max := len(cmd.args); len(rest) > max && !(max > 0 && strings.HasSuffix(cmd.args[max-1], "...]")) {
		return &usageError{msg: fmt.Sprintf("%s: unexpected argument %q", cmd.name, rest[max]), cmd: cmd}
	}
	if cmd.flags == nil {
		return cmd.run(context.Background(), nil, log, rest)
	}
	if err := o.check(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cmd.run(ctx, o, log, rest)
}

// minArgs counts the required arguments (optional ones are written [LIKE_THIS], and
// [LIKE_THIS...] takes any number).
func minArgs(c *command) int {
	n := 0
	for _, a := range c.args {
		if !strings.HasPrefix(a, "[") {
			n++
		}
	}
	return n
}

func usageLine(c *command) string {
	line := []string{"kala", c.name}
	if c.flags != nil {
		line = append(line, "[flags]")
	}
	return strings.Join(append(line, c.args...), " ")
}

// lookup finds the command that words start with, and the words after its name. No
// words is serve.
func lookup(words []string) (*command, []string, error) {
	if len(words) == 0 {
		words = []string{"serve"}
	}
	for _, c := range commands {
		name := strings.Fields(c.name)
		if len(words) >= len(name) && slices.Equal(words[:len(name)], name) {
			return c, words[len(name):], nil
		}
	}
	if subs := subcommands(words[0]); len(subs) > 0 {
		if len(words) == 1 {
			return nil, nil, &usageError{msg: fmt.Sprintf("%s: missing command (one of: %s)", words[0], strings.Join(subs, ", "))}
		}
		return nil, nil, &usageError{msg: fmt.Sprintf("unknown command %q (%s has: %s)", words[0]+" "+words[1], words[0], strings.Join(subs, ", "))}
	}
	return nil, nil, &usageError{msg: fmt.Sprintf("unknown command %q", words[0])}
}

// subcommands lists the second words of the commands whose first word is group.
func subcommands(group string) []string {
	var out []string
	for _, c := range commands {
		if g, sub, ok := strings.Cut(c.name, " "); ok && g == group {
			out = append(out, sub)
		}
	}
	return out
}

// printHelp writes the help of the command words name (all of kala for none).
func printHelp(w io.Writer, words []string) error {
	_, fs := newFlagSet()
	if len(words) == 0 {
		fmt.Fprint(w, intro, "\ncommands:\n")
		for _, c := range commands {
			fmt.Fprintf(w, "  %-30s %s\n", strings.Join(append([]string{c.name}, c.args...), " "), c.summary)
		}
		fmt.Fprint(w, "\n", flagNote, "\nflags:\n")
		printFlags(w, fs, allFlags)
		return nil
	}
	cmd, _, err := lookup(words)
	if err != nil {
		if subs := subcommands(words[0]); len(subs) > 0 {
			fmt.Fprintf(w, "usage: kala %s COMMAND [flags] [ARGUMENTS]\n\ncommands:\n", words[0])
			for _, s := range subs {
				c, _, _ := lookup([]string{words[0], s})
				fmt.Fprintf(w, "  %-30s %s\n", strings.Join(append([]string{c.name}, c.args...), " "), c.summary)
			}
			return nil
		}
		return err
	}
	fmt.Fprintf(w, "usage: %s\n\n%s.\n\n%s\n", usageLine(cmd), upperFirst(cmd.summary), cmd.help)
	if cmd.flags != nil {
		fmt.Fprint(w, "\nflags (a flag's default comes from the environment variable in brackets; flags may\ncome before or after the command):\n")
		printFlags(w, fs, cmd.flags)
		if !slices.Equal(cmd.flags, allFlags) {
			fmt.Fprint(w, "\nThe whole configuration (`kala help serve`) is checked before it starts.\n")
		}
	}
	return nil
}

func upperFirst(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

// printFlags lists the flags named (allFlags: every one) as flag.PrintDefaults does.
// Secrets have no default, so their environment values are never shown.
func printFlags(w io.Writer, fs *flag.FlagSet, names []string) {
	sub := flag.NewFlagSet("kala", flag.ContinueOnError)
	fs.VisitAll(func(f *flag.Flag) {
		if slices.Equal(names, allFlags) || slices.Contains(names, f.Name) {
			sub.Var(f.Value, f.Name, f.Usage)
			sub.Lookup(f.Name).DefValue = f.DefValue
		}
	})
	sub.SetOutput(w)
	sub.PrintDefaults()
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

// newFlagSet defines every flag over a new options, defaults from the environment.
func newFlagSet() (*options, *flag.FlagSet) {
	var o options
	var env envDefault
	d := impl.DefaultConfig()
	fs := flag.NewFlagSet("kala", flag.ContinueOnError)
	// run prints errors and help itself
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	// Secrets get no flag default: help prints defaults, and must not print these.
	fs.StringVar(&o.databaseURL, "database-url", "", "PostgreSQL URL (DATABASE_URL)")
	fs.StringVar(&o.addr, "addr", env.str("KALA_ADDR", "127.0.0.1:8080"), "listen address (KALA_ADDR)")
	fs.StringVar(&o.metricsAddr, "metrics-addr", env.str("KALA_METRICS_ADDR", ""), "listen address for /metrics alone; if empty, /metrics is served on -addr (KALA_METRICS_ADDR)")
	fs.BoolVar(&o.pprof, "pprof", env.boolean("KALA_PPROF", false), "serve Go's profiles (net/http/pprof) under /debug/pprof/ on -metrics-addr, which it needs (KALA_PPROF)")
	fs.StringVar(&o.adminPassword, "admin-password", "", "first ADMIN password; random if empty (KALA_ADMIN_PASSWORD)")
	fs.StringVar(&o.issuer, "issuer", env.str("KALA_ISSUER", d.Issuer), "JWT issuer (KALA_ISSUER)")
	fs.DurationVar(&o.tokenTTL, "token-ttl", env.dur("KALA_TOKEN_TTL", d.TokenTTL), "access token lifetime (KALA_TOKEN_TTL)")
	fs.IntVar(&o.apiKeyMaxDays, "api-key-max-days", env.num("KALA_API_KEY_MAX_DAYS", d.APIKeyMaxDays), "longest API key lifetime in days (KALA_API_KEY_MAX_DAYS)")
	fs.DurationVar(&o.sessionIdle, "session-idle", env.dur("KALA_SESSION_IDLE", d.SessionIdle), "session idle timeout (KALA_SESSION_IDLE)")
	fs.DurationVar(&o.sessionMax, "session-max", env.dur("KALA_SESSION_MAX", d.SessionMax), "session absolute timeout (KALA_SESSION_MAX)")
	fs.BoolVar(&o.cookieSecure, "cookie-secure", env.boolean("KALA_COOKIE_SECURE", false), "mark the session cookie Secure (KALA_COOKIE_SECURE)")
	fs.StringVar(&o.corsOrigins, "cors-origins", env.str("KALA_CORS_ORIGINS", ""), "comma-separated origins allowed by CORS (KALA_CORS_ORIGINS)")
	fs.DurationVar(&o.queryTimeout, "query-timeout", env.dur("KALA_QUERY_TIMEOUT", d.QueryTimeout), "SQL query timeout (KALA_QUERY_TIMEOUT)")
	fs.StringVar(&o.publicURL, "public-url", env.str("KALA_PUBLIC_URL", ""), "the origin users reach the server at, e.g. https://kala.example.com behind a proxy (KALA_PUBLIC_URL)")
	fs.StringVar(&o.trusted, "trusted-proxies", env.str("KALA_TRUSTED_PROXIES", ""), "comma-separated CIDRs of proxies whose X-Forwarded-For is believed (KALA_TRUSTED_PROXIES)")
	fs.StringVar(&o.rateFailures, "rate-failures", env.str("KALA_RATE_FAILURES", rateString(d.RateFailures)), "failed credentials allowed per client address, N/window or off (KALA_RATE_FAILURES)")
	fs.StringVar(&o.ratePasswords, "rate-passwords", env.str("KALA_RATE_PASSWORDS", rateString(d.RatePasswords)), "password verifications allowed per client address, N/window or off (KALA_RATE_PASSWORDS)")
	fs.DurationVar(&o.auditKeep, "audit-retention", env.dur("KALA_AUDIT_RETENTION", d.AuditRetention), "how long security events are kept, like 2160h for 90 days (KALA_AUDIT_RETENTION)")
	fs.IntVar(&o.queryPerUser, "query-per-user", env.num("KALA_QUERY_PER_USER", d.QueryPerUser), "queries one user may run at once (KALA_QUERY_PER_USER)")
	fs.IntVar(&o.queryMax, "query-max", env.num("KALA_QUERY_MAX", d.QueryMax), "queries the server runs at once, all users together (KALA_QUERY_MAX)")
	fs.IntVar(&o.dbConns, "db-conns", env.num("KALA_DB_CONNS", db.DefaultMaxConns()), "connections the server's database pool opens at most (KALA_DB_CONNS)")
	o.envErrs = env.errs
	return &o, fs
}

// parse reads the flags wherever they are among args, and returns the other words
// (the command and its arguments) in order. Nothing is checked but the flags' syntax:
// help must work without any configuration. After "--" every word is an argument.
func parse(args []string) (o *options, words []string, help bool, err error) {
	o, fs := newFlagSet()
	for len(args) > 0 {
		err := fs.Parse(args)
		rest := fs.Args()
		if errors.Is(err, flag.ErrHelp) {
			help = true
		} else if err != nil {
			return nil, words, false, err
		} else if len(rest) == 0 {
			break
		} else if consumed := args[:len(args)-len(rest)]; len(consumed) > 0 && consumed[len(consumed)-1] == "--" {
			words = append(words, rest...)
			break
		} else {
			words = append(words, rest[0])
			rest = rest[1:]
		}
		args = rest
	}
	if o.databaseURL == "" {
		o.databaseURL = os.Getenv("DATABASE_URL")
	}
	if o.adminPassword == "" {
		o.adminPassword = os.Getenv("KALA_ADMIN_PASSWORD")
	}
	return o, words, help, nil
}

// check validates the whole configuration, naming every problem at once, and derives
// the parsed forms (proxies, rates).
func (o *options) check() error {
	if len(o.envErrs) > 0 {
		return errors.New("bad configuration: " + strings.Join(o.envErrs, "; "))
	}
	var bad []string
	if o.databaseURL == "" {
		bad = append(bad, "DATABASE_URL is not set (make run starts a private PostgreSQL and sets it)")
	}
	if o.tokenTTL <= 0 || o.sessionIdle <= 0 || o.sessionMax <= 0 || o.queryTimeout <= 0 || o.apiKeyMaxDays <= 0 ||
		o.auditKeep <= 0 || o.queryPerUser <= 0 || o.queryMax <= 0 || o.dbConns <= 0 {
		bad = append(bad, "durations, -api-key-max-days, -query-per-user, -query-max and -db-conns must be positive")
	}
	if o.sessionIdle > o.sessionMax {
		bad = append(bad, "KALA_SESSION_IDLE must not exceed KALA_SESSION_MAX")
	}
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		bad = append(bad, fmt.Sprintf("KALA_ADDR=%q: want host:port", o.addr))
	}
	if o.metricsAddr != "" {
		if _, _, err := net.SplitHostPort(o.metricsAddr); err != nil {
			bad = append(bad, fmt.Sprintf("KALA_METRICS_ADDR=%q: want host:port", o.metricsAddr))
		} else if o.metricsAddr == o.addr {
			bad = append(bad, "KALA_METRICS_ADDR must differ from KALA_ADDR (leave it empty to serve /metrics there)")
		}
	} else if o.pprof {
		// profiles show the process's insides: never on the public listener
		bad = append(bad, "KALA_PPROF needs KALA_METRICS_ADDR: profiles are served on the metrics listener only")
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
		return errors.New("bad configuration: " + strings.Join(bad, "; "))
	}
	return nil
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
		AuditRetention: o.auditKeep, QueryPerUser: o.queryPerUser, QueryMax: o.queryMax, MetricsElsewhere: o.metricsAddr != ""}
}

// versionLine is what `kala version` prints: module version, VCS revision (with its
// time, and whether the tree had uncommitted changes) and Go version.
func versionLine(info *debug.BuildInfo) string {
	if info == nil {
		return "kala (no build information)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var vcs []string
	for _, key := range []string{"vcs.revision", "vcs.time", "vcs.modified"} {
		for _, s := range info.Settings {
			switch {
			case s.Key != key:
			case key == "vcs.modified":
				if s.Value == "true" {
					vcs = append(vcs, "modified")
				}
			default:
				vcs = append(vcs, s.Value)
			}
		}
	}
	line := "kala " + v
	if len(vcs) > 0 {
		line += " (" + strings.Join(vcs, ", ") + ")"
	}
	if info.GoVersion != "" {
		line += " " + info.GoVersion
	}
	return line
}

// migrationReport says what a migration did.
func migrationReport(m db.Migration) string {
	switch len(m.Applied) {
	case 0:
		return fmt.Sprintf("database is up to date at version %d", m.Version)
	case 1:
		return fmt.Sprintf("applied 1 migration (now at version %d): %s", m.Version, m.Applied[0])
	}
	return fmt.Sprintf("applied %d migrations (now at version %d): %s", len(m.Applied), m.Version, strings.Join(m.Applied, ", "))
}

func openMigrated(ctx context.Context, o *options) (*db.DB, db.Migration, error) {
	d, err := db.Open(ctx, o.databaseURL)
	if err != nil {
		return nil, db.Migration{}, err
	}
	d.SetMaxConns(o.dbConns)
	m, err := d.Migrate(ctx)
	if err != nil {
		d.Close()
		return nil, db.Migration{}, err
	}
	return d, m, nil
}

func resetPassword(ctx context.Context, o *options, log *slog.Logger, user string) error {
	d, _, err := openMigrated(ctx, o)
	if err != nil {
		return err
	}
	defer d.Close()
	pw, err := impl.AccountsAlone(d, o.config()).ResetPassword(ctx, user)
	if err != nil {
		return err
	}
	fmt.Printf("new password for %s (shown once; they should change it): %s\n", user, pw)
	return nil
}

func serve(ctx context.Context, o *options, log *slog.Logger) error {
	d, m, err := openMigrated(ctx, o)
	if err != nil {
		return err
	}
	defer d.Close()
	if len(m.Applied) > 0 {
		log.Info("migrated", "applied", m.Applied, "version", m.Version)
	}
	s, err := impl.New(ctx, d, o.config(), log)
	if err != nil {
		return err
	}
	generated, created, err := s.Accounts.Bootstrap(ctx, o.adminPassword)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if created && generated != "" {
		// printed once, to the terminal, never into the structured log
		fmt.Fprintf(console, "\n  Created user ADMIN with password: %s\n  It is shown only now; change it after logging in.\n\n", generated)
	} else if created {
		log.Info("created user ADMIN with the password from KALA_ADMIN_PASSWORD")
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	go s.Janitor(ctx)

	servers := []*http.Server{{Addr: o.addr, Handler: s}}
	if o.metricsAddr != "" {
		metrics := http.NewServeMux()
		metrics.Handle("GET /metrics", s.Metrics())
		if o.pprof {
			metrics.HandleFunc("/debug/pprof/", pprof.Index)
			metrics.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
			metrics.HandleFunc("/debug/pprof/profile", pprof.Profile)
			metrics.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			metrics.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
		servers = append(servers, &http.Server{Addr: o.metricsAddr, Handler: metrics})
	}
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		ln, err := net.Listen("tcp", srv.Addr)
		if err != nil {
			for _, started := range servers[:i] {
				started.Close()
			}
			return err
		}
		srv.ReadHeaderTimeout, srv.IdleTimeout = 10*time.Second, 2*time.Minute
		srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
		go func() { errc <- srv.Serve(ln) }()
		if i == 0 {
			log.Info("serving", "addr", ln.Addr().String())
		} else {
			log.Info("serving metrics", "addr", ln.Addr().String())
		}
	}
	select {
	case err := <-errc:
		for _, srv := range servers {
			srv.Close()
		}
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for _, srv := range servers {
		errs = append(errs, srv.Shutdown(sctx))
	}
	return errors.Join(errs...)
}
