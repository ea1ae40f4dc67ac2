package impl

import (
	"embed"
	"net/http"

	swaggerfiles "github.com/swaggo/files/v2"
)

//go:embed docsui/index.html docsui/kala-init.js
var docsUI embed.FS

// docsPolicy lets /docs load only this server's own assets; Swagger UI styles some
// elements inline and draws icons as data: images.
const docsPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// docs serves Swagger UI at /docs from assets embedded in the binary.
func docs() http.Handler {
	assets := http.StripPrefix("/docs/", http.FileServerFS(swaggerfiles.FS))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", docsPolicy)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		switch r.URL.Path {
		case "/docs":
			http.Redirect(w, r, "/docs/", http.StatusMovedPermanently)
		case "/docs/", "/docs/index.html":
			serveEmbedded(w, "docsui/index.html", "text/html; charset=utf-8")
		case "/docs/kala-init.js":
			serveEmbedded(w, "docsui/kala-init.js", "text/javascript; charset=utf-8")
		case "/docs/swagger-initializer.js":
			http.NotFound(w, r) // the stock initializer points elsewhere; ours replaces it
		default:
			assets.ServeHTTP(w, r)
		}
	})
}

func serveEmbedded(w http.ResponseWriter, name, contentType string) {
	b, err := docsUI.ReadFile(name)
	if err != nil {
		http.Error(w, "missing asset", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	_, _ = w.Write(b)
}
