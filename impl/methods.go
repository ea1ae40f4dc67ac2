package impl

import (
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// methodOrder is the order Allow and CORS preflights list methods in.
var methodOrder = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions, http.MethodTrace}

// pathMethods tells which methods the contract has for a request's path: the Allow
// header of a 405 and the methods a CORS preflight may grant.
type pathMethods struct {
	routes func(*http.Request) bool // whether r is routed to an operation
	used   []string                 // every method some path of the contract has, in methodOrder
}

// newPathMethods reads the methods the contract uses, once at start.
func newPathMethods(doc *openapi3.T, routes func(*http.Request) bool) *pathMethods {
	t := &pathMethods{routes: routes}
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

// of lists the methods that route r's URL to an operation, or nil if none. Asking the
// router itself, rather than a table of templates, keeps the answer right whichever of
// two overlapping templates (/user/password, /user/{username}) it picks.
func (t *pathMethods) of(r *http.Request) []string {
	var out []string
	for _, m := range t.used {
		probe := r.WithContext(r.Context())
		probe.Method = m
		if t.routes(probe) {
			out = append(out, m)
		}
	}
	return out
}

// shadowsOf lists, as segments, the contract's paths that take a URL away from template
// path whatever the method: OpenAPI routes a URL to the first matching path in
// kin-openapi's matching order (fewest {parameters} first, so concrete before
// templated), and only then looks at the method. mux routes by method and path together,
// so an operation's handler checks these to answer as the contract does (e.g. DELETE
// /kylin/api/user_group/groups is a 405, not a delete of the group "groups").
func shadowsOf(doc *openapi3.T, path string) [][]string {
	var out [][]string
	mine := strings.Split(path, "/")
	for _, other := range doc.Paths.InMatchingOrder() {
		if other == path {
			break
		}
		theirs := strings.Split(other, "/")
		if len(theirs) != len(mine) {
			continue
		}
		overlap := true
		for i := range mine {
			if !isParam(mine[i]) && !isParam(theirs[i]) && mine[i] != theirs[i] {
				overlap = false
				break
			}
		}
		if overlap {
			out = append(out, theirs)
		}
	}
	return out
}

// shadowed reports whether a URL path (escaped, as mux matched it) matches one of shadows.
func shadowed(shadows [][]string, escapedPath string) bool {
	if len(shadows) == 0 {
		return false
	}
	segs := strings.Split(escapedPath, "/")
	for _, sh := range shadows {
		if len(sh) != len(segs) {
			continue
		}
		match := true
		for i := range sh {
			if !isParam(sh[i]) && sh[i] != segs[i] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

func isParam(seg string) bool { return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") }
