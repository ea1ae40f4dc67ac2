// Package flow runs the first-hour flow with the client that ogen generates from
// openapi.yaml (into ./api, git-ignored) against a live server: log in, make a
// key, who-am-I by header and by query, a Kylin Basic query, and a Kylin error
// decoded into its typed shape. Run by `make test-generators` through
// scripts/e2e.sh, which sets KALA_URL and KALA_ADMIN_PASSWORD.
package flow

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-faster/jx"
	"github.com/ogen-go/ogen/ogenerrors"

	"github.com/kala-server/kala/tools/generators/ogen/api"
)

// creds is the client's security source: it offers only the credentials it
// holds. ogen applies every scheme the source does not skip, and the server
// refuses a key sent both as X-API-Key and as ?key=, so each client holds one.
type creds struct {
	bearer, keyHeader, keyQuery string
	user, password              string
}

var skip = ogenerrors.ErrSkipClientSecurity

func (c creds) BearerAuth(context.Context, api.OperationName) (api.BearerAuth, error) {
	if c.bearer == "" {
		return api.BearerAuth{}, skip
	}
	return api.BearerAuth{Token: c.bearer}, nil
}

func (c creds) ApiKeyHeader(context.Context, api.OperationName) (api.ApiKeyHeader, error) {
	if c.keyHeader == "" {
		return api.ApiKeyHeader{}, skip
	}
	return api.ApiKeyHeader{APIKey: c.keyHeader}, nil
}

func (c creds) ApiKeyQuery(context.Context, api.OperationName) (api.ApiKeyQuery, error) {
	if c.keyQuery == "" {
		return api.ApiKeyQuery{}, skip
	}
	return api.ApiKeyQuery{APIKey: c.keyQuery}, nil
}

func (c creds) BasicAuth(context.Context, api.OperationName) (api.BasicAuth, error) {
	if c.user == "" {
		return api.BasicAuth{}, skip
	}
	return api.BasicAuth{Username: c.user, Password: c.password}, nil
}

func (creds) SessionCookie(context.Context, api.OperationName) (api.SessionCookie, error) {
	return api.SessionCookie{}, skip
}

func env(t *testing.T, name string) string {
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run through scripts/e2e.sh (make test-generators)", name)
	}
	return v
}

// want fails the test unless res has type T, and returns it.
func want[T any](t *testing.T, step string, res any, err error) T {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	v, ok := res.(T)
	if !ok {
		t.Fatalf("%s: got %T %+v, want %T", step, res, res, *new(T))
	}
	return v
}

func TestOgenClientFlow(t *testing.T) {
	ctx := context.Background()
	base := strings.TrimRight(env(t, "KALA_URL"), "/")
	password := env(t, "KALA_ADMIN_PASSWORD")
	client := func(c creds) *api.Client {
		cl, err := api.NewClient(base, c)
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	anon := client(creds{})
	dataManagement := api.PermissionId01968c9187897724B62d946b118ce9d6

	// 1. Log in for a JWT.
	res, err := anon.CreateAccessToken(ctx, &api.LoginRequest{Username: "ADMIN", Password: password})
	login := want[*api.AccessTokenEnvelope](t, "log in", res, err)
	if login.Data.TokenType != api.AccessTokenTokenTypeBearer || login.Data.ExpiresIn <= 0 {
		t.Fatalf("log in: %+v", login.Data)
	}
	bearer := client(creds{bearer: login.Data.AccessToken})

	// 2. An API key with Data Management.
	res2, err := bearer.CreateApiKey(ctx, &api.ApiKeyCreate{
		Name:        api.NewOptString("ogen flow"),
		ValidTo:     time.Now().Add(24 * time.Hour),
		Permissions: []api.PermissionId{dataManagement},
	})
	key := want[*api.ApiKeySecretEnvelope](t, "create key", res2, err).Data
	if !strings.HasPrefix(key, "kala_") {
		t.Fatalf("create key: %q", key)
	}

	// 3. Who am I, with the key in X-API-Key and then in ?key=.
	for name, c := range map[string]creds{"X-API-Key": {keyHeader: key}, "?key=": {keyQuery: key}} {
		res, err := client(c).GetMe(ctx)
		me := want[*api.MeEnvelope](t, "who am I by "+name, res, err).Data
		if me.Kind != api.MeKindApiKey || me.User.Username != "ADMIN" || me.ApiKey.Value.Name != "ogen flow" {
			t.Fatalf("who am I by %s: %+v", name, me)
		}
		if fmt.Sprint(me.Permissions) != fmt.Sprint([]api.PermissionId{dataManagement}) {
			t.Fatalf("who am I by %s: permissions %v", name, me.Permissions)
		}
	}

	// 4. A project (Kylin, Basic) with a table and two rows (Kala, bearer).
	basic := client(creds{user: "ADMIN", password: password})
	project := api.ProjectName(fmt.Sprintf("ogen_flow_%d", time.Now().UnixNano()))
	res4, err := basic.KylinCreateProject(ctx, &api.KylinProjectCreate{Name: project, Description: api.NewOptString("made by the ogen flow")})
	proj := want[*api.KylinCreateProjectApplicationJSONOK](t, "create project", res4, err).Data
	t.Cleanup(func() {
		// A null `data` on success decodes too (KylinEmptyEnvelope).
		res, err := basic.KylinDeleteProject(ctx, api.KylinDeleteProjectParams{Project: project})
		if got := want[*api.KylinDeleteProjectApplicationJSONOK](t, "delete project", res, err); !got.Data.Null {
			t.Errorf("delete project: data %+v, want null", got.Data)
		}
	})
	res5, err := bearer.CreateTable(ctx, &api.TableCreate{
		Name:    "t",
		Columns: []api.Column{{Name: "id", Type: api.ColumnTypeBigint}, {Name: "label", Type: api.ColumnTypeText}},
	}, api.CreateTableParams{ID: proj.UUID})
	want[*api.TableEnvelope](t, "create table", res5, err)
	row := func(id int, label string) api.RowInsertItem {
		return api.RowInsertItem{"id": jx.Raw(fmt.Sprint(id)), "label": jx.Raw(fmt.Sprintf("%q", label))}
	}
	res6, err := bearer.InsertRows(ctx, api.RowInsert{row(1, "one"), row(2, "two")}, api.InsertRowsParams{ID: proj.UUID, Table: "t"})
	if got := want[*api.RowInsertResult](t, "insert rows", res6, err); got.Data.Inserted != 2 {
		t.Fatalf("insert rows: %+v", got.Data)
	}

	// 5. A Kylin query with Basic.
	q := &api.KylinQueryRequest{SQL: "SELECT count(*) FROM t", Project: project}
	res7, err := basic.KylinQuery(ctx, q)
	// No Accept: Kylin's envelope, under Kylin's media type.
	result := want[*api.KylinQueryEnvelope](t, "query", res7, err).Data
	if result.IsException || len(result.Results) != 1 || len(result.Results[0]) != 1 || result.Results[0][0].Value != "2" {
		t.Fatalf("query: %+v", result)
	}

	// 6. A Kylin error, decoded as KylinError: Basic for a user that does not exist.
	res8, err := client(creds{user: "no_such_user", password: "Wrong#2026"}).KylinQuery(ctx, q)
	denied := want[*api.KylinQueryApplicationJSONUnauthorized](t, "query with bad credentials", res8, err).Response
	if denied.Code != api.KylinErrorCode999 || denied.ErrorCode != "KE-010003208" || !denied.Data.Null ||
		!strings.HasPrefix(denied.Msg, "KE-010003208: ") {
		t.Fatalf("query with bad credentials: %+v", denied)
	}
}
