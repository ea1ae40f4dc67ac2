package audit_test

import (
	"context"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/kala-server/kala"
	"github.com/kala-server/kala/impl/audit"
)

// The event names in code are the ones openapi.yaml documents, in the same order.
func TestNamesMatchTheContract(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(kala.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	s := doc.Components.Schemas["AuditEventName"]
	if s == nil || s.Value == nil {
		t.Fatal("openapi.yaml has no AuditEventName schema")
	}
	var spec, code []string
	for _, v := range s.Value.Enum {
		spec = append(spec, v.(string))
	}
	for _, n := range audit.Names {
		code = append(code, string(n))
	}
	if !slices.Equal(spec, code) {
		t.Errorf("openapi.yaml lists %q, audit.Names %q", spec, code)
	}
}

func TestRequestTravelsInTheContext(t *testing.T) {
	if _, ok := audit.RequestFrom(context.Background()); ok {
		t.Error("a bare context carries a request")
	}
	r, ok := audit.RequestFrom(audit.WithRequest(context.Background(), "rq-1", "192.0.2.1"))
	if !ok || r.ID != "rq-1" || r.ClientAddr != "192.0.2.1" {
		t.Errorf("RequestFrom = %+v, %v", r, ok)
	}
}
