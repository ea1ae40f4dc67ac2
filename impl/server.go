// Package impl wires the core and both faces into one http.Handler.
package impl

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/getkin/kin-openapi/routers"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/gen"
	"github.com/kala-server/kala/impl/account"
	"github.com/kala-server/kala/impl/audit"
	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/contract"
	"github.com/kala-server/kala/impl/data"
	"github.com/kala-server/kala/impl/errs"
	"github.com/kala-server/kala/impl/kala"
	"github.com/kala-server/kala/impl/kylin"
	"github.com/kala-server/kala/impl/priority"
	"github.com/kala-server/kala/impl/ratelimit"
)

// Config is what the server is told at start.
type Config struct {
	Issuer        string
	Audience      string
	TokenTTL      time.Duration
	APIKeyMaxDays int
	SessionIdle   time.Duration
	SessionMax    time.Duration
	CookieSecure  bool
	// PublicURL is the origin users reach the server at (KALA_PUBLIC_URL), e.g.
	// https://kala.example.com behind a TLS-terminating proxy; https implies Secure cookies.
	PublicURL    string
	CORSOrigins  []string
	QueryTimeout time.Duration
	// QueryPerUser is how many queries one user may run at once on this instance (4).
	QueryPerUser int
	// QueryMax is how many queries this instance runs at once, all users together: by
	// default the sandbox's connection budget, one connection per running query.
	QueryMax        int
	MaxBodyBytes    int64
	HashParams      account.HashParams
	HashConcurrency int
	LockSchedule    []time.Duration
	// TrustedProxies may set X-Forwarded-For (KALA_TRUSTED_PROXIES).
	TrustedProxies []netip.Prefix
	// RateFailures limits failed credentials of any scheme per client address;
	// RatePasswords, password verifications (KALA_RATE_FAILURES, KALA_RATE_PASSWORDS).
	RateFailures  ratelimit.Rule
	RatePasswords ratelimit.Rule
	// AuditRetention is how long security events are kept (KALA_AUDIT_RETENTION).
	AuditRetention time.Duration
	// MetricsElsewhere: /metrics is not served here but on a listener of its own
	// (KALA_METRICS_ADDR), which serves Server.Metrics.
	MetricsElsewhere bool
	// Now is the clock; tests inject one they can move.
	Now func() time.Time
}

// DefaultConfig is every setting's default: the one table both `kala serve`'s flags and
// Defaults read.
func DefaultConfig() Config {
	return Config{
		Issuer:        "kala",
		Audience:      "kala-api",
		TokenTTL:      15 * time.Minute,
		APIKeyMaxDays: 365,
		SessionIdle:   10 * time.Minute,
		SessionMax:    12 * time.Hour,
		QueryTimeout:  30 * time.Second,
		QueryPerUser:  data.DefaultQueriesPerUser,
		QueryMax:      db.SandboxConnBudget,
		MaxBodyBytes:  16 << 20,
		HashParams:    account.DefaultHashParams,
		// a login flood must leave a core for everything else
		HashConcurrency: max(1, runtime.NumCPU()-1),
		RateFailures:    ratelimit.Rule{Name: "failures", Limit: 30, Window: time.Minute},
		RatePasswords:   ratelimit.Rule{Name: "passwords", Limit: 60, Window: time.Minute},
		LockSchedule:    account.DefaultLockSchedule,
		AuditRetention:  90 * 24 * time.Hour,
		Now:             time.Now,
	}
}

// Defaults fills what is unset with DefaultConfig's values.
func (c *Config) Defaults() {
	d := DefaultConfig()
	fill(&c.Issuer, d.Issuer)
	fill(&c.Audience, d.Audience)
	fill(&c.TokenTTL, d.TokenTTL)
	fill(&c.APIKeyMaxDays, d.APIKeyMaxDays)
	fill(&c.SessionIdle, d.SessionIdle)
	fill(&c.SessionMax, d.SessionMax)
	fill(&c.QueryTimeout, d.QueryTimeout)
	fill(&c.QueryPerUser, d.QueryPerUser)
	fill(&c.QueryMax, d.QueryMax)
	fill(&c.MaxBodyBytes, d.MaxBodyBytes)
	fill(&c.HashParams, d.HashParams)
	fill(&c.HashConcurrency, d.HashConcurrency)
	fill(&c.RateFailures, d.RateFailures)
	fill(&c.RatePasswords, d.RatePasswords)
	fill(&c.AuditRetention, d.AuditRetention)
	if c.LockSchedule == nil {
		c.LockSchedule = d.LockSchedule
	}
	if c.Now == nil {
		c.Now = d.Now
	}
}

