package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: github.com/kala-server/kala/impl
cpu: AMD EPYC
BenchmarkLoginFloodShare-2   	       1	2345678901 ns/op	        87.50 share-%	 1234 B/op	      12 allocs/op
BenchmarkQuery10kRows/server-2         	      20	  52345678 ns/op	        12.30 peak-heap-MB	        40.1 alloc-MB
BenchmarkQuery10kRows/libpq            	      50	  21000000 ns/op
--- BENCH: BenchmarkUsersList1M-2
    users_list_bench_test.go:30: seeded 1000000 users in 41s
BenchmarkUsersList1M-2 	       1	 9876543210 ns/op	        95.12 first-p50-ms	 340.0 last-offset-p50-ms
PASS
ok  	github.com/kala-server/kala/impl	123.456s
`
	got := parseGoBench([]byte(out))
	want := []goSample{
		{"LoginFloodShare", map[string]float64{"ns/op": 2345678901, "share-%": 87.5, "B/op": 1234, "allocs/op": 12}},
		{"Query10kRows/server", map[string]float64{"ns/op": 52345678, "peak-heap-MB": 12.3, "alloc-MB": 40.1}},
		{"Query10kRows/libpq", map[string]float64{"ns/op": 21000000}},
		{"UsersList1M", map[string]float64{"ns/op": 9876543210, "first-p50-ms": 95.12, "last-offset-p50-ms": 340}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	r := goBenchResult{Samples: append(got, goSample{"Query10kRows/server", map[string]float64{"ns/op": 60000000}},
		goSample{"Query10kRows/server", map[string]float64{"ns/op": 40000000}})}
	if v, n, ok := r.median("Query10kRows/server", "ns/op"); !ok || n != 3 || v != 52345678 {
		t.Errorf("median = %v over %d (%v)", v, n, ok)
	}
	if _, _, ok := r.median("Query10kRows/server", "share-%"); ok {
		t.Error("median of a metric never reported: ok")
	}
}

func TestFindBenchmarks(t *testing.T) {
	root := t.TempDir()
	write := func(path, src string) {
		t.Helper()
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module x\n")
	write("impl/a_test.go", "package impl\n\nfunc BenchmarkQuery10kRows(b *testing.B) {}\nfunc benchmarkQuery(b *testing.B, n int) {}\n")
	write("impl/bench/b_test.go", "package bench\n\nfunc BenchmarkLoginFloodShare(b *testing.B) {\n}\n")
	write("impl/c.go", "package impl\n\nfunc BenchmarkNotATest(b *testing.B) {}\n")
	write("tools/other/go.mod", "module other\n")
	write("tools/other/d_test.go", "package other\n\nfunc BenchmarkElsewhere(b *testing.B) {}\n")
	write(".data/e_test.go", "package data\n\nfunc BenchmarkHidden(b *testing.B) {}\n")
	got, err := findBenchmarks(root)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Query10kRows": "./impl", "LoginFloodShare": "./impl/bench"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
