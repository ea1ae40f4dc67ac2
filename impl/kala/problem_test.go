package kala

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kala-server/kala/gen"
	"github.com/kala-server/kala/impl/errs"
)

// TooMany is 429 with Retry-After in whole seconds, rounded up; without a wait, no header.
func TestWriteErrorTooMany(t *testing.T) {
	for _, tt := range []struct {
		wait time.Duration
		want string
	}{{1500 * time.Millisecond, "2"}, {time.Millisecond, "1"}, {time.Minute, "60"}, {0, ""}} {
		e := errs.E(errs.TooMany, "slow down")
		e.RetryAfter = tt.wait
		rec := httptest.NewRecorder()
		WriteError(rec, e, "r1")
		var p gen.Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		if rec.Code != 429 || p.Status != 429 || p.Type != problemBase+"too-many-requests" || rec.Header().Get("Retry-After") != tt.want {
			t.Errorf("wait %v: status %d, Retry-After %q, problem %+v", tt.wait, rec.Code, rec.Header().Get("Retry-After"), p)
		}
	}
}
