package kylin

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kala-server/kala/gen"
	"github.com/kala-server/kala/impl/errs"
)

// TooMany is answered with Retry-After; a query over a concurrency limit has Kylin's
// code for it, other limits Kala's KE-010000429.
func TestWriteErrorTooMany(t *testing.T) {
	for _, tt := range []struct {
		reason errs.Reason
		code   string
	}{{errs.ReasonQueryConcurrency, "KE-010028002"}, {"", "KE-010000429"}} {
		e := errs.E(errs.TooMany, "slow down").WithReason(tt.reason)
		e.RetryAfter = 2500 * time.Millisecond
		rec := httptest.NewRecorder()
		WriteError(rec, httptest.NewRequest("POST", "/kylin/api/query", nil), e, 429, "r1")
		var body gen.KylinError
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if rec.Code != 429 || rec.Header().Get("Retry-After") != "3" || body.ErrorCode != tt.code || body.Msg != tt.code+": slow down" {
			t.Errorf("reason %q: status %d, Retry-After %q, body %+v", tt.reason, rec.Code, rec.Header().Get("Retry-After"), body)
		}
	}
}
