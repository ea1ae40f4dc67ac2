package impl

import (
	"net/http"
	"slices"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

// methodOrder is the order Allow and CORS preflights list methods in.
var methodOrder = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions, http.MethodTrace}

// pathMethods tells which methods the contract has for a request's path: the Allow
// header of a 405 and the methods a CORS preflight may grant.
type pathMethods struct {
	router routers.Router
	used   []string // every method some path of the contract has, in methodOrder
}

// newPathMethods reads the methods the contract uses, once at start.
func newPathMethods(doc *openapi3.T, router routers.Router) *pathMethods {
	t := &pathMethods{router: router}
	for _, item := range doc.Paths.Map() {
		for m := range item.Operations() {
			if !slices.Contains(t.used, m) {
				t.used = append(t.used, m)
			}
		}
	}
	slices.SortFunc(t.used, func(a, b string) int { return methodRank(a) - methodRank(b) })
	return t
}

func methodRank(m string) int {
	if i := slices.Index(methodOrder, m); i >= 0 {
		return i
	}
	return len(methodOrder)
}

// of lists the methods the validator would route for r's URL, or nil if none. Asking the
// router itself, rather than a table of templates, keeps the answer right whichever of
// two overlapping templates (/user/password, /user/{username}) it picks.
func (t *pathMethods) of(r *http.Request) []string {
	var out []string
	for _, m := range t.used {
		probe := r.WithContext(r.Context())
		probe.Method = m
		if _, _, err := t.router.FindRoute(probe); err == nil {
			out = append(out, m)
		}
	}
	return out
}
