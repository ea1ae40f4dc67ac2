package kylin

import (
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/kala-server/kala/impl/errs"
)

// The media types Kylin 5's public API speaks.
const (
	MediaPublic = "application/vnd.apache.kylin-v4-public+json"
	mediaV4     = "application/vnd.apache.kylin-v4+json"
	mediaV2     = "application/vnd.apache.kylin-v2+json"
	mediaJSON   = "application/json"
)

// mediaTypes calls yield with each media type an Accept header admits (q above 0).
func mediaTypes(accept string, yield func(mt string)) {
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" || params["q"] == "0.0" || params["q"] == "0.00" || params["q"] == "0.000" {
			continue
		}
		yield(mt)
	}
}

// accepts reads an Accept header: whether it asks for Kylin's public media type, and
// whether it admits any JSON answer at all. No Accept admits everything.
func accepts(accept string) (public, ok bool) {
	if strings.TrimSpace(accept) == "" {
		return false, true
	}
	mediaTypes(accept, func(mt string) {
		switch mt {
		case MediaPublic:
			public, ok = true, true
		case "*/*", "application/*", mediaJSON, mediaV4, mediaV2:
			ok = true
		}
	})
	return public, ok
}

// queryShape is the shape of a query answer (POST /query, /query/prestate).
type queryShape int

const (
	shapeEnvelope queryShape = iota // the result in the envelope
	shapeV2                         // in the envelope, with Kylin's v2 fields
	shapeBare                       // the result alone, no envelope
)

// shapeFor chooses a query answer's shape, and its Content-Type, from Accept as Kylin 5
// chooses between its query controllers: its public (or v4) media type gets the envelope,
// the v2 media type the v2 envelope, and application/json alone — Kylin 4's JDBC driver —
// the bare result (NQueryControllerV2.query4JDBC). No Accept or only wildcards get the
// envelope, labelled with the public media type without parameters: a generated client
// that names no media type then finds the label the document lists, byte for byte.
func shapeFor(accept string) (queryShape, string) {
	var public, v2, json bool
	mediaTypes(accept, func(mt string) {
		switch mt {
		case MediaPublic, mediaV4:
			public = true
		case mediaV2:
			v2 = true
		case mediaJSON:
			json = true
		}
	})
	switch {
	case public:
		return shapeEnvelope, MediaPublic + ";charset=UTF-8"
	case v2:
		return shapeV2, mediaV2 + ";charset=UTF-8"
	case json:
		return shapeBare, mediaJSON
	}
	return shapeEnvelope, MediaPublic
}

// LogoutPath is Kylin's logout, the one operation that also answers browsers (a redirect).
const LogoutPath = "/kylin/api/j_spring_security_logout"

// prefersHTML reads an Accept header: whether it names text/html above every JSON media
// type it names. Kylin's web UI logs out with `Accept: text/html`, and a browser's own
// navigation lists text/html first; JSON clients name JSON, or nothing, or `*/*`.
func prefersHTML(accept string) bool {
	htmlQ, jsonQ := 0.0, 0.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil || q < 0 || q > 1 {
				continue
			}
		}
		switch {
		case mt == "text/html" || mt == "application/xhtml+xml":
			htmlQ = max(htmlQ, q)
		case mt == mediaJSON || strings.HasSuffix(mt, "+json"):
			jsonQ = max(jsonQ, q)
		}
	}
	return htmlQ > 0 && htmlQ > jsonQ
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
		if !ok && !(r.URL.Path == LogoutPath && prefersHTML(r.Header.Get("Accept"))) {
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
