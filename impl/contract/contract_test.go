package contract

import (
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/kala-server/kala"
)

func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(kala.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// The permissions and the service the server's own rules name are resolved once, at
// load: per request there is nothing left to look up, and nothing to panic.
func TestWellKnownIDsResolvedAtLoad(t *testing.T) {
	c, err := FromDoc(loadDoc(t))
	if err != nil {
		t.Fatal(err)
	}
	// the fixed UUIDs of SPEC §2 and §4
	if c.UserManagement != "01968c91-8789-7288-a337-f0e398711aac" || c.DataManagement != "01968c91-8789-7724-b62d-946b118ce9d6" {
		t.Errorf("permissions: User Management %q, Data Management %q", c.UserManagement, c.DataManagement)
	}
	if c.UsersService == nil || c.UsersService.Name != "users" {
		t.Errorf("users service: %+v", c.UsersService)
	}
	var projectServices []string
	for _, id := range c.ProjectServices {
		projectServices = append(projectServices, c.Service(id).Name)
	}
	if len(projectServices) != 2 || !slices.Contains(projectServices, "datastores") || !slices.Contains(projectServices, "query") {
		t.Errorf("services of project operations: %v, want datastores and query", projectServices)
	}
	if p := c.PermissionByName("No Such Permission"); p != nil {
		t.Errorf("an unknown permission name: %+v", p)
	}
	if p := c.PermissionByName("Data Management"); p == nil || p.ID != c.DataManagement {
		t.Errorf("PermissionByName(Data Management) = %+v", p)
	}
}

// A document without them is refused at load, naming what is missing.
func TestFromDocRefusesMissingWellKnownIDs(t *testing.T) {
	for _, name := range []string{"User Management", "Data Management"} {
		doc := loadDoc(t)
		for _, p := range doc.Extensions["x-kala-permissions"].([]any) {
			if m := p.(map[string]any); m["name"] == name {
				m["name"] = name + " (renamed)"
			}
		}
		if _, err := FromDoc(doc); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("without %s: error %v, want one naming it", name, err)
		}
	}
	doc := loadDoc(t)
	for _, s := range doc.Extensions["x-kala-services"].([]any) {
		if m := s.(map[string]any); m["name"] == "users" {
			m["name"] = "people"
		}
	}
	// the operations' x-service: users then names an unknown service too; either error will do
	if _, err := FromDoc(doc); err == nil || !strings.Contains(err.Error(), "users") {
		t.Errorf("without the users service: error %v, want one naming it", err)
	}
}

// The page sizes a list applies when none is asked are the document's parameter
// defaults; a document without one is refused at load.
func TestPageDefaultsComeFromTheDocument(t *testing.T) {
	c, err := FromDoc(loadDoc(t))
	if err != nil {
		t.Fatal(err)
	}
	if c.PageLimit != 50 || c.KylinPageSize != 10 {
		t.Errorf("PageLimit %d, KylinPageSize %d; want the documented 50 and 10", c.PageLimit, c.KylinPageSize)
	}
	doc := loadDoc(t)
	doc.Components.Parameters["Limit"].Value.Schema.Value.Default = float64(25)
	if c, err := FromDoc(doc); err != nil || c.PageLimit != 25 {
		t.Errorf("a changed default: %v, %v", c, err)
	}
	for _, bad := range []any{nil, float64(0), 2.5, "50"} {
		doc := loadDoc(t)
		doc.Components.Parameters["KylinPageSize"].Value.Schema.Value.Default = bad
		if _, err := FromDoc(doc); err == nil || !strings.Contains(err.Error(), "KylinPageSize") {
			t.Errorf("default %v: error %v, want one naming KylinPageSize", bad, err)
		}
	}
}