// fill sets *v to def when *v is its type's zero value.
func fill[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Default rate limits per client address.
var (
	DefaultRateFailures  = DefaultConfig().RateFailures
	DefaultRatePasswords = DefaultConfig().RatePasswords
)

// Server is the core and both faces, ready to serve.
type Server struct {
	Config   Config
	DB       *db.DB
	Log      *slog.Logger
	Contract *contract.Contract
	Accounts *account.Core
	Tokens   *auth.Tokens
	Keys     *auth.APIKeys
	Auth     *auth.Authenticator
	Data     *data.Core
	Kala     *kala.Face
	Kylin    *kylin.Face
	Sessions *auth.Sessions
	Basic    *auth.BasicCache
	// Principals keeps verified tokens, users and API keys for warm requests.
	Principals *auth.PrincipalCache
	// Touches writes API keys' and sessions' last uses in the background (Start runs it).
	Touches *auth.Touches
	Limiter *ratelimit.Limiter
	Audit   *audit.Log

	metrics     *metrics
	mux         *http.ServeMux
	handler     http.Handler
	corsHeaders string
	methods     *pathMethods
}

// New builds the server over an open, migrated database.
func New(ctx context.Context, d *db.DB, cfg Config, log *slog.Logger) (*Server, error) {
	cfg.Defaults()
	c, err := contract.Load()
	if err != nil {
		return nil, err
	}
	s := &Server{Config: cfg, DB: d, Log: log, Contract: c, metrics: newMetrics(),
		Audit: &audit.Log{DB: d, Now: cfg.Now, Retention: cfg.AuditRetention}}
	s.Limiter = &ratelimit.Limiter{DB: d, Now: cfg.Now, Blocked: s.addressBlocked}
	guard := &ratelimit.Guard{Limiter: s.Limiter, Failures: cfg.RateFailures, Passwords: cfg.RatePasswords}
	// logins go before query answers when both want the processors
	gate := priority.New(priority.DefaultMaxWait, priority.DefaultLinger)
	hasher := account.NewHasher(cfg.HashParams, cfg.HashConcurrency)
	hasher.Gate = gate
	s.Accounts = &account.Core{DB: d, Hasher: hasher,
		Now: cfg.Now, LockSchedule: cfg.LockSchedule, Changed: s.userChanged, Locked: s.nameLocked, Guard: guard}
	s.metrics.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "kala_password_verifications_total", Help: "Passwords verified (hashed and compared), unknown names included."},
		func() float64 { return float64(s.Accounts.Hasher.Verifications()) }))
	s.Tokens = &auth.Tokens{DB: d, Issuer: cfg.Issuer, Audience: cfg.Audience, TTL: cfg.TokenTTL, Now: cfg.Now}
	if err := s.Tokens.Init(ctx); err != nil {
		return nil, err
	}
	s.Keys = &auth.APIKeys{Contract: c, DB: d, Now: cfg.Now, MaxDays: cfg.APIKeyMaxDays, Revoked: s.keyRevoked}
	s.Principals = &auth.PrincipalCache{TTL: time.Minute, Now: cfg.Now}
	s.Touches = &auth.Touches{DB: d, Log: log}
	s.Sessions = &auth.Sessions{DB: d, Now: cfg.Now, Idle: cfg.SessionIdle, Max: cfg.SessionMax, Touches: s.Touches, Cache: s.Principals}
	s.Basic = &auth.BasicCache{Accounts: s.Accounts, TTL: 30 * time.Second, Now: cfg.Now}
	s.Auth = &auth.Authenticator{Contract: c, DB: d, Accounts: s.Accounts, Tokens: s.Tokens, Now: cfg.Now,
		Sessions: s.Sessions, Basic: s.Basic, Guard: guard, Cache: s.Principals, Touches: s.Touches,
		OnFailure: func(scheme string) { s.metrics.authFailures.WithLabelValues(scheme).Inc() }}
	sandbox, err := db.NewSandbox(ctx, d, log)
	if err != nil {
		return nil, err
	}
	if err := sandbox.PrepareAllRoles(ctx, d); err != nil {
		return nil, err
	}
	s.Data = data.New(d, c, sandbox, cfg.Now, data.QueryLimits{Timeout: cfg.QueryTimeout, PerUser: cfg.QueryPerUser, Max: cfg.QueryMax,
		Turn: gate.Turn})
	s.Kala = &kala.Face{Contract: c, Accounts: s.Accounts, Tokens: s.Tokens, Keys: s.Keys, Data: s.Data, Audit: s.Audit}
	s.Kylin = &kylin.Face{Contract: c, Accounts: s.Accounts, Data: s.Data, Sessions: s.Sessions, Log: log,
		CookieSecure: cfg.CookieSecure || strings.HasPrefix(strings.ToLower(cfg.PublicURL), "https://")}
	s.corsHeaders = requestHeaders(c.Doc)
	if s.handler, err = s.routes(); err != nil {
		return nil, err
	}
	return s, nil
}

