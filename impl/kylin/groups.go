package kylin

import (
	"context"

	"github.com/kala-server/kala/gen"
	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/opt"
)

func (f *Face) KylinListGroups(ctx context.Context, req gen.KylinListGroupsRequestObject) (gen.KylinListGroupsResponseObject, error) {
	index, limit := f.page(req.Params.PageOffset, req.Params.PageSize)
	names, total, err := f.Accounts.Groups(ctx, opt.Val(req.Params.GroupName), opt.Val(req.Params.IsCaseSensitive), index*limit, limit)
	if err != nil {
		return nil, err
	}
	return gen.KylinListGroups200JSONResponse{Code: gen.KylinGroupPageEnvelopeCodeN000,
		Data: gen.KylinGroupPage{Value: names, Offset: index, Limit: limit, TotalSize: total}}, nil
}

func (f *Face) KylinCreateGroup(ctx context.Context, req gen.KylinCreateGroupRequestObject) (gen.KylinCreateGroupResponseObject, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := f.Accounts.CreateGroup(ctx, p.Actor(), req.Body.GroupName); err != nil {
		return nil, err
	}
	return gen.KylinCreateGroup200JSONResponse(empty), nil
}

func (f *Face) KylinDeleteGroup(ctx context.Context, req gen.KylinDeleteGroupRequestObject) (gen.KylinDeleteGroupResponseObject, error) {
	if err := f.deleteGroup(ctx, req.GroupName); err != nil {
		return nil, err
	}
	return gen.KylinDeleteGroup200JSONResponse(empty), nil
}

func (f *Face) KylinDeleteGroupByBody(ctx context.Context, req gen.KylinDeleteGroupByBodyRequestObject) (gen.KylinDeleteGroupByBodyResponseObject, error) {
	if err := f.deleteGroup(ctx, req.Body.GroupName); err != nil {
		return nil, err
	}
	return gen.KylinDeleteGroupByBody200JSONResponse(empty), nil
}

func (f *Face) deleteGroup(ctx context.Context, name string) error {
	p, err := auth.Caller(ctx)
	if err != nil {
		return err
	}
	return f.Accounts.DeleteGroup(ctx, p.Actor(), name)
}

func (f *Face) KylinSetGroupMembers(ctx context.Context, req gen.KylinSetGroupMembersRequestObject) (gen.KylinSetGroupMembersResponseObject, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := f.Accounts.SetGroupMembers(ctx, p.Actor(), req.Body.GroupName, req.Body.Users); err != nil {
		return nil, err
	}
	return gen.KylinSetGroupMembers200JSONResponse(empty), nil
}

func (f *Face) KylinListGroupMembers(ctx context.Context, req gen.KylinListGroupMembersRequestObject) (gen.KylinListGroupMembersResponseObject, error) {
	index, limit := f.page(req.Params.PageOffset, req.Params.PageSize)
	us, total, err := f.Accounts.GroupMembers(ctx, req.GroupName, opt.Val(req.Params.Username), index*limit, limit)
	if err != nil {
		return nil, err
	}
	return gen.KylinListGroupMembers200JSONResponse{Code: gen.KylinUserPageEnvelopeCodeN000, Data: f.userPage(us, index, limit, total)}, nil
}
