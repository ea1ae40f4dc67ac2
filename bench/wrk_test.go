package main

import (
	"strings"
	"testing"
)

func TestParseWrk(t *testing.T) {
	out := `Running 5s test @ http://127.0.0.1:8080/hello
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms    1.50ms  40.11ms   93.21%
    Req/Sec    15.10k     1.20k   18.00k    70.00%
  150123 requests in 5.00s, 20.04MB read
  Non-2xx or 3xx responses: 3
Requests/sec:  30024.60
Transfer/sec:      4.01MB
BENCHJSON {"requests":150123,"duration_us":5000000,"connect":0,"read":1,"write":0,"status":3,"timeout":2,"p50_us":840.0,"p99_us":6150.5,"mean_us":1020.3}
`
	r, err := parseWrk([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{Requests: 150123, DurationUS: 5000000, Read: 1, Status: 3, Timeout: 2, P50US: 840, P99US: 6150.5, MeanUS: 1020.3}
	if r != want {
		t.Errorf("got %+v, want %+v", r, want)
	}
	if r.errors() != 6 || r.rps() != 30024.6 {
		t.Errorf("errors %d, rps %v", r.errors(), r.rps())
	}
	if _, err := parseWrk([]byte("unable to connect to 127.0.0.1:1 Connection refused\n")); err == nil {
		t.Error("no summary line: no error")
	}
	if _, err := parseWrk([]byte("BENCHJSON {\"requests\":\n")); err == nil {
		t.Error("broken summary: no error")
	}
}

func TestLuaScript(t *testing.T) {
	s := luaScript(request{Method: "POST", Body: `{"password":"a\"b\\c"}`,
		Headers: map[string]string{"Content-Type": "application/json", "Authorization": "Bearer x\ny"}})
	for _, want := range []string{
		`wrk.method = "POST"`,
		`wrk.body = "{\34password\34:\34a\92\34b\92\92c\34}"`,
		`wrk.headers["Authorization"] = "Bearer x\10y"`,
		`wrk.headers["Content-Type"] = "application/json"`,
		`io.write(string.format('BENCHJSON {`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %s:\n%s", want, s)
		}
	}
	if strings.Contains(luaScript(request{Method: "GET"}), "wrk.body") {
		t.Error("a GET without a body sets wrk.body")
	}
}