// AccountsAlone is the account core without a server, for commands that change users
// from outside one (kala admin reset-password): no sandbox, no signing keys, one hashing
// thread. Running instances still learn of each change by NOTIFY.
func AccountsAlone(d *db.DB, cfg Config) *account.Core {
	cfg.Defaults()
	return &account.Core{DB: d, Hasher: account.NewHasher(cfg.HashParams, 1), Now: cfg.Now, LockSchedule: cfg.LockSchedule,
		Changed: func(ctx context.Context, q db.Queryer, id uuid.UUID) error {
			return db.Notify(ctx, q, db.Event{Kind: db.EventUser, ID: id})
		}}
}

// Start runs what the server does beside requests until ctx ends: following other
// instances' changes, and writing last uses.
func (s *Server) Start(ctx context.Context) error {
	if err := s.Listen(ctx); err != nil {
		return fmt.Errorf("listen for events: %w", err)
	}
	go s.Touches.Run(ctx, time.Second)
	return nil
}

// Listen follows other instances' changes (signing keys, users) through PostgreSQL
// LISTEN/NOTIFY until ctx ends.
func (s *Server) Listen(ctx context.Context) error {
	return db.Listen(ctx, s.DB.URL(), s.Log, func(e db.Event) {
		switch e.Kind {
		case db.EventLost:
			// no invalidation can reach this instance now: cache nothing until it can
			s.Basic.Pause(true)
			s.Principals.Pause(true)
		case db.EventResync:
			s.reloadSigningKeys(ctx)
			s.Basic.Pause(false)
			s.Principals.Pause(false)
		case db.EventSigningKeys:
			s.reloadSigningKeys(ctx)
		case db.EventRate:
			s.Limiter.Block(e.Name, e.Until)
		case db.EventLocked:
			s.Basic.DropName(e.Name)
			s.Principals.DropName(e.Name)
		case db.EventUser:
			s.Principals.DropUser(e.ID)
			s.Basic.DropUser(e.ID)
		case db.EventKey:
			s.Principals.DropKey(e.ID)
		case db.EventSession:
			if h, err := hex.DecodeString(e.Name); err == nil {
				s.Principals.DropSession(string(h))
			}
		}
	})
}

func (s *Server) reloadSigningKeys(ctx context.Context) {
	if err := s.Tokens.Reload(ctx); err != nil {
		s.Log.Error("reload signing keys", "err", err)
	}
}

// addressBlocked tells the other instances that a client is over a rate limit.
func (s *Server) addressBlocked(ctx context.Context, bucket string, until time.Time) {
	if err := db.Notify(ctx, s.DB, db.Event{Kind: db.EventRate, Name: bucket, Until: until}); err != nil {
		s.Log.Warn("notify rate limit", "err", err)
	}
}

// keyRevoked drops a revoked API key here at once, and on every other instance when the
// revocation commits.
func (s *Server) keyRevoked(ctx context.Context, q db.Queryer, id uuid.UUID) error {
	s.Principals.DropKey(id)
	return db.Notify(ctx, q, db.Event{Kind: db.EventKey, ID: id})
}

// nameLocked drops cached logins of a name that just got locked, here and elsewhere.
func (s *Server) nameLocked(ctx context.Context, key string) {
	s.Basic.DropName(key)
	s.Principals.DropName(key)
	if err := db.Notify(ctx, s.DB, db.Event{Kind: db.EventLocked, Name: key}); err != nil {
		s.Log.Warn("notify lock", "err", err)
	}
}

// userChanged drops what this instance cached of a user at once, and tells every other
// instance to do the same when the change commits.
func (s *Server) userChanged(ctx context.Context, q db.Queryer, id uuid.UUID) error {
	s.Basic.DropUser(id)
	s.Principals.DropUser(id)
	return db.Notify(ctx, q, db.Event{Kind: db.EventUser, ID: id})
}

