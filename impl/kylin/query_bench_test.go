package kylin_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/kala-server/kala/impl/testkit"
)

// BenchmarkQuery10kRows reads 10,000 rows of four columns (integer, text, double, date)
// through POST /kylin/api/query over real HTTP with Basic auth (verified once, then
// cached, so this measures the query path), and the same SELECT through database/sql and
// lib/pq on the server's own connection, every value read as text. The server benchmark
// also reports, from one call measured apart, the peak growth of live heap objects
// during the call (peak-heap-MB, sampled every 200 µs) and what the call allocated
// (alloc-MB): the server runs in this process, so both include the client reading the
// body. Both report the CPU time per call of this process (cpu-ms, for the server its
// client's too) and of the PostgreSQL backends of the test's database (pg-cpu-ms), which
// hold up better than the time per call when the machine is busy.
func BenchmarkQuery10kRows(b *testing.B) { benchmarkQuery(b, 10000, false) }

// BenchmarkQuery50kRowsJDBC is BenchmarkQuery10kRows at the row cap, asked as Kylin's JDBC
// driver asks for a statement without max rows: its headers, no limit, backdoorToggles
// and an empty params.
func BenchmarkQuery50kRowsJDBC(b *testing.B) { benchmarkQuery(b, 50000, true) }

func benchmarkQuery(b *testing.B, n int, jdbc bool) {
	e := testkit.New(b)
	tok := testkit.Bearer(e.AdminToken())
	p := testkit.NewProject(b, e, tok, "sb_bench", "")
	base := "/api/datastores/" + p.ID
	e.Do("POST", base+"/tables", map[string]any{"name": "b", "columns": []map[string]any{
		{"name": "id", "type": "integer"}, {"name": "name", "type": "text"},
		{"name": "amount", "type": "double"}, {"name": "day", "type": "date"}}}, tok).Expect(b, 201)
	for start := 0; start < n; start += 10000 {
		rows := make([]map[string]any, 0, 10000)
		for i := start; i < min(n, start+10000); i++ {
			rows = append(rows, map[string]any{"id": i, "name": fmt.Sprintf("customer-%05d", i), "amount": float64(i) * 1.25,
				"day": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i%365).Format("2006-01-02")})
		}
		e.Do("POST", base+"/tables/b/rows", rows, tok).Expect(b, 201)
	}
	const query = `SELECT id, name, amount, day FROM b ORDER BY id`

	b.Run("server", func(b *testing.B) {
		in := map[string]any{"sql": query, "project": p.Name, "limit": n}
		if jdbc {
			in = map[string]any{"sql": query, "project": p.Name, "acceptPartial": false, "params": []any{},
				"backdoorToggles": map[string]string{"ATTR_STATEMENT_MAX_ROWS": "0"}}
		}
		body, _ := json.Marshal(in)
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
		defer client.CloseIdleConnections()
		call := func() []byte {
			req, err := http.NewRequest("POST", e.URL+"/kylin/api/query", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.SetBasicAuth("ADMIN", testkit.AdminPassword)
			if jdbc {
				req.Header.Set("Accept", "application/vnd.apache.kylin-v4-public+json, text/plain, */*")
				req.Header.Set("User-Agent", "KylinJDBCDriver")
			}
			res, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			out, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil || res.StatusCode != 200 {
				b.Fatalf("status %d, %v: %.300s", res.StatusCode, err, out)
			}
			return out
		}
		// warm up (Basic verification, the project's pool) and check the answer
		var r sbResult
		if err := json.Unmarshal(call(), &r); err != nil || r.Data.IsException || len(r.Data.Results) != n || r.Data.Partial {
			b.Fatalf("%d rows, partial %v, %v %s", len(r.Data.Results), r.Data.Partial, err, r.msg())
		}
		use := sbMeasure(func() { call() })
		b.ReportAllocs()
		self, pg := cpuUse(b, e)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			call()
		}
		b.StopTimer()
		reportCPU(b, e, self, pg)
		b.ReportMetric(float64(use.Peak)/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(use.Alloc)/(1<<20), "alloc-MB")
	})

	b.Run("libpq", func(b *testing.B) {
		q := `SELECT id, name, amount, day FROM ` + pq.QuoteIdentifier(p.Schema) + `.b ORDER BY id`
		read := func() int {
			rs, err := e.DB.Query(q)
			if err != nil {
				b.Fatal(err)
			}
			defer rs.Close()
			vals := make([]sql.NullString, 4)
			ptrs := []any{&vals[0], &vals[1], &vals[2], &vals[3]}
			count := 0
			for rs.Next() {
				if err := rs.Scan(ptrs...); err != nil {
					b.Fatal(err)
				}
				count++
			}
			if err := rs.Err(); err != nil {
				b.Fatal(err)
			}
			return count
		}
		if got := read(); got != n {
			b.Fatalf("%d rows", got)
		}
		b.ReportAllocs()
		self, pg := cpuUse(b, e)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			read()
		}
		b.StopTimer()
		reportCPU(b, e, self, pg)
	})
}

// cpuUse is the CPU time used so far by this process and by the PostgreSQL backends of
// the test's database (read from /proc: 0 elsewhere).
func cpuUse(b *testing.B, e *testkit.Env) (self, pg time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	var pids []int
	if err := e.DB.Select(&pids, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`); err != nil {
		b.Fatal(err)
	}
	for _, pid := range pids {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// after the command in parentheses: utime and stime are the 12th and 13th fields,
		// in clock ticks of 1/100 s
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 13 {
			continue
		}
		user, _ := strconv.ParseInt(f[11], 10, 64)
		sys, _ := strconv.ParseInt(f[12], 10, 64)
		pg += time.Duration(user+sys) * 10 * time.Millisecond
	}
	return self, pg
}

// reportCPU reports the CPU time per call since cpuUse gave self and pg.
func reportCPU(b *testing.B, e *testkit.Env, self, pg time.Duration) {
	self2, pg2 := cpuUse(b, e)
	per := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
	b.ReportMetric(per(self2-self), "cpu-ms/op")
	b.ReportMetric(per(pg2-pg), "pg-cpu-ms/op")
}

// heapUse is what running something did to the Go heap of this process.
type heapUse struct {
	Peak  uint64 // peak growth of heap objects, live or not yet swept (sampled)
	Live  uint64 // peak growth of the live heap as the collector last marked it (sampled)
	Alloc uint64 // bytes allocated
}

// sbMeasure runs f once and returns how it used the heap, over what was live before
// (sampled every 200 µs with runtime/metrics, which does not stop the world).
func sbMeasure(f func()) heapUse {
	runtime.GC()
	names := []string{"/memory/classes/heap/objects:bytes", "/gc/heap/live:bytes", "/gc/heap/allocs:bytes"}
	read := func() (peak, live, alloc uint64) {
		s := make([]metrics.Sample, len(names))
		for i, n := range names {
			s[i].Name = n
		}
		metrics.Read(s)
		return s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64()
	}
	base, liveBase, allocBase := read()
	var mu sync.Mutex
	top, liveTop := base, liveBase
	sample := func() {
		p, l, _ := read()
		mu.Lock()
		top, liveTop = max(top, p), max(liveTop, l)
		mu.Unlock()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(200 * time.Microsecond)
		defer tick.Stop()
		for {
			sample()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(stop)
	wg.Wait()
	sample()
	_, _, alloc := read()
	return heapUse{Peak: top - base, Live: liveTop - liveBase, Alloc: alloc - allocBase}
}
