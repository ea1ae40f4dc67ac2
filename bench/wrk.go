package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// request is one call as wrk sends it.
type request struct {
	Method  string
	URL     string
	Headers map[string]string
	Body    string
}

// wrkResult is what wrk's done() hook reports (see luaScript), in microseconds.
type wrkResult struct {
	Requests   uint64  `json:"requests"`
	DurationUS uint64  `json:"duration_us"`
	Connect    uint64  `json:"connect"`
	Read       uint64  `json:"read"`
	Write      uint64  `json:"write"`
	Status     uint64  `json:"status"` // answers that were not 2xx or 3xx
	Timeout    uint64  `json:"timeout"`
	P50US      float64 `json:"p50_us"`
	P99US      float64 `json:"p99_us"`
	MeanUS     float64 `json:"mean_us"`
}

func (r wrkResult) errors() uint64 { return r.Connect + r.Read + r.Write + r.Status + r.Timeout }

func (r wrkResult) rps() float64 {
	if r.DurationUS == 0 {
		return 0
	}
	return float64(r.Requests) / (float64(r.DurationUS) / 1e6)
}

// wrkMarker starts the line the Lua done() hook prints.
const wrkMarker = "BENCHJSON "

// luaScript sets the request and prints wrk's summary as one JSON line: numbers, not
// wrk's rounded human-readable units.
func luaScript(r request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "wrk.method = %s\n", luaString(r.Method))
	if r.Body != "" {
		fmt.Fprintf(&b, "wrk.body = %s\n", luaString(r.Body))
	}
	keys := make([]string, 0, len(r.Headers))
	for k := range r.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "wrk.headers[%s] = %s\n", luaString(k), luaString(r.Headers[k]))
	}
	b.WriteString(`done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('` + wrkMarker + `{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%.1f,"p99_us":%.1f,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
`)
	return b.String()
}

// luaString quotes s as a Lua string literal (decimal escapes for anything unusual).
func luaString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			b.WriteString(`\` + strconv.Itoa(int(c)))
		} else {
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// parseWrk finds the done() hook's line in wrk's output.
func parseWrk(out []byte) (wrkResult, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), wrkMarker); ok {
			var r wrkResult
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				return wrkResult{}, fmt.Errorf("wrk summary %q: %w", rest, err)
			}
			return r, nil
		}
	}
	return wrkResult{}, fmt.Errorf("no %q line in wrk's output:\n%s", strings.TrimSpace(wrkMarker), out)
}

// loadgen runs wrk with a fixed number of threads and connections.
type loadgen struct {
	bin         string
	threads     int
	connections int
	dir         string // for the Lua scripts
}

func (g loadgen) run(ctx context.Context, name string, r request, d time.Duration) (wrkResult, error) {
	script := filepath.Join(g.dir, name+".lua")
	if err := os.WriteFile(script, []byte(luaScript(r)), 0o600); err != nil {
		return wrkResult{}, err
	}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, g.bin, "-t", strconv.Itoa(g.threads), "-c", strconv.Itoa(g.connections),
		"-d", strconv.Itoa(secs)+"s", "--timeout", "10s", "-s", script, r.URL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w\n%s", name, err, out)
	}
	return parseWrk(out)
}
