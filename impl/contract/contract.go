// Package contract reads the rules that live in openapi.yaml: each operation's service,
// permissions and project access level, and the catalog of permissions and services.
// The server reads them once at start; no second list exists in code.
package contract

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/kala-server/kala"
)

// Permission is one entry of x-kala-permissions.
type Permission struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Service is one entry of x-kala-services.
type Service struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Operation is what one operation needs of its caller.
type Operation struct {
	ID            string
	Method        string
	Path          string
	Service       *Service // nil: the operation belongs to no service
	Permissions   []string
	ProjectAccess string // "", QUERY, MANAGEMENT or ADMIN
	// OnProject: the operation acts on one project, named by a parameter marked
	// x-project-ref. Whether the caller may see that project decides 404 before 403.
	OnProject bool
	Schemes   []string // security schemes accepted, in document order
}

// Contract is the loaded document and its rules.
type Contract struct {
	Doc         *openapi3.T
	Operations  map[string]*Operation
	Permissions []Permission
	Services    []Service
	// The ids the server's own rules name, resolved at load: a document without them is
	// refused then, not discovered per request.
	UserManagement string   // sees and manages every user
	DataManagement string   // sees and manages every project
	UsersService   *Service // user management on both faces
	// ProjectServices are the services of the operations on one project (sorted ids):
	// an API key reaches projects only through one of them.
	ProjectServices []string
	// The page sizes of a list that asks none: the defaults of the Limit and
	// KylinPageSize parameters, read from the document so no second copy exists.
	PageLimit, KylinPageSize int
}

func init() {
	// kin-openapi checks date and date-time by default; uuid is ours to declare.
	openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(
		`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`))
}

// Load reads the embedded openapi.yaml and its rules, refusing a document whose rules
// are incomplete: an operation without x-service or x-permissions would be unguarded.
// (gen's embedded copy is not used: the generator renames operation ids in it.)
func Load() (*Contract, error) {
	doc, err := openapi3.NewLoader().LoadFromData(kala.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("embedded openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("embedded openapi.yaml is not valid: %w", err)
	}
	return FromDoc(doc)
}

// FromDoc reads the rules of doc.
func FromDoc(doc *openapi3.T) (*Contract, error) {
	c := &Contract{Doc: doc, Operations: map[string]*Operation{}}
	if err := decodeExt(doc.Extensions, "x-kala-permissions", &c.Permissions); err != nil {
		return nil, err
	}
	if err := decodeExt(doc.Extensions, "x-kala-services", &c.Services); err != nil {
		return nil, err
	}
	for _, p := range c.Permissions {
		if _, err := uuid.Parse(p.ID); err != nil {
			return nil, fmt.Errorf("x-kala-permissions: %q is not a UUID", p.ID)
		}
	}
	byName := map[string]*Service{}
	for i := range c.Services {
		s := &c.Services[i]
		if _, err := uuid.Parse(s.ID); err != nil {
			return nil, fmt.Errorf("x-kala-services: %q is not a UUID", s.ID)
		}
		byName[s.Name] = s
	}
	for name, dst := range map[string]*string{"User Management": &c.UserManagement, "Data Management": &c.DataManagement} {
		p := c.PermissionByName(name)
		if p == nil {
			return nil, fmt.Errorf("x-kala-permissions: no permission named %q", name)
		}
		*dst = p.ID
	}
	if c.UsersService = byName["users"]; c.UsersService == nil {
		return nil, fmt.Errorf(`x-kala-services: no service named "users"`)
	}
	for name, dst := range map[string]*int{"Limit": &c.PageLimit, "KylinPageSize": &c.KylinPageSize} {
		n, err := intDefault(doc, name)
		if err != nil {
			return nil, fmt.Errorf("components.parameters.%s: %w", name, err)
		}
		*dst = n
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			o, err := c.readOperation(method, path, op, append(item.Parameters, op.Parameters...), byName, doc.Security)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", method, path, err)
			}
			c.Operations[o.ID] = o
			if (o.ProjectAccess != "" || o.OnProject) && o.Service != nil && !slices.Contains(c.ProjectServices, o.Service.ID) {
				c.ProjectServices = append(c.ProjectServices, o.Service.ID)
			}
		}
	}
	sort.Strings(c.ProjectServices)
	return c, nil
}

var accessLevels = []string{"QUERY", "MANAGEMENT", "ADMIN"}

