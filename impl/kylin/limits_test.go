package kylin

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kala-server/kala"
	"github.com/kala-server/kala/impl/data"
)

// The caps the document states in prose are the ones the code applies: a page holds at
// most MaxPageSize items, an answer at most data.MaxQueryLimit rows.
func TestDocumentedCapsAreApplied(t *testing.T) {
	doc := string(kala.OpenAPI)
	for _, want := range []string{
		fmt.Sprintf("pages hold at most %s items", thousands(MaxPageSize)),
		fmt.Sprintf("cap of %s rows", thousands(data.MaxQueryLimit)),
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("openapi.yaml does not say %q", want)
		}
	}
}

// thousands writes n with a comma between groups of three digits, as the document does.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