// ServeHTTP serves both faces and the routes beside them.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// handlers is every generated operation, implemented by the faces.
type handlers struct {
	*kalaFace
	*kylinFace
}

// Aliases name the embedded faces apart.
type (
	kalaFace  = kala.Face
	kylinFace = kylin.Face
)

var _ gen.StrictServerInterface = handlers{}

func (s *Server) routes() (http.Handler, error) {
	strict := gen.NewStrictHandlerWithOptions(handlers{s.Kala, s.Kylin}, []gen.StrictMiddlewareFunc{kylin.Exchange}, gen.StrictHTTPServerOptions{
		RequestErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			s.writeError(w, r, &errs.Error{Code: errs.Invalid, Message: "body: is not valid",
				Fields: []errs.FieldError{{Field: "body", Message: "is not valid"}}, Err: err})
		},
		ResponseErrorHandlerFunc: s.writeError,
	})
	// The generated code hands over each operation's handler by its route pattern; the
	// routing itself is done once, by mux, which then knows the operation to validate.
	generated := handlerTable{}
	gen.HandlerWithOptions(strict, gen.StdHTTPServerOptions{
		BaseRouter: generated,
		ErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			s.writeError(w, r, &errs.Error{Code: errs.Invalid, Message: "invalid parameter", Err: err})
		},
	})
	mux := http.NewServeMux()
	s.mux = mux
	// the outer layers of each face, in the order a request meets them
	face := func(path string, h http.Handler) http.Handler {
		h = s.cors(s.crossSite(s.limitBody(h)))
		if strings.HasPrefix(path, "/kylin/") {
			h = kylin.Negotiate(s.writeError, h)
		}
		return h
	}
	doc := s.Contract.ValidationDoc()
	shadows := map[string][][]string{} // by operation pattern
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			pattern := method + " " + path
			h, ok := generated[pattern]
			if !ok {
				continue // served beside the contract (ops: /healthz, /readyz, JWKS)
			}
			delete(generated, pattern)
			shadows[pattern] = shadowsOf(doc, path)
			route := &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
			mux.Handle(pattern, face(path, s.validate(route, shadows[pattern], h)))
		}
	}
	if len(generated) > 0 {
		return nil, fmt.Errorf("route table: generated handlers without an operation: %v", slices.Collect(maps.Keys(generated)))
	}
	s.methods = newPathMethods(s.Contract.Doc, func(r *http.Request) bool {
		_, pattern := mux.Handler(r)
		sh, ok := shadows[pattern]
		return ok && !shadowed(sh, r.URL.EscapedPath())
	})
	// what no operation's pattern takes: a method the path does not have, or no path
	unrouted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allow := s.methods.of(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.notAllowed(w, r)
			return
		}
		s.writeError(w, r, errs.E(errs.NotFound, "no such operation"))
	})
	mux.Handle("/api/", face("/api/", unrouted))
	mux.Handle("/kylin/api/", face("/kylin/api/", unrouted))
	healthy := []byte(`{"status":"ok"}` + "\n")
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header()["Content-Type"] = []string{"application/json"}
		_, _ = w.Write(healthy)
	})
	mux.HandleFunc("GET /readyz", s.ready)
	if !s.Config.MetricsElsewhere {
		mux.Handle("GET /metrics", s.Metrics())
	}
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(s.Tokens.JWKS())
	})
	spec, err := specDocuments(s.Contract)
	if err != nil {
		return nil, err
	}
	mux.Handle("GET /docs", docs())
	mux.Handle("GET /docs/", docs())
	mux.HandleFunc("GET /openapi.yaml", spec.serveYAML)
	mux.HandleFunc("GET /openapi.json", spec.serveJSON)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errs.E(errs.NotFound, "no such resource"))
	})
	return s.observe(mux), nil
}

// handlerTable collects the generated handlers by route pattern ("GET /api/auth/me").
type handlerTable map[string]http.Handler

func (t handlerTable) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	t[pattern] = http.HandlerFunc(h)
}

func (t handlerTable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "not a router", http.StatusInternalServerError)
}

// notAllowed answers a method the path does not have (Allow is set by the caller when
// it knows the methods).
func (s *Server) notAllowed(w http.ResponseWriter, r *http.Request) {
	if w.Header().Get("Allow") == "" {
		if allow := s.methods.of(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
		}
	}
	s.writeError(w, r, errs.E(errs.NotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path))
}

