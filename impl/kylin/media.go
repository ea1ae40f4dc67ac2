package kylin

import (
	"mime"
	"net/http"
	"strings"

	"github.com/kala-server/kala/impl/errs"
)

// The media types Kylin 5's public API speaks.
const (
	MediaPublic = "application/vnd.apache.kylin-v4-public+json"
	mediaV4     = "application/vnd.apache.kylin-v4+json"
	mediaJSON   = "application/json"
)

// accepts reads an Accept header: whether it asks for Kylin's public media type, and
// whether it admits any JSON answer at all. No Accept admits everything.
func accepts(accept string) (public, ok bool) {
	if strings.TrimSpace(accept) == "" {
		return false, true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" || params["q"] == "0.0" || params["q"] == "0.00" || params["q"] == "0.000" {
			continue
		}
		switch mt {
		case MediaPublic:
			public, ok = true, true
		case "*/*", "application/*", mediaJSON, mediaV4:
			ok = true
		}
	}
	return public, ok
}

// ContentType is the Content-Type of this face's answers to r.
func ContentType(r *http.Request) string {
	if public, _ := accepts(r.Header.Get("Accept")); public {
		return MediaPublic + ";charset=UTF-8"
	}
	return mediaJSON
}

// Negotiate refuses requests whose Accept admits no JSON answer (406, in the envelope),
// and relabels the generated handlers' application/json answers with Kylin's public
// media type when the request asks for it: the bodies are the same.
func Negotiate(writeError func(http.ResponseWriter, *http.Request, error), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		public, ok := accepts(r.Header.Get("Accept"))
		if !ok {
			writeError(w, r, errs.E(errs.NotAcceptable, "Accept must admit %s or %s", mediaJSON, MediaPublic))
			return
		}
		if public {
			w = &relabel{ResponseWriter: w}
		}
		next.ServeHTTP(w, r)
	})
}

type relabel struct{ http.ResponseWriter }

func (w *relabel) WriteHeader(code int) {
	if ct := w.Header().Get("Content-Type"); ct == mediaJSON || strings.HasPrefix(ct, mediaJSON+";") {
		w.Header().Set("Content-Type", MediaPublic+";charset=UTF-8")
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *relabel) Write(b []byte) (int, error) {
	if w.Header().Get("Content-Type") == mediaJSON {
		w.Header().Set("Content-Type", MediaPublic+";charset=UTF-8")
	}
	return w.ResponseWriter.Write(b)
}

func (w *relabel) Unwrap() http.ResponseWriter { return w.ResponseWriter }
