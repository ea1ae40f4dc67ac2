package kylin

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/gen"
	"github.com/kala-server/kala/impl/account"
	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/contract"
	"github.com/kala-server/kala/impl/data"
	"github.com/kala-server/kala/impl/errs"
	"github.com/kala-server/kala/impl/opt"
)

// Face implements the /kylin/api operations.
type Face struct {
	Contract     *contract.Contract
	Accounts     *account.Core
	Data         *data.Core
	Sessions     *auth.Sessions
	CookieSecure bool
	Log          *slog.Logger
}

type exchangeKey struct{}

type exchange struct {
	w http.ResponseWriter
	r *http.Request
}

// Exchange is a strict middleware that lets this face's handlers read the request (its
// cookies) and set response headers (Set-Cookie), which strict handlers otherwise cannot.
func Exchange(f gen.StrictHandlerFunc, _ string) gen.StrictHandlerFunc {
	return func(ctx context.Context, w http.ResponseWriter, r *http.Request, req any) (any, error) {
		return f(context.WithValue(ctx, exchangeKey{}, exchange{w, r}), w, r, req)
	}
}

func exchangeOf(ctx context.Context) (exchange, error) {
	x, ok := ctx.Value(exchangeKey{}).(exchange)
	if !ok {
		return x, errs.E(errs.Internal, "no request in context")
	}
	return x, nil
}

func millis(t *time.Time) int64 {
	if t == nil || t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// User is Kylin's view of a user.
func (f *Face) User(u *db.User) gen.KylinUser {
	names := account.Authorities(u)
	if u.Admin { // Kylin lists ROLE_ADMIN first, as its own ADMIN shows
		names = slices.Insert(slices.DeleteFunc(names, func(a string) bool { return a == account.AuthorityAdmin }), 0, account.AuthorityAdmin)
	}
	auths := make([]gen.KylinAuthority, len(names))
	for i, a := range names {
		auths[i] = gen.KylinAuthority{Authority: a}
	}
	out := gen.KylinUser{Uuid: u.ID, Username: u.Username, Authorities: auths, Disabled: u.Disabled,
		DefaultPassword: u.DefaultPassword, CreateTime: u.CreatedAt.UnixMilli(), LastModified: u.ModifiedAt.UnixMilli(),
		FirstLoginFailedTime: millis(u.FirstFailedAt)}
	if u.WrongCount != nil {
		out.WrongTime = *u.WrongCount
	}
	if _, locked := f.Accounts.LockedUntil(u); locked {
		out.Locked = true
		out.LockedTime = millis(u.LastFailedAt)
	}
	return out
}

// MaxPageSize is the most items a Kylin page holds, whatever page_size asks: Kylin's
// clients ask 1,000, 100,000 or 2^31-1 to mean "all".
const MaxPageSize = 1000

// Kylin's page: page_offset is a page index, counting pages of the size applied.
func (f *Face) page(offset *gen.KylinPageOffset, size *gen.KylinPageSize) (index, limit int) {
	index, limit = 0, f.Contract.KylinPageSize
	if offset != nil {
		index = int(*offset)
	}
	if size != nil {
		limit = min(int(*size), MaxPageSize)
	}
	return index, limit
}

// authenticated answers who the caller is; with login, a password-authenticated caller
// also gets a new session.
func (f *Face) authenticated(ctx context.Context, login bool) (*gen.KylinUserEnvelope, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	x, err := exchangeOf(ctx)
	if err != nil {
		return nil, err
	}
	if login && p.Scheme == auth.SchemeBasic {
		// a password was presented: start a fresh session, and end any the request carried
		// (a session id chosen before login never becomes a logged-in one)
		if c, err := x.r.Cookie(auth.SessionCookie); err == nil {
			if err := f.Sessions.End(ctx, c.Value); err != nil {
				return nil, err
			}
		}
		v, err := f.Sessions.Start(ctx, p.User)
		if err != nil {
			return nil, err
		}
		http.SetCookie(x.w, f.cookie(x.r, v, 0))
	}
	return &gen.KylinUserEnvelope{Code: gen.KylinUserEnvelopeCodeN000, Data: f.User(p.User), Msg: ""}, nil
}

func (f *Face) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: auth.SessionCookie, Value: value, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: f.CookieSecure || r.TLS != nil, MaxAge: maxAge}
}

func (f *Face) KylinLogin(ctx context.Context, _ gen.KylinLoginRequestObject) (gen.KylinLoginResponseObject, error) {
	env, err := f.authenticated(ctx, true)
	if err != nil {
		return nil, err
	}
	return gen.KylinLogin200JSONResponse(*env), nil
}

func (f *Face) KylinGetAuthentication(ctx context.Context, _ gen.KylinGetAuthenticationRequestObject) (gen.KylinGetAuthenticationResponseObject, error) {
	// who-am-I only: Kylin clients (kylinpy) call it with Basic on every request
	env, err := f.authenticated(ctx, false)
	if err != nil {
		return nil, err
	}
	return gen.KylinGetAuthentication200JSONResponse(*env), nil
}

// logoutTarget is where Kylin sends a browser after logout: Spring's
// SimpleUrlLogoutSuccessHandler's default "/" under Kylin's context path.
const logoutTarget = "/kylin/"