// Metrics serves the Prometheus metrics.
func (s *Server) Metrics() http.Handler {
	return promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.DB.PingContext(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// limitBody caps request bodies before the validator reads them whole.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// no body stays http.NoBody, which kin-openapi's security check then need not read
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, s.Config.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// requestID returns the id observe gave the request.
func requestID(ctx context.Context) string {
	r, _ := audit.RequestFrom(ctx)
	return r.ID
}

var goodRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Request ids this process makes: a random start, then counting. They only need to be
// unique (across instances too: 64 random bits), not unpredictable, so no system call
// per request.
var lastRequestID atomic.Uint64

func init() {
	var b [8]byte
	_, _ = rand.Read(b[:])
	lastRequestID.Store(binary.BigEndian.Uint64(b[:]))
}

func newRequestID() string {
	var b [16]byte
	v := lastRequestID.Add(1)
	const hexDigits = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		b[i] = hexDigits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

// statusWriter remembers the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// observe gives each request an id and an authentication attempt, and after it, writes one log line
// and the metrics. The log has the path only: a query string may carry an API key. It
// runs outside recover, so a panic is answered and logged with the request id and still
// counted; the deferred line also covers a response cut off by http.ErrAbortHandler.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !goodRequestID.MatchString(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		if strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, "/kylin/api/") {
			// answers carry credentials and personal data: no cache may keep them
			w.Header().Set("Cache-Control", "no-store")
		}
		client := clientAddr(r, s.Config.TrustedProxies)
		ctx, h := withAttempt(audit.WithRequest(r.Context(), id, client))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			elapsed := time.Since(start)
			op := "-"
			if h.op != nil {
				op = h.op.ID
			}
			s.metrics.observe(op, sw.status, elapsed)
			if log := s.Log.Handler(); log.Enabled(r.Context(), slog.LevelInfo) {
				// a record made here, not by Logger.LogAttrs, skips the caller lookup the
				// line never shows; the latency is an integer, which slog's JSON writes
				// without encoding/json
				rec := slog.NewRecord(start.Add(elapsed), slog.LevelInfo, "request", 0)
				rec.AddAttrs(slog.String("request_id", id), slog.String("client", client), slog.String("method", r.Method),
					slog.String("path", r.URL.Path), slog.String("operation", op), slog.Int("status", sw.status),
					slog.Int("bytes", sw.bytes), slog.Int64("latency_us", elapsed.Microseconds()), slog.String("principal", h.principal.ID()))
				_ = log.Handle(r.Context(), rec)
			}
		}()
		s.recover(next).ServeHTTP(sw, r.WithContext(ctx))
	})
}

// recover turns a panic into a logged 500. When the answer had already begun, a 500
// cannot be sent: the connection is cut instead, so the client never takes a truncated
// answer for a whole one.
func (s *Server) recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.Log.Error("panic", "request_id", requestID(r.Context()), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if sw, ok := w.(*statusWriter); ok && sw.status != 0 {
				panic(http.ErrAbortHandler)
			}
			s.writeError(w, r, errs.E(errs.Internal, "panic"))
		}()
		next.ServeHTTP(w, r)
	})
}

// writeError writes err in the wire form of the face the request is on, logging the
// causes of internal errors (which the caller never sees).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := errs.As(err)
	id := requestID(r.Context())
	if e.Code == errs.Internal && db.Unavailable(err) {
		s.Log.Warn("database unavailable", "request_id", id, "err", err.Error())
		e = &errs.Error{Code: errs.Unavailable, Message: "the database is unavailable; try again shortly",
			RetryAfter: 2 * time.Second, Err: err}
	} else if e.Code == errs.Internal {
		s.Log.Error("internal error", "request_id", id, "err", err.Error())
	}
	if l := e.Limit; l != nil {
		// IETF httpapi ratelimit-headers: the policy, and what is left of it now (the faces
		// write Retry-After)
		w.Header().Set("RateLimit-Policy", fmt.Sprintf("%q;q=%d;w=%d", l.Policy, l.Quota, int(l.Window.Seconds())))
		w.Header().Set("RateLimit", fmt.Sprintf("%q;r=0;t=%d", l.Policy, e.RetryAfterSeconds()))
	}
	if e.Code == errs.Forbidden {
		s.auditRefusal(r)
	}
	if e.Code == errs.Unauthorized || e.Code == errs.BadLogin || e.Code == errs.Locked || e.Code == errs.Disabled {
		if h := attemptFrom(r.Context()); h != nil && h.op != nil {
			if c := challenge(h.op.Schemes, r); c != "" {
				w.Header().Set("WWW-Authenticate", c)
			}
		}
	}
	if strings.HasPrefix(r.URL.Path, "/kylin/") {
		kylin.WriteError(w, r, e, kylin.Status(e.Code), id)
		return
	}
	kala.WriteError(w, e, id)
}

