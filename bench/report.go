package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// machineInfo is what results.md says about where it was measured.
type machineInfo struct {
	CPU, Memory, Kernel, Go, PostgreSQL, PocketBase, Wrk, Commit string
	Cores                                                        int
}

func machine(ctx context.Context, c config) machineInfo {
	m := machineInfo{Cores: runtime.NumCPU(), CPU: "?", Memory: "?", Kernel: "?"}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
					m.Memory = fmt.Sprintf("%.1f GiB", kb/(1<<20))
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	first := func(name string, args ...string) string {
		out, _ := exec.CommandContext(ctx, name, args...).CombinedOutput()
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return line
	}
	m.Go = strings.TrimPrefix(first(c.goBin, "version"), "go version ")
	m.Wrk, _, _ = strings.Cut(first(c.wrkBin, "-v"), " Copyright")
	m.Commit = first("git", "-C", c.root, "rev-parse", "--short=12", "HEAD")
	if out, err := exec.CommandContext(ctx, "git", "-C", c.root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(out) > 0 {
		var files []string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if len(line) > 3 {
				files = append(files, line[3:])
			}
		}
		if len(files) > 4 {
			files = append(files[:4], "…")
		}
		m.Commit += " + changes to " + strings.Join(files, ", ")
	}
	return m
}

// report is one run's results.
type report struct {
	Config            config
	Machine           machineInfo
	Started, Finished time.Time
	LoadBefore        string
	LoadAfter         string
	PGCharged         bool // PostgreSQL's CPU is in Kala's
	Calls             []*callResult
	Flood             *floodResult  // nil when not run
	Steady            *steadyResult // nil when not run
	GoBench           []goBenchResult
}