// logout ends the request's session and clears its cookie. It reports whether the caller
// is a browser to redirect rather than a JSON client.
func (f *Face) logout(ctx context.Context) (redirect bool, err error) {
	x, err := exchangeOf(ctx)
	if err != nil {
		return false, err
	}
	if c, err := x.r.Cookie(auth.SessionCookie); err == nil {
		if err := f.Sessions.Logout(ctx, c.Value); err != nil {
			return false, err
		}
	}
	http.SetCookie(x.w, f.cookie(x.r, "", -1))
	return prefersHTML(x.r.Header.Get("Accept")), nil
}

var empty = gen.KylinEmptyEnvelope{Code: gen.KylinEmptyEnvelopeCodeN000}

func (f *Face) KylinLogout(ctx context.Context, _ gen.KylinLogoutRequestObject) (gen.KylinLogoutResponseObject, error) {
	redirect, err := f.logout(ctx)
	if err != nil {
		return nil, err
	}
	if redirect {
		return gen.KylinLogout302Response{Headers: gen.KylinLogout302ResponseHeaders{Location: logoutTarget}}, nil
	}
	return gen.KylinLogout200JSONResponse(empty), nil
}

func (f *Face) KylinLogoutGet(ctx context.Context, _ gen.KylinLogoutGetRequestObject) (gen.KylinLogoutGetResponseObject, error) {
	redirect, err := f.logout(ctx)
	if err != nil {
		return nil, err
	}
	if redirect {
		return gen.KylinLogoutGet302Response{Headers: gen.KylinLogoutGet302ResponseHeaders{Location: logoutTarget}}, nil
	}
	return gen.KylinLogoutGet200JSONResponse(empty), nil
}

func (f *Face) KylinListUsers(ctx context.Context, req gen.KylinListUsersRequestObject) (gen.KylinListUsersResponseObject, error) {
	index, limit := f.page(req.Params.PageOffset, req.Params.PageSize)
	us, total, _, err := f.Accounts.Users(ctx, db.UserPage{Filter: opt.Val(req.Params.Name), CaseSensitive: opt.Val(req.Params.IsCaseSensitive),
		Offset: index * limit, Limit: limit})
	if err != nil {
		return nil, err
	}
	return gen.KylinListUsers200JSONResponse{Code: gen.KylinUserPageEnvelopeCodeN000, Data: f.userPage(us, index, limit, total)}, nil
}

// userPage is a page of users in Kylin's shape.
func (f *Face) userPage(us []db.User, index, limit, total int) gen.KylinUserPage {
	out := gen.KylinUserPage{Value: make([]gen.KylinUser, len(us)), Offset: index, Limit: limit, TotalSize: total}
	for i := range us {
		out.Value[i] = f.User(&us[i])
	}
	return out
}

func (f *Face) userEnvelope(u *db.User) gen.KylinUserEnvelope {
	return gen.KylinUserEnvelope{Code: gen.KylinUserEnvelopeCodeN000, Data: f.User(u)}
}

func (f *Face) KylinCreateUser(ctx context.Context, req gen.KylinCreateUserRequestObject) (gen.KylinCreateUserResponseObject, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	u, err := f.Accounts.CreateUser(ctx, p.Actor(), newUser(*req.Body))
	if err != nil {
		return nil, err
	}
	return gen.KylinCreateUser200JSONResponse(f.userEnvelope(u)), nil
}

func (f *Face) KylinUpdateUser(ctx context.Context, req gen.KylinUpdateUserRequestObject) (gen.KylinUpdateUserResponseObject, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body
	u, err := f.Accounts.UserByName(ctx, b.Username)
	if err != nil {
		return nil, err
	}
	// the groups decide admin (with or without ROLE_ADMIN): a rule of account, not of this face
	patch := account.UserPatch{Disabled: b.Disabled, Authorities: opt.Strings(b.Authorities), Password: passwordPtr(b.Password)}
	if u, err = f.Accounts.UpdateUser(ctx, p.Actor(), u.ID, patch); err != nil {
		return nil, err
	}
	return gen.KylinUpdateUser200JSONResponse(f.userEnvelope(u)), nil
}

func (f *Face) KylinDeleteUser(ctx context.Context, req gen.KylinDeleteUserRequestObject) (gen.KylinDeleteUserResponseObject, error) {
	name := req.Username
	// Kylin's web UI deletes by the user's uuid: a name that is no user's but is a user's
	// id names that user (a user named like an id is found by name first).
	if id, err := uuid.Parse(name); err == nil {
		if _, err := f.Accounts.UserByName(ctx, name); errs.CodeOf(err) == errs.NotFound {
			if u, err := f.Accounts.User(ctx, id); err == nil {
				name = u.Username
			}
		}
	}
	if err := f.deleteUsers(ctx, []string{name}); err != nil {
		return nil, err
	}
	return gen.KylinDeleteUser200JSONResponse(empty), nil
}

func (f *Face) KylinChangePassword(ctx context.Context, req gen.KylinChangePasswordRequestObject) (gen.KylinChangePasswordResponseObject, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if p.Kind == auth.KindAPIKey {
		return nil, errs.E(errs.Forbidden, "API keys cannot change passwords")
	}
	u, err := f.Accounts.UserByName(ctx, req.Body.Username)
	if err != nil {
		return nil, err
	}
	var keep []byte
	if p.SessionID != "" {
		keep = []byte(p.SessionID)
	}
	if err := f.Accounts.ChangePassword(ctx, p.Actor(), u.ID, passwordPtr(req.Body.Password), password(req.Body.NewPassword), keep); err != nil {
		return nil, err
	}
	return gen.KylinChangePassword200JSONResponse(empty), nil
}
