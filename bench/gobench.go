package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// goBench is one of the server module's Go benchmarks that measures something issue 12
// asks for, run with `go test -bench`.
type goBench struct {
	Name      string   // without the Benchmark prefix
	Benchtime string   // go test -benchtime
	Count     int      // go test -count: samples for the median
	What      string   // what it measures, for results.md
	Hide      []string // metrics results.md leaves out (go test's own, where they mean nothing here)
}

// goSample is one result line of `go test -bench`: the (sub-)benchmark's name without
// the Benchmark prefix and the -GOMAXPROCS suffix, and its metrics by unit.
type goSample struct {
	Name    string
	Metrics map[string]float64
}

var benchLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+(.+)$`)

// parseGoBench reads the result lines of `go test -bench` output ("value unit" pairs
// after the iteration count); other lines are ignored.
func parseGoBench(out []byte) []goSample {
	var samples []goSample
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		f := strings.Fields(m[2])
		s := goSample{Name: m[1], Metrics: map[string]float64{}}
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			s.Metrics[f[i+1]] = v
		}
		if len(s.Metrics) > 0 {
			samples = append(samples, s)
		}
	}
	return samples
}

var benchFunc = regexp.MustCompile(`(?m)^func Benchmark(\w+)\(\w+ \*testing\.B\)`)

// findBenchmarks maps each benchmark name to the package directory (relative to root,
// as ./dir) whose tests define it, searching the module at root but not modules nested
// in it. Reading the sources is much cheaper than `go test -list`, which links every
// test binary of the module.
func findBenchmarks(root string) (map[string]string, error) {
	found := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range benchFunc.FindAllSubmatch(src, -1) {
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			found[string(m[1])] = "./" + filepath.ToSlash(rel)
		}
		return nil
	})
	return found, err
}

// goBenchResult is a benchmark's samples, or why there are none.
type goBenchResult struct {
	goBench
	Pkg     string
	Samples []goSample
	Err     string
}

// median of one metric over the samples of one (sub-)benchmark; ok false if none.
func (r goBenchResult) median(name, unit string) (float64, int, bool) {
	var v []float64
	for _, s := range r.Samples {
		if x, ok := s.Metrics[unit]; ok && s.Name == name {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return 0, 0, false
	}
	return median(v), len(v), true
}

// units lists, per (sub-)benchmark, the metrics reported but not hidden, in a stable order.
func (r goBenchResult) units(hide []string) (names []string, units map[string][]string) {
	units = map[string][]string{}
	for _, s := range r.Samples {
		if _, ok := units[s.Name]; !ok {
			names = append(names, s.Name)
		}
		for u := range s.Metrics {
			if !contains(units[s.Name], u) && !contains(hide, u) {
				units[s.Name] = append(units[s.Name], u)
			}
		}
	}
	for _, n := range names {
		sort.Strings(units[n])
	}
	return names, units
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// runGoBench runs one benchmark with go test in the server module at root, echoing its
// output to log.
func runGoBench(ctx context.Context, goBin, root string, pkgs map[string]string, b goBench, env []string, log io.Writer) goBenchResult {
	r := goBenchResult{goBench: b}
	pkg, ok := pkgs[b.Name]
	if !ok {
		r.Err = "not found in any *_test.go of the server module"
		return r
	}
	r.Pkg = pkg
	args := []string{"test", "-run", "^$", "-bench", "^Benchmark" + b.Name + "$", "-benchmem",
		"-count", strconv.Itoa(b.Count), "-timeout", "30m"}
	if b.Benchtime != "" {
		args = append(args, "-benchtime", b.Benchtime)
	}
	args = append(args, pkg)
	fmt.Fprintf(log, "\n$ go %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir, cmd.Env = root, env
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, log)
	cmd.Stderr = cmd.Stdout
	err := cmd.Run()
	r.Samples = parseGoBench(out.Bytes())
	if err != nil {
		r.Err = fmt.Sprintf("go test: %v", err)
	} else if len(r.Samples) == 0 {
		r.Err = "no result lines in go test's output"
	}
	return r
}
