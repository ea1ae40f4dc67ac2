package kylin

import (
	"context"
	"encoding/base64"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/kala-server/kala/gen"
	"github.com/kala-server/kala/impl/account"
	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/errs"
	"github.com/kala-server/kala/impl/opt"
)

// base64Password is NUserController's pattern for a password sent base64-encoded (its
// web UI sends them so): base64's alphabet only, in whole groups of four, padded with
// '=' at the end only.
var base64Password = regexp.MustCompile(`^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$`)

// password reads a password the way Kylin's user API does (pwdBase64Decode): a value
// matching base64Password is decoded first. Kylin decodes such a value whatever it
// yields; Kala only when it yields UTF-8 text without control characters, and otherwise
// takes the value as typed: a plain password that happens to match the pattern
// ("Pass/123") decodes to bytes nobody could type at a login prompt.
func password(p string) string {
	if !base64Password.MatchString(p) {
		return p
	}
	b, err := base64.StdEncoding.DecodeString(p)
	if err != nil || !utf8.Valid(b) || strings.ContainsFunc(string(b), unicode.IsControl) {
		return p
	}
	return string(b)
}

func passwordPtr(p *string) *string {
	if p == nil {
		return nil
	}
	d := password(*p)
	return &d
}

func newUser(b gen.KylinUserCreate) account.NewUser {
	return account.NewUser{Username: b.Username, Password: password(b.Password),
		Disabled: opt.Val(b.Disabled), Authorities: opt.Val(opt.Strings(b.Authorities))}
}

func (f *Face) KylinCreateUsers(ctx context.Context, req gen.KylinCreateUsersRequestObject) (gen.KylinCreateUsersResponseObject, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	in := make([]account.NewUser, len(*req.Body))
	for i, b := range *req.Body {
		in[i] = newUser(b)
	}
	us, err := f.Accounts.CreateUsers(ctx, p.Actor(), in)
	if err != nil {
		return nil, err
	}
	out := gen.KylinCreateUsers200JSONResponse{Code: gen.KylinUserListEnvelopeCodeN000, Data: make([]gen.KylinUser, len(us))}
	for i, u := range us {
		out.Data[i] = f.User(u)
	}
	return out, nil
}

func (f *Face) KylinDeleteUserByBody(ctx context.Context, req gen.KylinDeleteUserByBodyRequestObject) (gen.KylinDeleteUserByBodyResponseObject, error) {
	if err := f.deleteUsers(ctx, []string{req.Body.Username}); err != nil {
		return nil, err
	}
	return gen.KylinDeleteUserByBody200JSONResponse(empty), nil
}

func (f *Face) KylinDeleteUsers(ctx context.Context, req gen.KylinDeleteUsersRequestObject) (gen.KylinDeleteUsersResponseObject, error) {
	if err := f.deleteUsers(ctx, *req.Body); err != nil {
		return nil, err
	}
	return gen.KylinDeleteUsers200JSONResponse(empty), nil
}

// deleteUsers deletes the named users, all or none; unknown names are listed first, as
// Kylin does.
func (f *Face) deleteUsers(ctx context.Context, names []string) error {
	p, err := auth.Caller(ctx)
	if err != nil {
		return err
	}
	ids := make([]uuid.UUID, 0, len(names))
	var missing []string
	for _, n := range names {
		u, err := f.Accounts.UserByName(ctx, n)
		if errs.CodeOf(err) == errs.NotFound {
			missing = append(missing, n)
			continue
		} else if err != nil {
			return err
		}
		ids = append(ids, u.ID)
	}
	if len(missing) > 0 {
		return errs.E(errs.NotFound, "no user named %s", strings.Join(missing, ", ")).WithReason(errs.ReasonNoUser)
	}
	return f.Accounts.DeleteUsers(ctx, p.Actor(), ids)
}
