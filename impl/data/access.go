// Package data holds projects (Kala datastores), their tables and rows, access lists, and
// the rules about who may touch which project.
package data

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/contract"
	"github.com/kala-server/kala/impl/errs"
)

// Level is a project access level. Order matters: each allows what those below allow.
type Level int

const (
	None       Level = 0
	Query      Level = 1
	Operation  Level = 2 // Kylin's level for build jobs; here it allows what Query allows
	Management Level = 3
	Admin      Level = 4
)

var levelNames = []string{"", "QUERY", "OPERATION", "MANAGEMENT", "ADMIN"}

// String is the level's name on access lists.
func (l Level) String() string {
	if l < None || l > Admin {
		return ""
	}
	return levelNames[l]
}

// ParseLevel reads QUERY, OPERATION, MANAGEMENT or ADMIN.
func ParseLevel(s string) (Level, bool) {
	for i, n := range levelNames {
		if i > 0 && strings.EqualFold(n, s) {
			return Level(i), true
		}
	}
	return None, false
}

// Core is the data core.
type Core struct {
	DB       *db.DB
	Contract *contract.Contract
	Now      func() time.Time
	// DataManagement is the permission that sees and manages every project.
	DataManagement string
	Sandbox        *db.Sandbox
	Limits         QueryLimits
	gate           *queryGate
}

// New makes the data core.
func New(d *db.DB, c *contract.Contract, sb *db.Sandbox, now func() time.Time, limits QueryLimits) *Core {
	return &Core{DB: d, Contract: c, Now: now, DataManagement: c.DataManagement,
		Sandbox: sb, Limits: limits, gate: newQueryGate(limits.PerUser, limits.Max)}
}

// Project is a project with the caller's level on it.
type Project struct {
	db.Project
	Access Level
}

// levelOf is p's level on a loaded project: Admin with Data Management (ROLE_ADMIN holds
// every permission), otherwise the access list's entry for the user. An API key holds
// Data Management only if it carries it (its permissions ∩ its owner's), and acts with
// its owner's entry: the access list is the owner's right, which the key exercises
// within its services, so only a key that may call a project service reaches projects.
func (s *Core) levelOf(p *auth.Principal, row *db.Project) Level {
	if !s.reachesProjects(p) {
		return None
	}
	if p.Has(s.DataManagement) {
		return Admin
	}
	return Level(row.Level)
}

// reachesProjects reports whether p may act on projects at all: a user always; an API
// key when one of its services works on projects (datastores, query). The validator
// already refuses a key an operation of another service; this keeps the rule true in
// the core too.
func (s *Core) reachesProjects(p *auth.Principal) bool {
	if p.Kind != auth.KindAPIKey {
		return true
	}
	for _, id := range s.Contract.ProjectServices {
		if p.AllowsService(id) {
			return true
		}
	}
	return false
}

// Open loads a project for operation op and checks that p may do it there.
func (s *Core) Open(ctx context.Context, p *auth.Principal, op *contract.Operation, id uuid.UUID) (*Project, error) {
	row, err := db.ProjectByID(ctx, s.DB, p.User.ID, id)
	return s.open(p, op, row, err)
}

// OpenByName is Open by project name (any case).
func (s *Core) OpenByName(ctx context.Context, p *auth.Principal, op *contract.Operation, name string) (*Project, error) {
	row, err := db.ProjectByName(ctx, s.DB, p.User.ID, strings.ToLower(name))
	return s.open(p, op, row, err)
}

func (s *Core) open(p *auth.Principal, op *contract.Operation, row *db.Project, err error) (*Project, error) {
	if errors.Is(err, db.ErrNotFound) {
		return nil, noProject()
	} else if err != nil {
		return nil, errs.Wrap(err, "load project")
	}
	return s.Decide(p, op, row)
}

// Decide is the project check of operation op for p on a loaded project: the operation's
// x-permissions, or its x-project-access level on the project. A project the caller
// cannot see at all is not found; one they see with too low a level is forbidden.
func (s *Core) Decide(p *auth.Principal, op *contract.Operation, row *db.Project) (*Project, error) {
	level := s.levelOf(p, row)
	if level == None {
		return nil, noProject()
	}
	if op == nil {
		return nil, errs.E(errs.Internal, "no operation for the project check")
	}
	proj := &Project{Project: *row, Access: level}
	lack := auth.RequireAll(s.Contract, p, op.Permissions)
	if lack == nil {
		return proj, nil
	}
	need, ok := ParseLevel(op.ProjectAccess)
	if !ok {
		return nil, lack
	}
	if level < need {
		return nil, errs.E(errs.Forbidden, "this needs %s access to project %s", need, row.Name)
	}
	return proj, nil
}

// noProject is the answer for a project that does not exist and for one the caller may
// not see: the two must look the same.
func noProject() error {
	return errs.E(errs.NotFound, "no such project").WithReason(errs.ReasonNoProject)
}
