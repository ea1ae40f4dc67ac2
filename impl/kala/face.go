// Package kala is the /api face: it translates between the generated strict handlers
// and the core, and writes errors as problem+json.
package kala

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/gen"
	"github.com/kala-server/kala/impl/account"
	"github.com/kala-server/kala/impl/audit"
	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/contract"
	"github.com/kala-server/kala/impl/data"
	"github.com/kala-server/kala/impl/errs"
)

// Face implements the /api operations.
type Face struct {
	Contract *contract.Contract
	Accounts *account.Core
	Tokens   *auth.Tokens
	Keys     *auth.APIKeys
	Data     *data.Core
	Audit    *audit.Log
}

// page applies the list defaults (offset 0, the Limit parameter's default); the contract
// bounds both.
func (f *Face) page(offset *gen.Offset, limit *gen.Limit) (int, int) {
	o, l := 0, f.Contract.PageLimit
	if offset != nil {
		o = int(*offset)
	}
	if limit != nil {
		l = int(*limit)
	}
	return o, l
}

// slice returns the page [offset, offset+limit) of all.
func slice[T any](all []T, offset, limit int) []T {
	if offset >= len(all) {
		return []T{}
	}
	return all[offset:min(len(all), offset+limit)]
}

func (f *Face) CreateAccessToken(ctx context.Context, req gen.CreateAccessTokenRequestObject) (gen.CreateAccessTokenResponseObject, error) {
	u, err := f.Accounts.Login(ctx, req.Body.Username, req.Body.Password)
	if err != nil {
		return nil, err
	}
	tok, ttl, err := f.Tokens.Issue(u.ID, u.CredentialVersion)
	if err != nil {
		return nil, errs.Wrap(err, "sign token")
	}
	return gen.CreateAccessToken200JSONResponse{Data: gen.AccessToken{
		AccessToken: tok, TokenType: gen.Bearer, ExpiresIn: int(ttl / time.Second)}}, nil
}

func (f *Face) CreateApiKey(ctx context.Context, req gen.CreateApiKeyRequestObject) (gen.CreateApiKeyResponseObject, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body
	in := auth.NewKey{ValidFrom: b.ValidFrom, ValidTo: b.ValidTo, Permissions: []string{}}
	if b.Name != nil {
		in.Name = *b.Name
	}
	if b.Permissions != nil {
		in.Permissions = *b.Permissions
	}
	if b.Services != nil {
		in.Services = *b.Services
	}
	key, _, err := f.Keys.Create(ctx, p, in)
	if err != nil {
		return nil, err
	}
	return gen.CreateApiKey201JSONResponse{Data: key}, nil
}

func (f *Face) ListApiKeys(ctx context.Context, req gen.ListApiKeysRequestObject) (gen.ListApiKeysResponseObject, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	offset, limit := f.page(req.Params.Offset, req.Params.Limit)
	ks, total, err := f.Keys.List(ctx, p, offset, limit)
	if err != nil {
		return nil, err
	}
	out := gen.ListApiKeys200JSONResponse{Data: make([]gen.ApiKey, len(ks)),
		Page: gen.Page{Offset: offset, Limit: limit, Total: total}}
	for i := range ks {
		out.Data[i] = f.apiKey(&ks[i])
	}
	return out, nil
}

func (f *Face) DeleteApiKey(ctx context.Context, req gen.DeleteApiKeyRequestObject) (gen.DeleteApiKeyResponseObject, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := f.Keys.Revoke(ctx, p, uuid.UUID(req.Id)); err != nil {
		return nil, err
	}
	return gen.DeleteApiKey204Response{}, nil
}

func (f *Face) GetMe(ctx context.Context, _ gen.GetMeRequestObject) (gen.GetMeResponseObject, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	me := gen.Me{Kind: gen.MeKind(p.Kind), User: f.User(p.User), Permissions: p.Permissions(), Services: p.Services()}
	if p.Key != nil {
		k := f.apiKey(p.Key)
		me.ApiKey = &k
	}
	return gen.GetMe200JSONResponse{Data: me}, nil
}

func (f *Face) ListPermissions(_ context.Context, req gen.ListPermissionsRequestObject) (gen.ListPermissionsResponseObject, error) {
	offset, limit := f.page(req.Params.Offset, req.Params.Limit)
	all := make([]gen.Permission, len(f.Contract.Permissions))
	for i, p := range f.Contract.Permissions {
		all[i] = gen.Permission{Id: p.ID, Name: p.Name, Description: p.Description}
	}
	return gen.ListPermissions200JSONResponse{Data: slice(all, offset, limit),
		Page: gen.Page{Offset: offset, Limit: limit, Total: len(all)}}, nil
}

func (f *Face) ListServices(_ context.Context, req gen.ListServicesRequestObject) (gen.ListServicesResponseObject, error) {
	offset, limit := f.page(req.Params.Offset, req.Params.Limit)
	all := make([]gen.Service, len(f.Contract.Services))
	for i, s := range f.Contract.Services {
		all[i] = gen.Service{Id: s.ID, Name: s.Name, Description: s.Description}
	}
	return gen.ListServices200JSONResponse{Data: slice(all, offset, limit),
		Page: gen.Page{Offset: offset, Limit: limit, Total: len(all)}}, nil
}

// User is the Kala view of a user.
func (f *Face) User(u *db.User) gen.User {
	var until *time.Time
	t, locked := f.Accounts.LockedUntil(u)
	if locked {
		t = t.UTC()
		until = &t
	}
	return gen.User{Id: u.ID, Username: u.Username, Admin: u.Admin, Disabled: u.Disabled,
		DefaultPassword: u.DefaultPassword, Authorities: account.Authorities(u), Locked: locked, LockedUntil: until,
		Permissions: auth.UserPermissions(f.Contract, u), CreatedAt: u.CreatedAt.UTC(), ModifiedAt: u.ModifiedAt.UTC()}
}

func (f *Face) apiKey(k *db.APIKey) gen.ApiKey {
	services := []string(k.Services)
	if services == nil {
		services = f.Contract.AllServiceIDs()
	}
	perms := []string(k.Permissions)
	if perms == nil {
		perms = []string{}
	}
	out := gen.ApiKey{Id: k.ID, Name: k.Name, Prefix: auth.KeyPrefixOf(k.Lookup), ValidFrom: k.ValidFrom.UTC(),
		ValidTo: k.ValidTo.UTC(), Permissions: perms, Services: services, CreatedAt: k.CreatedAt.UTC()}
	if k.LastUsedAt != nil {
		t := k.LastUsedAt.UTC()
		out.LastUsedAt = &t
	}
	return out
}
