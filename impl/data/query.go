package data

import (
	"context"
	"errors"
	"time"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/errs"
)

// Query limits.
const (
	DefaultQueryLimit = 500
	MaxQueryLimit     = 50000
	// MaxResultBytes caps the text of one result, so one query cannot take the server's memory.
	MaxResultBytes = 64 << 20
)

// QueryOutcome is a query's result, or the database's refusal of its SQL.
type QueryOutcome struct {
	Result   *db.Result
	SQLError string // set when the SQL failed; Result is nil then
	Duration time.Duration
}

// Query runs sql on an opened project in the sandbox.
func (s *Service) Query(ctx context.Context, proj *Project, sql string, offset, limit int) (*QueryOutcome, error) {
	start := time.Now()
	if limit <= 0 {
		limit = DefaultQueryLimit
	}
	limit = min(limit, MaxQueryLimit)
	stmt, err := Statement(sql)
	if err != nil {
		return &QueryOutcome{SQLError: err.Error(), Duration: time.Since(start)}, nil
	}
	res, err := s.Sandbox.Query(ctx, proj.RoleName, proj.SchemaName, stmt, offset, limit, s.QueryTimeout, MaxResultBytes)
	var se *db.SQLError
	if errors.As(err, &se) {
		return &QueryOutcome{SQLError: se.Message, Duration: time.Since(start)}, nil
	} else if err != nil {
		return nil, errs.Wrap(err, "run query")
	}
	return &QueryOutcome{Result: res, Duration: time.Since(start)}, nil
}
