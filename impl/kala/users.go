package kala

import (
	"context"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/gen"
	"github.com/kala-server/kala/impl/account"
	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/opt"
)

func (f *Face) ListUsers(ctx context.Context, req gen.ListUsersRequestObject) (gen.ListUsersResponseObject, error) {
	offset, limit := f.page(req.Params.Offset, req.Params.Limit)
	filter := ""
	if req.Params.Name != nil {
		filter = *req.Params.Name
	}
	us, total, more, err := f.Accounts.Users(ctx, db.UserPage{Filter: filter, After: opt.Val(req.Params.After), Offset: offset, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := gen.ListUsers200JSONResponse{Data: make([]gen.User, len(us)), Page: gen.Page{Offset: offset, Limit: limit, Total: total}}
	for i := range us {
		out.Data[i] = f.User(&us[i])
	}
	if more {
		out.Page.Next = &us[len(us)-1].Username // continue after the last name on this page
	}
	return out, nil
}

func (f *Face) CreateUser(ctx context.Context, req gen.CreateUserRequestObject) (gen.CreateUserResponseObject, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body
	u, err := f.Accounts.CreateUser(ctx, p.Actor(), account.NewUser{Username: b.Username, Password: b.Password,
		Admin: opt.Val(b.Admin), Disabled: opt.Val(b.Disabled), Permissions: opt.Val(b.Permissions),
		Authorities: opt.Val(opt.Strings(b.Authorities))})
	if err != nil {
		return nil, err
	}
	return gen.CreateUser201JSONResponse{Data: f.User(u)}, nil
}

func (f *Face) GetUser(ctx context.Context, req gen.GetUserRequestObject) (gen.GetUserResponseObject, error) {
	u, err := f.Accounts.User(ctx, uuid.UUID(req.Id))
	if err != nil {
		return nil, err
	}
	return gen.GetUser200JSONResponse{Data: f.User(u)}, nil
}

func (f *Face) UpdateUser(ctx context.Context, req gen.UpdateUserRequestObject) (gen.UpdateUserResponseObject, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body
	u, err := f.Accounts.UpdateUser(ctx, p.Actor(), uuid.UUID(req.Id), account.UserPatch{Admin: b.Admin,
		Disabled: b.Disabled, Locked: b.Locked, Permissions: b.Permissions, Authorities: opt.Strings(b.Authorities)})
	if err != nil {
		return nil, err
	}
	return gen.UpdateUser200JSONResponse{Data: f.User(u)}, nil
}

func (f *Face) DeleteUser(ctx context.Context, req gen.DeleteUserRequestObject) (gen.DeleteUserResponseObject, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := f.Accounts.DeleteUser(ctx, p.Actor(), uuid.UUID(req.Id)); err != nil {
		return nil, err
	}
	return gen.DeleteUser204Response{}, nil
}

func (f *Face) ChangeUserPassword(ctx context.Context, req gen.ChangeUserPasswordRequestObject) (gen.ChangeUserPasswordResponseObject, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := f.Accounts.ChangePassword(ctx, p.Actor(), uuid.UUID(req.Id), req.Body.OldPassword, req.Body.NewPassword, nil); err != nil {
		return nil, err
	}
	return gen.ChangeUserPassword204Response{}, nil
}
