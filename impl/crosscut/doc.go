// Package crosscut holds the end-to-end suites that cut across the faces, each over a
// real server (impl/testkit): the contract (every operation, valid and invalid calls),
// the caller matrix, strict request parsing, lockout and rate limits, concurrency,
// database outage, scale-out across instances, the documented examples, and the login
// and authentication benchmarks. Scenarios of one face live beside that face, as
// external tests of impl/kala and impl/kylin; tests of the wiring itself stay in impl.
//
// The package has no code of its own: only its tests.
package crosscut
