package impl

import (
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/kala-server/kala/impl/errs"
)

// sameOrigin reports whether origin is this server's own: KALA_PUBLIC_URL's when set
// (behind a TLS-terminating proxy the request itself says http and an inner host), else
// as the request reached it.
func (s *Server) sameOrigin(r *http.Request, origin string) bool {
	if s.Config.PublicURL != "" {
		return strings.EqualFold(origin, s.Config.PublicURL)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return strings.EqualFold(origin, scheme+"://"+r.Host)
}

func (s *Server) allowedOrigin(origin string) bool {
	return slices.Contains(s.Config.CORSOrigins, origin)
}

// crossSite refuses unsafe requests sent from another site's pages, whatever credential
// they carry: browsers attach cookies and cached Basic credentials on their own. A
// request with no Origin (curl, a service) is not a browser's cross-site request.
func (s *Server) crossSite(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if origin := r.Header.Get("Origin"); origin != "" && !s.sameOrigin(r, origin) && !s.allowedOrigin(origin) {
				s.writeError(w, r, errs.E(errs.Forbidden, "cross-site request from %s refused", origin))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// cors answers credentialed CORS for the origins in KALA_CORS_ORIGINS only; preflights
// list the methods the contract has for the path.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !s.allowedOrigin(origin) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, X-Request-Id")
		if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" {
			next.ServeHTTP(w, r)
			return
		}
		methods := s.methods.of(r)
		if len(methods) == 0 {
			s.writeError(w, r, errs.E(errs.NotFound, "no such operation"))
			return
		}
		h.Set("Access-Control-Allow-Methods", strings.Join(methods, ", "))
		h.Set("Access-Control-Allow-Headers", s.corsHeaders)
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
	})
}

// requestHeaders lists the headers a browser may send: the ones HTTP and this server use
// anyway, plus every header the contract names (apiKey schemes in a header, header
// parameters).
func requestHeaders(doc *openapi3.T) string {
	names := []string{"Authorization", "Content-Type", "Accept", "X-Requested-With", "X-Request-Id"}
	add := func(n string) {
		if !slices.ContainsFunc(names, func(x string) bool { return strings.EqualFold(x, n) }) {
			names = append(names, n)
		}
	}
	if doc.Components != nil {
		for _, ref := range doc.Components.SecuritySchemes {
			if sc := ref.Value; sc != nil && sc.Type == "apiKey" && sc.In == "header" {
				add(sc.Name)
			}
		}
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, p := range append(item.Parameters, op.Parameters...) {
				if p.Value != nil && p.Value.In == "header" {
					add(p.Value.Name)
				}
			}
		}
	}
	return strings.Join(names, ", ")
}
