package impl

import "net/http"

// Mount adds a route beside the contract, behind the same outer chain (request id,
// access log, metrics, panic recovery): tests use it to reach paths no real route has,
// such as a handler that panics.
func (s *Server) Mount(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }
