// Command bench is `make bench`: it starts Kala (the real binary, on a fresh database in
// PostgreSQL), a bare net/http JSON baseline and PocketBase, drives each call with wrk in
// interleaved rounds (every call once per round, so a busy moment of the machine hits
// all of them alike), charges each call the CPU its server and PostgreSQL spent (from
// /proc), times Kala's logins while a query flood from this process runs (issue 9), runs
// the server module's Go benchmarks that measure the rest of issue 12, and writes
// results.md and results.png.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/lib/pq"
)

type config struct {
	root, kalaBin, adminURL, work, out, goBin, wrkBin string
	seconds, rounds, warmup                           int
	threads, connections                              int
	pbVersion                                         string
	goCount, oneMCount                                int
	goBench, flood, steady                            bool
	floodRounds, steadySeconds, steadyRate            int
	calls                                             *regexp.Regexp
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envStr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	var c config
	var calls string
	flag.StringVar(&c.root, "root", "..", "the Kala repository (the server module)")
	flag.StringVar(&c.kalaBin, "kala", "../bin/kala", "the kala binary to serve (make build)")
	flag.StringVar(&c.adminURL, "admin-url", os.Getenv("KALA_TEST_DATABASE_URL"),
		"PostgreSQL URL of a superuser (as KALA_TEST_DATABASE_URL): the run makes a fresh database kala_bench there, and the Go benchmarks use it as tests do")
	flag.StringVar(&c.work, "work", "../.data/bench", "scratch folder (git-ignored): logs, wrk scripts, the PocketBase build and data")
	flag.StringVar(&c.out, "out", ".", "where results.md and results.png go")
	flag.IntVar(&c.seconds, "seconds", envInt("BENCH_SECONDS", 4), "seconds per call per round (BENCH_SECONDS)")
	flag.IntVar(&c.rounds, "rounds", envInt("BENCH_ROUNDS", 5), "interleaved rounds; the tables show medians (BENCH_ROUNDS)")
	flag.IntVar(&c.warmup, "warmup", envInt("BENCH_WARMUP", 1), "seconds per call of unrecorded warm-up before the rounds (BENCH_WARMUP)")
	flag.IntVar(&c.threads, "threads", 2, "wrk threads")
	flag.IntVar(&c.connections, "connections", 32, "wrk connections")
	flag.StringVar(&c.pbVersion, "pocketbase", envStr("BENCH_POCKETBASE", "v0.36.8"), "PocketBase version to build and compare with; off to skip (BENCH_POCKETBASE)")
	flag.IntVar(&c.goCount, "go-count", envInt("BENCH_GO_COUNT", 3), "go test -count for the login-flood and 10k-row query benchmarks (BENCH_GO_COUNT)")
	flag.IntVar(&c.oneMCount, "1m-count", envInt("BENCH_1M_COUNT", 1), "go test -count for the 1M-user lists, each seeding a million users (BENCH_1M_COUNT)")
	flag.BoolVar(&c.goBench, "go", os.Getenv("BENCH_GO") != "off", "run the Go benchmarks (BENCH_GO=off skips them)")
	flag.BoolVar(&c.flood, "flood", os.Getenv("BENCH_FLOOD") != "off", "time logins during a query flood from this process (BENCH_FLOOD=off skips it)")
	flag.IntVar(&c.floodRounds, "flood-rounds", envInt("BENCH_FLOOD_ROUNDS", 5), "interleaved idle/flooded login rounds (BENCH_FLOOD_ROUNDS)")
	flag.BoolVar(&c.steady, "steady", os.Getenv("BENCH_STEADY") != "off", "drive Basic who-am-I and /healthz at a fixed rate side by side (BENCH_STEADY=off skips it)")
	flag.IntVar(&c.steadySeconds, "steady-seconds", envInt("BENCH_STEADY_SECONDS", 120), "seconds of the fixed-rate run (BENCH_STEADY_SECONDS)")
	flag.IntVar(&c.steadyRate, "steady-rate", envInt("BENCH_STEADY_RATE", 1500), "requests per second of each call in the fixed-rate run (BENCH_STEADY_RATE)")
	flag.StringVar(&calls, "calls", envStr("BENCH_CALLS", "."), "regexp of the HTTP calls to drive, by name (BENCH_CALLS); bare-hello always runs")
	flag.StringVar(&c.goBin, "go-bin", "go", "the go command")
	flag.StringVar(&c.wrkBin, "wrk", "wrk", "the wrk command")
	flag.Parse()
	var err error
	if c.calls, err = regexp.Compile(calls); err != nil {
		fmt.Fprintln(os.Stderr, "bench: -calls:", err)
		os.Exit(2)
	}
	if c.seconds < 1 || c.rounds < 1 || c.floodRounds < 1 || c.steadySeconds < 1 || c.steadyRate < 1 || c.adminURL == "" {
		fmt.Fprintln(os.Stderr, "bench: need -seconds ≥ 1, -rounds ≥ 1, -flood-rounds ≥ 1, -steady-seconds ≥ 1, -steady-rate ≥ 1 and -admin-url (or KALA_TEST_DATABASE_URL)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// database makes a fresh database kala_bench and finds PostgreSQL's postmaster (the
// parent of this connection's backend), if it runs on this machine.
func database(ctx context.Context, adminURL string) (dbURL, version string, postmaster int, err error) {
	db, err := sql.Open("postgres", adminURL)
	if err != nil {
		return "", "", 0, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", "", 0, fmt.Errorf("connect to %s: %w", redact(adminURL), err)
	}
	defer conn.Close()
	for _, q := range []string{`DROP DATABASE IF EXISTS kala_bench WITH (FORCE)`, `CREATE DATABASE kala_bench`} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return "", "", 0, fmt.Errorf("%s: %w", q, err)
		}
	}
	var backend int
	if err := conn.QueryRowContext(ctx, `SELECT current_setting('server_version'), pg_backend_pid()`).Scan(&version, &backend); err != nil {
		return "", "", 0, err
	}
	if s, err := readStat("/proc", backend); err == nil && strings.HasPrefix(s.Comm, "postgres") {
		if p, err := readStat("/proc", s.PPID); err == nil && strings.HasPrefix(p.Comm, "postgres") {
			postmaster = p.PID
		}
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", "", 0, err
	}
	u.Path = "/kala_bench"
	return u.String(), version, postmaster, nil
}

// redact hides a password in a database URL.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func run(ctx context.Context, c config) error {
	for _, p := range []*string{&c.root, &c.kalaBin, &c.work, &c.out} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	if err := os.MkdirAll(c.work, 0o700); err != nil {
		return err
	}
	if _, err := exec.LookPath(c.wrkBin); err != nil {
		return fmt.Errorf("wrk not found (make bench installs Debian's wrk package): %w", err)
	}
	if _, err := os.Stat(c.kalaBin); err != nil {
		return fmt.Errorf("the kala binary (make build): %w", err)
	}
	rep := &report{Config: c, Started: time.Now().UTC()}
	rep.Machine = machine(ctx, c)

	dbURL, pgVersion, postmaster, err := database(ctx, c.adminURL)
	if err != nil {
		return err
	}
	rep.Machine.PostgreSQL = pgVersion
	rep.PGCharged = postmaster != 0
	if postmaster == 0 {
		logf("PostgreSQL's postmaster is not a process on this machine: Kala's CPU per request leaves PostgreSQL out")
	}

	// builds
	bareBin := filepath.Join(c.work, "bare")
	if out, err := exec.CommandContext(ctx, c.goBin, "build", "-o", bareBin, "./bare").CombinedOutput(); err != nil {
		return fmt.Errorf("build the baseline: %w\n%s", err, out)
	}
	pbBin := ""
	if c.pbVersion != "off" {
		if pbBin, err = buildPocketBase(ctx, c.goBin, filepath.Join(c.work, "pocketbase"), c.pbVersion, os.Stderr); err != nil {
			return err
		}
		rep.Machine.PocketBase = c.pbVersion
	}

	// servers
	var procs []*proc
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	hc := api{hc: defaultClient()}

	kalaAddr, err := freeAddr()
	if err != nil {
		return err
	}
	adminPW := randomPassword()
	kalaLog := filepath.Join(c.work, "kala.log")
	kala, err := start(ctx, "kala", c.kalaBin, []string{"serve"}, env(
		"DATABASE_URL="+dbURL, "KALA_ADDR="+kalaAddr, "KALA_ADMIN_PASSWORD="+adminPW,
		"KALA_RATE_FAILURES=off", "KALA_RATE_PASSWORDS=off",
		// nothing the harness got at the start may expire during the run
		"KALA_TOKEN_TTL=6h", "KALA_SESSION_IDLE=6h", "KALA_SESSION_MAX=12h"), kalaAddr, kalaLog)
	if err != nil {
		return err
	}
	procs = append(procs, kala)
	if err := kala.waitReady("/healthz", kalaLog); err != nil {
		return err
	}
	hc.base = kala.base
	kc, err := seedKala(hc, adminPW)
	if err != nil {
		return fmt.Errorf("seed Kala: %w", err)
	}
	kalaRoots := []int{kala.cmd.Process.Pid}
	if postmaster != 0 {
		kalaRoots = append(kalaRoots, postmaster)
	}

	bareAddr, err := freeAddr()
	if err != nil {
		return err
	}
	bareLog := filepath.Join(c.work, "bare.log")
	bare, err := start(ctx, "bare", bareBin, []string{"-addr", bareAddr}, env(), bareAddr, bareLog)
	if err != nil {
		return err
	}
	procs = append(procs, bare)
	if err := bare.waitReady("/hello", bareLog); err != nil {
		return err
	}

	var pb *proc
	var pc pbCreds
	if pbBin != "" {
		dir := filepath.Join(c.work, "pb_data")
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		email, pw := "bench@bench.example.com", randomPassword()
		if out, err := exec.CommandContext(ctx, pbBin, "superuser", "upsert", email, pw, "--dir", dir).CombinedOutput(); err != nil {
			return fmt.Errorf("pocketbase superuser upsert: %w\n%s", err, out)
		}
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		pbLog := filepath.Join(c.work, "pocketbase.log")
		if pb, err = start(ctx, "pocketbase", pbBin, []string{"serve", "--http", addr, "--dir", dir}, env(), addr, pbLog); err != nil {
			return err
		}
		procs = append(procs, pb)
		if err := pb.waitReady("/api/health", pbLog); err != nil {
			return err
		}
		hc.base = pb.base
		if pc, err = seedPocketBase(hc, email, pw); err != nil {
			return fmt.Errorf("seed PocketBase: %w", err)
		}
	}

	meters := map[string]cpuMeter{
		"bare": {procfs: "/proc", roots: []int{bare.cmd.Process.Pid}},
		"kala": {procfs: "/proc", roots: kalaRoots},
	}
	bases := map[string]string{"bare": bare.base, "kala": kala.base}
	if pb != nil {
		meters["pocketbase"] = cpuMeter{procfs: "/proc", roots: []int{pb.cmd.Process.Pid}}
		bases["pocketbase"] = pb.base
	}
	var list []call
	for _, cl := range calls(kc, pc) {
		if _, ok := bases[cl.Server]; ok && (cl.Name == baseline || c.calls.MatchString(cl.Name)) {
			cl.Req.URL = bases[cl.Server] + cl.Req.URL
			list = append(list, cl)
		}
	}
	// every call must succeed before it is measured
	for _, cl := range list {
		if err := check(hc.hc, cl); err != nil {
			return err
		}
	}

	gen := loadgen{bin: c.wrkBin, threads: c.threads, connections: c.connections, dir: c.work}
	results := make([]*callResult, len(list))
	for i, cl := range list {
		results[i] = &callResult{call: cl}
	}
	if c.warmup > 0 {
		logf("warm-up: %d s per call", c.warmup)
		for _, cl := range list {
			if _, err := gen.run(ctx, cl.Name, cl.Req, time.Duration(c.warmup)*time.Second); err != nil {
				return err
			}
		}
	}
	rep.LoadBefore = loadavg()
	for r := range c.rounds {
		for i := range list {
			// each round starts one call later, so no call always follows the same one
			res := results[(i+r)%len(list)]
			m := meters[res.Server]
			before, err := m.ticks()
			if err != nil {
				return err
			}
			w, err := gen.run(ctx, res.Name, res.Req, time.Duration(c.seconds)*time.Second)
			if err != nil {
				return err
			}
			after, err := m.ticks()
			if err != nil {
				return err
			}
			s := sample{Round: r, wrkResult: w, CPU: ticksToDuration(after - before)}
			res.Samples = append(res.Samples, s)
			logf("round %d/%d %-14s %9.0f rps  p50 %8s  p99 %8s  CPU %7.1f µs/req  errors %d",
				r+1, c.rounds, res.Name, w.rps(), us(w.P50US), us(w.P99US), s.cpuPerReq(), w.errors())
			for _, p := range procs {
				if err := p.alive(); err != nil {
					return err
				}
			}
		}
	}
	rep.LoadAfter = loadavg()
	rep.Calls = results
	if c.steady {
		var streams []*steadyStream
		for _, cl := range calls(kc, pc) {
			if cl.Name == "kylin-basic" || cl.Name == "healthz" {
				cl.Req.URL = kala.base + cl.Req.URL
				streams = append(streams, &steadyStream{Name: cl.Name, Label: cl.Label, req: cl.Req})
			}
		}
		logf("Basic and /healthz at %d requests/s each for %d s", c.steadyRate, c.steadySeconds)
		rep.Steady = runSteady(ctx, streams, c.steadyRate, c.steadySeconds)
		for _, s := range rep.Steady.Streams {
			v, _ := s.spread()
			logf("  %-12s p50 %s p99 %s (p99 ÷ p50 %.2f) errors %d", s.Name, msOf(s.p(50)), msOf(s.p(99)), v, s.Errors)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if c.flood {
		// after the wrk rounds, so the flood's big answers and the garbage they leave do
		// not weigh on them
		logf("login during a query flood: %d rounds", c.floodRounds)
		rep.Flood = runFlood(ctx, api{base: kala.base, hc: hc.hc}, kc, c.floodRounds, kala.alive)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	rep.Finished = time.Now().UTC()
	for _, p := range procs {
		p.stop()
	}
	for _, l := range []string{kalaLog, bareLog, filepath.Join(c.work, "pocketbase.log")} {
		if err := trimLog(l, 1<<20); err != nil && !os.IsNotExist(err) {
			return err
		}
	}

	if c.goBench {
		rep.GoBench = runGoBenches(ctx, c)
	}
	if err := rep.write(c.out); err != nil {
		return err
	}
	logf("wrote %s and %s", filepath.Join(c.out, "results.md"), filepath.Join(c.out, "results.png"))
	return nil
}

// goTestOwn are go test's metrics, which mean nothing for a benchmark that reports its own.
var goTestOwn = []string{"ns/op", "B/op", "allocs/op"}

// runGoBenches runs the Go benchmarks of the server module that measure what issue 12
// asks for, in its own tree, on the test database.
func runGoBenches(ctx context.Context, c config) []goBenchResult {
	pkgs, err := findBenchmarks(c.root)
	if err != nil {
		return []goBenchResult{{Err: err.Error()}}
	}
	benches := []goBench{
		{Name: "LoginFloodShare", Benchtime: "1x", Count: c.goCount,
			What: "rate of bearer GET /api/auth/me during a wrong-password login flood, % of the rate without it",
			Hide: goTestOwn},
		{Name: "Query10kRows", Count: c.goCount,
			What: "10,000 rows through POST /kylin/api/query vs the same SELECT through lib/pq in one session"},
		{Name: "UsersList1M", Benchtime: "1x", Count: c.oneMCount,
			What: "user list pages with 1,000,000 users, p50 of 10 calls each",
			Hide: goTestOwn},
	}
	env := append(os.Environ(), "KALA_TEST_DATABASE_URL="+c.adminURL)
	var out []goBenchResult
	for _, b := range benches {
		if ctx.Err() != nil {
			break
		}
		logf("Go benchmark %s (-count %d)", b.Name, b.Count)
		out = append(out, runGoBench(ctx, c.goBin, c.root, pkgs, b, env, os.Stderr))
	}
	return out
}

// us formats microseconds for the progress lines.
func us(v float64) string {
	return (time.Duration(v * float64(time.Microsecond))).Round(10 * time.Microsecond).String()
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
