package impl_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The layers' import rules (DESIGN.md): the database layer speaks no HTTP, the account
// rules know neither HTTP nor the faces, the cores never import a face, and the faces
// never import each other. auth verifies credentials and data decides project access
// without HTTP: reading a credential off a request is impl/credential's part. (net/http
// still reaches them indirectly through kin-openapi's document model in contract, so
// for them only a direct import of it is refused.)
func TestLayersImportRules(t *testing.T) {
	const mod = "github.com/kala-server/kala/"
	forbidden := map[string][]string{
		"db":           {"net/http", "github.com/getkin/kin-openapi/openapi3filter", mod + "impl"},
		"impl/account": {"net/http", "github.com/getkin/kin-openapi/openapi3filter", mod + "impl/kala", mod + "impl/kylin"},
		"impl/data":    {"github.com/getkin/kin-openapi/openapi3filter", mod + "impl/kala", mod + "impl/kylin"},
		"impl/auth":    {"github.com/getkin/kin-openapi/openapi3filter", mod + "impl/kala", mod + "impl/kylin"},
		"impl/kala":    {mod + "impl/kylin"},
		"impl/kylin":   {mod + "impl/kala"},
	}
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", mod+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		deps := map[string]bool{}
		for _, d := range strings.Fields(string(out)) {
			deps[d] = true
		}
		for _, b := range bad {
			if deps[b] {
				t.Errorf("%s imports %s", pkg, b)
			}
		}
	}
	for _, pkg := range []string{"impl/auth", "impl/data"} {
		out, err := exec.Command("go", "list", "-f", "{{join .Imports \" \"}}", mod+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		if slices.Contains(strings.Fields(string(out)), "net/http") {
			t.Errorf("%s imports net/http", pkg)
		}
	}
}
