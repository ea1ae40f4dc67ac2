package kylin

import (
	"context"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/gen"
	"github.com/kala-server/kala/impl/account"
	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/contract"
	"github.com/kala-server/kala/impl/data"
	"github.com/kala-server/kala/impl/errs"
	"github.com/kala-server/kala/impl/opt"
)

// Kylin's internal names for access levels, used in its project list.
var kylinPermission = map[data.Level]gen.KylinPermission{
	data.Query: gen.KylinPermissionREAD, data.Operation: gen.KylinPermissionOPERATION,
	data.Management: gen.KylinPermissionMANAGEMENT, data.Admin: gen.KylinPermissionADMINISTRATION,
}

func project(p *data.Project) gen.KylinProject {
	return gen.KylinProject{Uuid: p.ID, Name: p.Name, Description: p.Description, Owner: p.OwnerName,
		Permission: kylinPermission[p.Access], CreateTimeUtc: p.CreatedAt.UnixMilli(), LastModified: p.ModifiedAt.UnixMilli()}
}

func (f *Face) KylinListProjects(ctx context.Context, req gen.KylinListProjectsRequestObject) (gen.KylinListProjectsResponseObject, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	index, limit := f.page(req.Params.PageOffset, req.Params.PageSize)
	min := data.None
	if req.Params.Permission != nil {
		for l, name := range kylinPermission {
			if name == *req.Params.Permission {
				min = l
			}
		}
	}
	ps, total, err := f.Data.ListProjects(ctx, p, opt.Val(req.Params.Project), opt.Val(req.Params.Exact), min, index*limit, limit)
	if err != nil {
		return nil, err
	}
	out := gen.KylinListProjects200JSONResponse{Code: gen.KylinProjectPageEnvelopeCodeN000,
		Data: gen.KylinProjectPage{Value: make([]gen.KylinProject, len(ps)), Offset: index, Limit: limit, TotalSize: total}}
	for i := range ps {
		out.Data.Value[i] = project(&ps[i])
	}
	return out, nil
}

func (f *Face) KylinCreateProject(ctx context.Context, req gen.KylinCreateProjectRequestObject) (gen.KylinCreateProjectResponseObject, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	proj, err := f.Data.CreateProject(ctx, p, req.Body.Name, opt.Val(req.Body.Description))
	if err != nil {
		return nil, err
	}
	return gen.KylinCreateProject200JSONResponse{Code: gen.KylinProjectEnvelopeCodeN000, Data: project(proj)}, nil
}

func (f *Face) KylinDeleteProject(ctx context.Context, req gen.KylinDeleteProjectRequestObject) (gen.KylinDeleteProjectResponseObject, error) {
	_, proj, err := f.openByName(ctx, req.Project)
	if err != nil {
		return nil, err
	}
	if err := f.Data.DeleteProject(ctx, proj); err != nil {
		return nil, err
	}
	return gen.KylinDeleteProject200JSONResponse(empty), nil
}

func (f *Face) KylinListProjectAccess(ctx context.Context, req gen.KylinListProjectAccessRequestObject) (gen.KylinListProjectAccessResponseObject, error) {
	_, proj, err := f.openByName(ctx, req.Params.Project)
	if err != nil {
		return nil, err
	}
	index, limit := f.page(req.Params.PageOffset, req.Params.PageSize)
	es, total, err := f.Data.AccessList(ctx, proj, account.UsernameKey(opt.Val(req.Params.Name)), index*limit, limit)
	if err != nil {
		return nil, err
	}
	out := gen.KylinListProjectAccess200JSONResponse{Code: gen.KylinAccessPageEnvelopeCodeN000,
		Data: gen.KylinAccessPage{Value: make([]gen.KylinAccessEntry, len(es)), Offset: index, Limit: limit, TotalSize: total}}
	for i, e := range es {
		typ := gen.KylinGranteeTypeUser
		if e.Group {
			typ = gen.KylinGranteeTypeGroup
		}
		out.Data.Value[i] = gen.KylinAccessEntry{Name: e.Name, Type: typ, Permission: gen.AccessLevel(data.Level(e.Level).String())}
	}
	return out, nil
}