func (c *Contract) readOperation(method, path string, op *openapi3.Operation, params openapi3.Parameters, services map[string]*Service, global openapi3.SecurityRequirements) (*Operation, error) {
	if op.OperationID == "" {
		return nil, fmt.Errorf("no operationId")
	}
	o := &Operation{ID: op.OperationID, Method: method, Path: path}
	var svc string
	if err := decodeExt(op.Extensions, "x-service", &svc); err != nil {
		return nil, err
	}
	if svc != "none" {
		s, ok := services[svc]
		if !ok {
			return nil, fmt.Errorf("x-service %q is not in x-kala-services", svc)
		}
		o.Service = s
	}
	if err := decodeExt(op.Extensions, "x-permissions", &o.Permissions); err != nil {
		return nil, err
	}
	if o.Permissions == nil {
		o.Permissions = []string{}
	}
	for _, p := range o.Permissions {
		if c.Permission(p) == nil {
			return nil, fmt.Errorf("x-permissions: %q is not in x-kala-permissions", p)
		}
	}
	if _, ok := op.Extensions["x-project-access"]; ok {
		if err := decodeExt(op.Extensions, "x-project-access", &o.ProjectAccess); err != nil {
			return nil, err
		}
		if !slices.Contains(accessLevels, o.ProjectAccess) {
			return nil, fmt.Errorf("x-project-access %q is not one of %v", o.ProjectAccess, accessLevels)
		}
	}
	// rules the server could not enforce are refused here, not discovered in production:
	// holding all of no permissions would skip the level check, and a caller without a
	// credential has no principal to check permissions against
	if o.ProjectAccess != "" && len(o.Permissions) == 0 {
		return nil, fmt.Errorf("x-project-access needs the permissions that bypass it in x-permissions (Data Management)")
	}
	security := global
	if op.Security != nil {
		security = *op.Security
	}
	if len(o.Permissions) > 0 && anonymous(security) {
		return nil, fmt.Errorf("x-permissions on an operation callable without a credential would go unchecked")
	}
	for _, p := range params {
		if p.Value != nil && p.Value.Extensions["x-project-ref"] == true {
			o.OnProject = true
		}
	}
	for _, req := range security {
		for name := range req {
			o.Schemes = append(o.Schemes, name)
		}
	}
	return o, nil
}

// anonymous reports whether security admits a request with no credential: no
// requirements at all, or an empty alternative.
func anonymous(security openapi3.SecurityRequirements) bool {
	if len(security) == 0 {
		return true
	}
	for _, req := range security {
		if len(req) == 0 {
			return true
		}
	}
	return false
}

// decodeExt reads a required extension into dst.
func decodeExt(ext map[string]any, name string, dst any) error {
	v, ok := ext[name]
	if !ok {
		return fmt.Errorf("missing %s", name)
	}
	if err := remarshal(v, dst); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Permission returns the catalog entry of id, or nil.
func (c *Contract) Permission(id string) *Permission {
	for i := range c.Permissions {
		if c.Permissions[i].ID == id {
			return &c.Permissions[i]
		}
	}
	return nil
}

// Service returns the catalog entry of id, or nil.
func (c *Contract) Service(id string) *Service {
	for i := range c.Services {
		if c.Services[i].ID == id {
			return &c.Services[i]
		}
	}
	return nil
}

// ServiceByName finds a service by its short name ("users"), or nil.
func (c *Contract) ServiceByName(name string) *Service {
	for i := range c.Services {
		if c.Services[i].Name == name {
			return &c.Services[i]
		}
	}
	return nil
}

// AllPermissionIDs lists every permission, sorted.
func (c *Contract) AllPermissionIDs() []string {
	ids := make([]string, len(c.Permissions))
	for i, p := range c.Permissions {
		ids[i] = p.ID
	}
	sort.Strings(ids)
	return ids
}

// AllServiceIDs lists every service, sorted.
func (c *Contract) AllServiceIDs() []string {
	ids := make([]string, len(c.Services))
	for i, s := range c.Services {
		ids[i] = s.ID
	}
	sort.Strings(ids)
	return ids
}

// PermissionByName finds a permission by its human name ("Data Management"), or nil.
func (c *Contract) PermissionByName(name string) *Permission {
	for i := range c.Permissions {
		if c.Permissions[i].Name == name {
			return &c.Permissions[i]
		}
	}
	return nil
}

// ValidationDoc is a copy of the document for request and response validation: its
// one server is "/", so that any host and port match.
func (c *Contract) ValidationDoc() *openapi3.T {
	d := *c.Doc
	d.Servers = openapi3.Servers{{URL: "/"}}
	return &d
}

type operationKey struct{}

// WithOperation is ctx for a request validated as op.
func WithOperation(ctx context.Context, op *Operation) context.Context {
	return context.WithValue(ctx, operationKey{}, op)
}

// OperationFrom is the operation the request was validated as (nil outside one).
func OperationFrom(ctx context.Context) *Operation {
	op, _ := ctx.Value(operationKey{}).(*Operation)
	return op
}

// intDefault is the default of the integer parameter components.parameters[name].
func intDefault(doc *openapi3.T, name string) (int, error) {
	ref := doc.Components.Parameters[name]
	if ref == nil || ref.Value == nil || ref.Value.Schema == nil || ref.Value.Schema.Value == nil {
		return 0, fmt.Errorf("missing")
	}
	switch d := ref.Value.Schema.Value.Default.(type) {
	case float64:
		if d >= 1 && d == float64(int(d)) {
			return int(d), nil
		}
	case int:
		if d >= 1 {
			return d, nil
		}
	}
	return 0, fmt.Errorf("default %v is not a positive integer", ref.Value.Schema.Value.Default)
}
