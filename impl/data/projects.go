package data

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/audit"
	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/errs"
)

var projectName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_]{0,49}$`)

// CheckProjectName applies Kylin's rule (ASCII letters, digits and underscores, not
// starting with an underscore, at most 50 characters) and refuses the names PostgreSQL
// gives its own schemas: in SQL a project's name is its schema (see qualifyProject), so
// such a name would make pg_catalog.pg_class or public.x mean the project's table.
func CheckProjectName(field, name string) error {
	if !projectName.MatchString(name) {
		return errs.Field(field, "must be ASCII letters, digits and underscores, not starting with an underscore, at most 50 characters")
	}
	const why = ", and in SQL a project's name is its schema"
	switch key := strings.ToLower(name); {
	case strings.HasPrefix(key, "pg_"):
		return errs.Field(field, name+" is reserved: names starting with pg_ are PostgreSQL's own schemas"+why).WithReason(errs.ReasonInvalidProjectName)
	case key == "public" || key == "information_schema":
		return errs.Field(field, name+" is reserved: PostgreSQL has a schema of that name"+why).WithReason(errs.ReasonInvalidProjectName)
	}
	return nil
}

// CreateProject makes a project with its schema and read-only role, all in one
// transaction: either everything exists afterwards or nothing does.
func (s *Core) CreateProject(ctx context.Context, p *auth.Principal, name, description string) (*Project, error) {
	if err := CheckProjectName("name", name); err != nil {
		return nil, err
	}
	id := uuid.Must(uuid.NewV7())
	hex := strings.ReplaceAll(id.String(), "-", "")
	now := s.Now()
	owner := p.User.ID
	row := db.Project{ID: id, Name: name, NameKey: strings.ToLower(name), Description: description,
		OwnerID: &owner, OwnerName: &p.User.Username, SchemaName: "kala_p_" + hex, RoleName: "kala_r_" + hex,
		CreatedAt: now, ModifiedAt: now}
	err := s.DB.Tx(ctx, func(tx db.Queryer) error {
		// the server's own schema, an extension's, another project's tables: a project
		// of that name would hide it from its own queries
		if taken, err := db.SchemaExists(ctx, tx, row.NameKey); err != nil {
			return err
		} else if taken {
			return errs.Field("name", "the database already has a schema named "+name+", and in SQL a project's name is its schema").
				WithReason(errs.ReasonInvalidProjectName)
		}
		if err := db.InsertProject(ctx, tx, &row); err != nil {
			return err
		}
		if err := db.CreateProjectStorage(ctx, tx, row.SchemaName, row.RoleName); err != nil {
			return err
		}
		return s.Sandbox.PrepareRole(ctx, tx, row.RoleName)
	})
	if errors.Is(err, db.ErrDuplicate) {
		return nil, errs.E(errs.Conflict, "a project named %s already exists", name).WithReason(errs.ReasonDuplicateProject)
	} else if err != nil {
		return nil, errs.Wrap(err, "create project")
	}
	return &Project{Project: row, Access: Admin}, nil
}

// ListProjects returns a page of the projects p can see, and how many there are.
// With min, only projects where p's level is at least min.
func (s *Core) ListProjects(ctx context.Context, p *auth.Principal, filter string, exact bool, min Level, offset, limit int) ([]Project, int, error) {
	if !s.reachesProjects(p) {
		return []Project{}, 0, nil
	}
	rows, total, err := db.ListProjects(ctx, s.DB, p.User.ID, !p.Has(s.DataManagement), int(min), strings.ToLower(filter), exact, offset, limit)
	if err != nil {
		return nil, 0, errs.Wrap(err, "list projects")
	}
	out := make([]Project, len(rows))
	for i := range rows {
		out[i] = Project{Project: rows[i], Access: s.levelOf(p, &rows[i])}
	}
	return out, total, nil
}

// UpdateDescription changes an opened project's description.
func (s *Core) UpdateDescription(ctx context.Context, proj *Project, description string) (*Project, error) {
	now := s.Now()
	if err := db.UpdateProjectDescription(ctx, s.DB, proj.ID, description, now); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return nil, noProject()
		}
		return nil, errs.Wrap(err, "update project")
	}
	proj.Description, proj.ModifiedAt = description, now
	return proj, nil
}

// DeleteProject drops an opened project, its tables, schema and role.
func (s *Core) DeleteProject(ctx context.Context, proj *Project) error {
	s.Sandbox.Forget(proj.RoleName)
	err := s.DB.Tx(ctx, func(tx db.Queryer) error { return db.DeleteProject(ctx, tx, &proj.Project) })
	// a query that opened the project just before may have made a new pool meanwhile
	s.Sandbox.Forget(proj.RoleName)
	if errors.Is(err, db.ErrNotFound) {
		return noProject()
	}
	return errs.Wrap(err, "delete project")
}

// AccessList returns a page of an opened project's access list.
func (s *Core) AccessList(ctx context.Context, proj *Project, filter string, offset, limit int) ([]db.AccessEntry, int, error) {
	es, total, err := db.AccessList(ctx, s.DB, proj.ID, filter, offset, limit)
	return es, total, errs.Wrap(err, "read access list")
}

// Grantee is a user or a user group to name on an access list.
type Grantee struct {
	db.Grantee
	Name string // as spelled, for messages and the audit log
}

// kind is the grantee's kind in messages.
func (g Grantee) kind() string {
	if g.Group {
		return "group"
	}
	return "user"
}

// Grant puts users or groups on an opened project's access list for p, all or none; one
// already listed is a conflict.
func (s *Core) Grant(ctx context.Context, p *auth.Principal, proj *Project, gs []Grantee, level Level) error {
	err := s.DB.Tx(ctx, func(tx db.Queryer) error {
		for _, g := range gs {
			if err := db.AddAccess(ctx, tx, proj.ID, g.Grantee, int(level), s.Now()); err != nil {
				if errors.Is(err, db.ErrDuplicate) {
					return errs.E(errs.Conflict, "%s %s is already on the access list of %s; change the level with PUT", g.kind(), g.Name, proj.Name)
				}
				return err
			}
			if err := s.recordAccess(ctx, tx, p, audit.AccessGrant, proj, g, level); err != nil {
				return err
			}
		}
		return nil
	})
	return errs.Wrap(err, "grant access")
}

// ChangeAccess changes the level of a user or group already on the access list, for p.
func (s *Core) ChangeAccess(ctx context.Context, p *auth.Principal, proj *Project, g Grantee, level Level) error {
	err := s.DB.Tx(ctx, func(tx db.Queryer) error {
		if err := db.ChangeAccess(ctx, tx, proj.ID, g.Grantee, int(level)); err != nil {
			return err
		}
		return s.recordAccess(ctx, tx, p, audit.AccessChange, proj, g, level)
	})
	if errors.Is(err, db.ErrNotFound) {
		return notListed(g, proj)
	}
	return errs.Wrap(err, "change access")
}

// Revoke takes a user or group off the access list, for p.
func (s *Core) Revoke(ctx context.Context, p *auth.Principal, proj *Project, g Grantee) error {
	err := s.DB.Tx(ctx, func(tx db.Queryer) error {
		if err := db.RemoveAccess(ctx, tx, proj.ID, g.Grantee); err != nil {
			return err
		}
		return s.recordAccess(ctx, tx, p, audit.AccessRevoke, proj, g, None)
	})
	if errors.Is(err, db.ErrNotFound) {
		return notListed(g, proj)
	}
	return errs.Wrap(err, "revoke access")
}

func notListed(g Grantee, proj *Project) error {
	return errs.E(errs.NotFound, "%s %s is not on the access list of %s", g.kind(), g.Name, proj.Name)
}

// recordAccess records a change of g's entry on proj's access list (level None: removed).
func (s *Core) recordAccess(ctx context.Context, q db.Queryer, p *auth.Principal, name audit.Name, proj *Project, g Grantee, level Level) error {
	detail := map[string]any{"project": proj.Name, "userId": g.ID, "username": g.Name}
	if g.Group {
		detail = map[string]any{"project": proj.Name, "groupId": g.ID, "group": g.Name}
	}
	if level != None {
		detail["level"] = level.String()
	}
	return audit.Record(ctx, q, audit.Event{At: s.Now(), Name: name, Actor: p.AuditActor(), Target: proj.ID.String(), Detail: detail})
}