// auditRefusal records a 403 answered to an authenticated caller. It is written on its
// own, whether or not the caller stays to read the answer.
func (s *Server) auditRefusal(r *http.Request) {
	h := attemptFrom(r.Context())
	if h == nil || h.principal == nil {
		return
	}
	ev := audit.Event{At: s.Config.Now(), Name: audit.PermissionRefused, Outcome: audit.Failure,
		Actor: h.principal.AuditActor()}
	if h.op != nil {
		ev.Detail = map[string]any{"operation": h.op.ID}
	}
	if err := audit.Record(context.WithoutCancel(r.Context()), s.DB, ev); err != nil {
		s.Log.Warn("audit refusal", "request_id", requestID(r.Context()), "err", err)
	}
}

// challenge lists the schemes an operation accepts. No Basic challenge for XHR: browsers
// answer one with their own login dialog.
func challenge(schemes []string, r *http.Request) string {
	var out []string
	seen := map[string]bool{}
	add := func(c string) {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	xhr := strings.EqualFold(r.Header.Get("X-Requested-With"), "XMLHttpRequest")
	for _, sc := range schemes {
		switch sc {
		case auth.SchemeBearer:
			add(`Bearer realm="kala"`)
		case auth.SchemeAPIKeyHeader, auth.SchemeAPIKeyQuery:
			add(`ApiKey realm="kala"`)
		case auth.SchemeBasic:
			if !xhr {
				add(`Basic realm="kala", charset="UTF-8"`)
			}
		case auth.SchemeCookie:
			add(`Cookie realm="kala", name="JSESSIONID"`)
		}
	}
	return strings.Join(out, ", ")
}

type metrics struct {
	registry     *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	authFailures *prometheus.CounterVec

	// the series each request touches, found once: a label lookup hashes the labels
	mu     sync.RWMutex
	series map[opStatus]requestSeries
}

type opStatus struct {
	op     string
	status int
}

type requestSeries struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// observe counts one answered request.
func (m *metrics) observe(op string, status int, elapsed time.Duration) {
	k := opStatus{op, status}
	m.mu.RLock()
	sr, ok := m.series[k]
	m.mu.RUnlock()
	if !ok {
		sr = requestSeries{m.requests.WithLabelValues(op, strconv.Itoa(status)), m.latency.WithLabelValues(op)}
		m.mu.Lock()
		m.series[k] = sr
		m.mu.Unlock()
	}
	sr.count.Inc()
	sr.latency.Observe(elapsed.Seconds())
}

func newMetrics() *metrics {
	m := &metrics{
		series:   map[opStatus]requestSeries{},
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kala_http_requests_total",
			Help: "HTTP requests by operation and status."}, []string{"operation", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kala_http_request_duration_seconds",
			Help: "HTTP request latency by operation.", Buckets: prometheus.DefBuckets}, []string{"operation"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kala_auth_failures_total",
			Help: "Rejected credentials by security scheme."}, []string{"scheme"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.authFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Janitor runs Prune every few minutes until ctx ends.
func (s *Server) Janitor(ctx context.Context) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		s.Prune(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Prune deletes expired sessions, stale login-failure counters and security events past
// their retention. Expired rows never authenticate anyway; this keeps tables small.
func (s *Server) Prune(ctx context.Context) {
	now := s.Config.Now()
	if _, err := db.PruneSessions(ctx, s.DB, now.Add(-s.Config.SessionIdle), now.Add(-s.Config.SessionMax)); err != nil && ctx.Err() == nil {
		s.Log.Warn("prune sessions", "err", err)
	}
	if _, err := db.PruneLoginFailures(ctx, s.DB, now.Add(-48*time.Hour), now); err != nil && ctx.Err() == nil {
		s.Log.Warn("prune login failures", "err", err)
	}
	if _, err := s.Audit.Prune(ctx); err != nil && ctx.Err() == nil {
		s.Log.Warn("prune audit events", "err", err)
	}
	if _, err := db.PruneRates(ctx, s.DB, now.Add(-2*max(s.Config.RateFailures.Window, s.Config.RatePasswords.Window))); err != nil && ctx.Err() == nil {
		s.Log.Warn("prune rate counters", "err", err)
	}
}