// grantee resolves a name on an access list: a user, or with group a user group. Global
// admins and ROLE_ADMIN already have every right. A name that is not there is a bad
// request: the body refers to it (a 400 naming field, with Kylin's not-found code).
func (f *Face) grantee(ctx context.Context, field string, typ gen.KylinGranteeType, name string) (data.Grantee, error) {
	if typ == gen.KylinGranteeTypeGroup {
		g, err := f.Accounts.GroupByName(ctx, name)
		if errs.CodeOf(err) == errs.NotFound {
			return data.Grantee{}, errs.Field(field, "no user group named "+name).WithReason(errs.ReasonNoGroup)
		} else if err != nil {
			return data.Grantee{}, err
		}
		if g.Name == account.AuthorityAdmin {
			return data.Grantee{}, errs.Field(field, g.Name+" holds every right already")
		}
		return data.Grantee{Grantee: db.Grantee{ID: g.ID, Group: true}, Name: g.Name}, nil
	}
	u, err := f.Accounts.UserByName(ctx, name)
	if errs.CodeOf(err) == errs.NotFound {
		return data.Grantee{}, errs.Field(field, "no user named "+name).WithReason(errs.ReasonNoUser)
	} else if err != nil {
		return data.Grantee{}, err
	}
	if u.Admin {
		return data.Grantee{}, errs.Field(field, name+" is a global admin, with every right already")
	}
	return data.Grantee{Grantee: db.Grantee{ID: u.ID}, Name: u.Username}, nil
}

func (f *Face) KylinGrantProjectAccess(ctx context.Context, req gen.KylinGrantProjectAccessRequestObject) (gen.KylinGrantProjectAccessResponseObject, error) {
	b := req.Body
	p, proj, err := f.openByName(ctx, b.Project)
	if err != nil {
		return nil, err
	}
	level, _ := data.ParseLevel(string(b.Permission))
	gs := make([]data.Grantee, len(b.Names))
	for i, n := range b.Names {
		if gs[i], err = f.grantee(ctx, "names", b.Type, n); err != nil {
			return nil, err
		}
	}
	if err := f.Data.Grant(ctx, p, proj, gs, level); err != nil {
		return nil, err
	}
	return gen.KylinGrantProjectAccess200JSONResponse(empty), nil
}

func (f *Face) KylinUpdateProjectAccess(ctx context.Context, req gen.KylinUpdateProjectAccessRequestObject) (gen.KylinUpdateProjectAccessResponseObject, error) {
	b := req.Body
	p, proj, err := f.openByName(ctx, b.Project)
	if err != nil {
		return nil, err
	}
	g, err := f.grantee(ctx, "name", b.Type, b.Name)
	if err != nil {
		return nil, err
	}
	level, _ := data.ParseLevel(string(b.Permission))
	if err := f.Data.ChangeAccess(ctx, p, proj, g, level); err != nil {
		return nil, err
	}
	return gen.KylinUpdateProjectAccess200JSONResponse(empty), nil
}

func (f *Face) KylinRevokeProjectAccess(ctx context.Context, req gen.KylinRevokeProjectAccessRequestObject) (gen.KylinRevokeProjectAccessResponseObject, error) {
	p, proj, err := f.openByName(ctx, req.Params.Project)
	if err != nil {
		return nil, err
	}
	// the name is the resource here: an unknown one is not found
	var g data.Grantee
	if req.Params.Type == gen.KylinGranteeTypeGroup {
		gr, err := f.Accounts.GroupByName(ctx, req.Params.Name)
		if err != nil {
			return nil, err
		}
		g = data.Grantee{Grantee: db.Grantee{ID: gr.ID, Group: true}, Name: gr.Name}
	} else {
		u, err := f.Accounts.UserByName(ctx, req.Params.Name)
		if err != nil {
			return nil, err
		}
		g = data.Grantee{Grantee: db.Grantee{ID: u.ID}, Name: u.Username}
	}
	if err := f.Data.Revoke(ctx, p, proj, g); err != nil {
		return nil, err
	}
	return gen.KylinRevokeProjectAccess200JSONResponse(empty), nil
}

// openByName is the request's caller and the project its operation acts on, checked.
func (f *Face) openByName(ctx context.Context, name string) (*auth.Principal, *data.Project, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	proj, err := f.Data.OpenByName(ctx, p, contract.OperationFrom(ctx), name)
	return p, proj, err
}