func (r *report) call(name string) *callResult {
	for _, c := range r.Calls {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (r *report) goBench(name string) *goBenchResult {
	for i := range r.GoBench {
		if r.GoBench[i].Name == name {
			return &r.GoBench[i]
		}
	}
	return nil
}

// ms formats microseconds as milliseconds with about three significant digits.
func ms(us float64) string {
	v := us / 1000
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

func num(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func times(v float64, ok bool) string {
	if !ok {
		return "–"
	}
	return num(v) + "×"
}

func percent(v float64, ok bool) string {
	if !ok {
		return "–"
	}
	return num(100*v) + "%"
}

// target is one of issues 12's and 9's targets and how this run measured against it.
type target struct {
	What, Measured string
	Met, Known     bool
}

func (r *report) targets() []target {
	var out []target
	bare := r.call(baseline)
	add := func(what, measured string, met, known bool) {
		out = append(out, target{what, measured, met, known})
	}
	for _, name := range []string{"me-bearer", "me-apikey", "me-query", "kylin-basic", "kylin-cookie"} {
		c := r.call(name)
		if c == nil || bare == nil {
			continue
		}
		cpu, ok1 := ratio(c, bare, cpuOf)
		share, ok2 := ratio(c, bare, rpsOf)
		add(fmt.Sprintf("%s: CPU/request ≤ 3× bare, rps ≥ 30%% of bare", c.Label),
			fmt.Sprintf("%s, %s", times(cpu, ok1), percent(share, ok2)), cpu <= 3 && share >= 0.3, ok1 && ok2)
	}
	if c := r.call("healthz"); c != nil && bare != nil {
		share, ok := ratio(c, bare, rpsOf)
		add("`GET /healthz`: rps ≥ 80% of bare", percent(share, ok), share >= 0.8, ok)
	}
	// the target compares a DB-backed list with PocketBase's list of one record:
	// Kala's list of one record is the like-for-like call, its list of 50 the harder one
	for _, name := range []string{"users-list-1", "users-list"} {
		if k, p := r.call(name), r.call("pb-list-own"); k != nil && p != nil {
			v, ok := ratio(k, p, rpsOf)
			add(k.Label+" rps ≥ 2× PocketBase's 1-record list", times(v, ok), v >= 2, ok)
		}
	}
	if g := r.goBench("UsersList1M"); g != nil {
		for _, m := range []string{"first-p50-ms", "last-offset-p50-ms", "middle-after-p50-ms", "kylin-last-p50-ms"} {
			v, _, ok := g.median("UsersList1M", m)
			add("1M users, "+strings.TrimSuffix(m, "-p50-ms")+" page: p50 < 20 ms", fmt.Sprintf("%s ms", num(v)), v < 20, ok)
		}
	}
	if v, ok := r.queryRatio(); ok || r.goBench("Query10kRows") != nil {
		add("10k-row query ≤ 1.5× lib/pq", times(v, ok), v <= 1.5, ok)
	}
	if s := r.Steady; s != nil {
		if b := s.stream("kylin-basic"); b != nil {
			v, ok := b.spread()
			measured := times(v, ok && s.Err == "" && b.Errors == 0)
			if h := s.stream("healthz"); h != nil {
				if hv, hok := h.spread(); hok {
					measured += fmt.Sprintf(" (`/healthz` beside it: %s)", times(hv, true))
				}
			}
			add(fmt.Sprintf("Basic p99 ≤ 2× its p50 over %d s", s.Seconds), measured, v <= 2, ok && s.Err == "" && b.Errors == 0)
		}
	}
	if f := r.Flood; f != nil {
		v, _ := f.ratio()
		add(floodTarget, times(v, f.measured()), v <= 2, f.measured())
	}
	return out
}

// queryRatio is the 10k-row query's time through the server ÷ through lib/pq.
func (r *report) queryRatio() (float64, bool) {
	g := r.goBench("Query10kRows")
	if g == nil {
		return 0, false
	}
	s, _, ok1 := g.median("Query10kRows/server", "ns/op")
	l, _, ok2 := g.median("Query10kRows/libpq", "ns/op")
	if !ok1 || !ok2 || l == 0 {
		return 0, false
	}
	return s / l, true
}

func (r *report) write(dir string) error {
	var b strings.Builder
	c, m := r.Config, r.Machine
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# `make bench` results\n\n")
	w("Measured %s at commit %s by `make bench` ([bench/](.)); the HTTP rounds took %s. "+
		"How to run and read it: [docs/performance.md](../docs/performance.md).\n\n",
		r.Started.Format("2006-01-02 15:04 MST"), "`"+m.Commit+"`", r.Finished.Sub(r.Started).Round(time.Second))
	w("**Read the ratios, not the absolute numbers.** The machine is shared: other work ran beside this run "+
		"(load average %s before the rounds, %s after), and the load generator runs on the same two cores as the servers. "+
		"Every call ran once per round, %d rounds of %d s each, the calls interleaved (each round starts one call later); "+
		"the tables show medians of the rounds, and each ratio is the median of the per-round ratios "+
		"(a call against the baseline, or PocketBase, measured in the same round).\n\n",
		r.LoadBefore, r.LoadAfter, c.rounds, c.seconds)
	w("| machine | |\n|---|---|\n")
	w("| CPU | %s |\n| cores | %d |\n| memory | %s |\n| kernel | %s |\n| Go | %s |\n| PostgreSQL | %s |\n",
		m.CPU, m.Cores, m.Memory, m.Kernel, m.Go, m.PostgreSQL)
	if m.PocketBase != "" {
		w("| PocketBase | %s (built from the Go module proxy; SQLite in process) |\n", m.PocketBase)
	}
	w("| load generator | %s, %d threads, %d connections, on the same machine |\n\n", m.Wrk, c.threads, c.connections)

	pg := "and PostgreSQL's: its postmaster and every child of it, running or exited"
	if !r.PGCharged {
		pg = "**without PostgreSQL's**, which did not run on this machine"
	}
	w("## HTTP calls\n\n")
	w("CPU/request is the server process's user + system time during the round (for Kala, %s) "+
		"divided by the requests wrk completed. p50 and p99 are wrk's latencies at %d connections, so they include queueing. "+
		"Kala runs as `kala serve` (its request log to a file), with the rate limits off (`KALA_RATE_FAILURES=off KALA_RATE_PASSWORDS=off`) "+
		"so one address may log in as fast as it can; the login user only ever sends its right password.\n\n", pg, c.connections)
	w("| call | server | rps | p50 | p99 | CPU µs/request | CPU × bare | rps %% of bare | errors |\n")
	w("|---|---|--:|--:|--:|--:|--:|--:|--:|\n")
	bare := r.call(baseline)
	for _, cr := range r.Calls {
		cpu, ok1 := ratio(cr, bare, cpuOf)
		share, ok2 := ratio(cr, bare, rpsOf)
		w("| %s | %s | %.0f | %s | %s | %s | %s | %s | %d |\n", cr.Label, cr.Server, cr.rps(), ms(cr.p50()), ms(cr.p99()),
			num(cr.cpu()), times(cpu, ok1), percent(share, ok2), cr.errors())
	}
	w("\nerrors: connection errors, timeouts and answers other than 2xx/3xx, all rounds together (a call with errors measured something else).\n\n")

	if r.call("pb-view") != nil {
		w("## Kala and PocketBase\n\n")
		w("| Kala | PocketBase | rps Kala ÷ PocketBase | CPU/request Kala ÷ PocketBase |\n|---|---|--:|--:|\n")
		for _, p := range pairs {
			k, pb := r.call(p[0]), r.call(p[1])
			if k == nil || pb == nil {
				continue
			}
			rv, ok1 := ratio(k, pb, rpsOf)
			cv, ok2 := ratio(k, pb, cpuOf)
			w("| %s | %s | %s | %s |\n", k.Label, pb.Label, times(rv, ok1), times(cv, ok2))
		}
		w("\nPocketBase keeps its data in SQLite inside its own process, so its CPU/request covers its database too, as Kala's covers PostgreSQL. " +
			"It writes a log record per request into its logs database, as it does by default; Kala writes a log line per request.\n\n")
	}

	if r.Steady != nil {
		b.WriteString(r.Steady.section())
	}
	if r.Flood != nil {
		b.WriteString(r.Flood.section())
	}

	if len(r.GoBench) > 0 {
		w("## Go benchmarks\n\n")
		w("From the server module, run by the harness after the HTTP rounds (servers stopped) as " +
			"`go test -run '^$' -bench '^BenchmarkNAME$' -benchmem -count N` on the test database; each is an in-process server over real HTTP. " +
			"Medians over the -count samples.\n\n")
		for _, g := range r.GoBench {
			if g.Name == "" {
				w("Could not look for benchmarks: %s\n\n", g.Err)
				continue
			}
			w("**Benchmark%s** (`%s`, -count %d", g.Name, g.Pkg, g.Count)
			if g.Benchtime != "" {
				w(", -benchtime %s", g.Benchtime)
			}
			w("): %s.", g.What)
			if g.Err != "" {
				w(" **Failed: %s** (the run's output has why).", g.Err)
			}
			w("\n\n")
			names, units := g.units(g.Hide)
			if len(names) == 0 {
				continue
			}
			w("| benchmark | metric | median | samples |\n|---|---|--:|--:|\n")
			for _, n := range names {
				for _, u := range units[n] {
					v, k, _ := g.median(n, u)
					w("| %s | %s | %s | %d |\n", n, u, num(v), k)
				}
			}
			if g.Name == "Query10kRows" {
				if v, ok := r.queryRatio(); ok {
					w("\nserver ÷ lib/pq (ns/op): **%s**\n", times(v, true))
				}
			}
			w("\n")
		}
	}

	if t := r.targets(); len(t) > 0 {
		w("## Targets\n\nIssue 12's, and issue 9's login during a query flood.\n\n| target | this run | met |\n|---|--:|---|\n")
		for _, x := range t {
			met := "no"
			switch {
			case !x.Known:
				met = "not measured"
			case x.Met:
				met = "yes"
			}
			w("| %s | %s | %s |\n", x.What, x.Measured, met)
		}
		w("\n")
	}

	png := filepath.Join(dir, "results.png")
	drawn, err := r.chart(png)
	if err != nil {
		return err
	}
	if drawn {
		w("![Ratios to bare net/http and Kala ÷ PocketBase](results.png)\n\n")
	} else if err := os.Remove(png); err != nil && !os.IsNotExist(err) {
		return err // an older run's chart would not match this file
	}
	w("<details><summary>Every round</summary>\n\n| round | call | rps | p50 | p99 | CPU µs/request | errors |\n|--:|---|--:|--:|--:|--:|--:|\n")
	for round := range c.rounds {
		for _, cr := range r.Calls {
			for _, s := range cr.Samples {
				if s.Round == round {
					w("| %d | %s | %.0f | %s | %s | %s | %d |\n", round+1, cr.Name, s.rps(), ms(s.P50US), ms(s.P99US), num(s.cpuPerReq()), s.errors())
				}
			}
		}
	}
	if r.Flood != nil {
		b.WriteString(r.Flood.roundsTable())
	}
	w("\n</details>\n")
	return os.WriteFile(filepath.Join(dir, "results.md"), []byte(b.String()), 0o644)
}
