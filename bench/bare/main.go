// Command bare is the benchmark's baseline: net/http answering GET /hello with a small
// JSON object, encoded per request, and nothing else (no logging, no middleware).
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	flag.Parse()
	http.HandleFunc("GET /hello", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			Message string `json:"message"`
		}{"hello"})
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
