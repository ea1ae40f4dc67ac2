package kylin

import (
	"context"
	"fmt"
	"math"

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

// jdbcType is a PostgreSQL type as java.sql.Types and Kylin's type name, with the
// precision and display size JDBC tools size a column by (docs/kylin.md, "Column
// metadata"). The scale of a type that has fractions is in scale.
type jdbcType struct {
	code      int
	name      string
	signed    bool
	text      bool
	precision int
	scale     int
	display   int
}

// Unbounded text: JDBC's way (and PostgreSQL's driver's) of saying "no limit".
const unbounded = math.MaxInt32

// jdbcTypes hold the precision (digits; for dates and times the characters of the text
// Kala sends) and display size (characters of the widest value, sign and point included).
var jdbcTypes = map[string]jdbcType{
	"INT2":        {5, "SMALLINT", true, false, 5, 0, 6},
	"INT4":        {4, "INTEGER", true, false, 10, 0, 11},
	"INT8":        {-5, "BIGINT", true, false, 19, 0, 20},
	"FLOAT4":      {7, "REAL", true, false, 8, 0, 15},
	"FLOAT8":      {8, "DOUBLE", true, false, 17, 0, 25}, // 17 digits round-trip a double
	"NUMERIC":     {3, "DECIMAL", true, false, 38, 18, 40},
	"BOOL":        {16, "BOOLEAN", false, false, 1, 0, 5}, // true, false
	"DATE":        {91, "DATE", false, false, 10, 0, 10},
	"TIMESTAMP":   {93, "TIMESTAMP", false, false, 26, 6, 26}, // 2006-01-02 15:04:05.999999
	"TIMESTAMPTZ": {93, "TIMESTAMP", false, false, 32, 6, 32}, // and -07:00
	"TIME":        {92, "TIME", false, false, 15, 6, 15},      // 15:04:05.999999
	"TEXT":        {12, "VARCHAR", false, true, unbounded, 0, unbounded},
	"VARCHAR":     {12, "VARCHAR", false, true, unbounded, 0, unbounded},
	"BPCHAR":      {1, "CHAR", false, true, unbounded, 0, unbounded},
	"NAME":        {12, "VARCHAR", false, true, 63, 0, 63},
}

// typeOf maps a result column's type, with its numeric(p,s) or varchar(n) modifier, or a
// table column's (no modifier: Kala's columns have none). An unconstrained numeric holds
// any scale, which JDBC cannot say: it reads as DECIMAL(38,18), Spark's default decimal
// (the engine Kylin 4 and 5 compute in), wide enough for a bigint's sum and for the 16
// and more fractional digits PostgreSQL's avg and division give.
func typeOf(c db.ResultColumn) jdbcType {
	j, ok := jdbcTypes[c.Type]
	if !ok {
		return jdbcType{1111, "OTHER", false, false, unbounded, 0, unbounded}
	}
	switch {
	case c.Type == "NUMERIC" && c.Precision > 0:
		j.precision, j.scale = int(c.Precision), int(c.Scale)
		j.display = j.precision + 1 // a sign
		if j.scale > 0 {
			j.display++ // a point
		} else if j.scale < 0 {
			j.display -= j.scale // the zeros before the point
		}
	case j.text && c.Length >= 0:
		j.precision, j.display = int(c.Length), int(c.Length)
	}
	return j
}

var apiTypes = map[string]string{"text": "TEXT", "integer": "INT4", "bigint": "INT8", "double": "FLOAT8",
	"numeric": "NUMERIC", "boolean": "BOOL", "date": "DATE", "timestamp": "TIMESTAMP"}

func columnMetas(proj *data.Project, cols []db.ResultColumn) []gen.KylinColumnMeta {
	out := make([]gen.KylinColumnMeta, len(cols))
	schema := proj.Name
	for i, c := range cols {
		j := typeOf(c)
		out[i] = gen.KylinColumnMeta{IsNullable: gen.KylinColumnMetaIsNullableN2, DisplaySize: j.display,
			Label: c.Name, Name: c.Name, SchemaName: &schema, Precision: j.precision, Scale: j.scale,
			ColumnType: j.code, ColumnTypeName: j.name, CaseSensitive: j.text, Searchable: true,
			Signed: j.signed, ReadOnly: true}
	}
	return out
}

func (f *Face) KylinQuery(ctx context.Context, req gen.KylinQueryRequestObject) (gen.KylinQueryResponseObject, error) {
	return f.query(ctx, req.Body, false)
}

// KylinPrepareQuery is Kylin's prepare step: the query's columns, no rows.
func (f *Face) KylinPrepareQuery(ctx context.Context, req gen.KylinPrepareQueryRequestObject) (gen.KylinPrepareQueryResponseObject, error) {
	return f.query(ctx, req.Body, true)
}

func (f *Face) query(ctx context.Context, b *gen.KylinQueryRequest, prepare bool) (*queryAnswer, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	x, err := exchangeOf(ctx)
	if err != nil {
		return nil, err
	}
	params, err := statementParams(opt.Val(b.Params))
	if err != nil {
		return nil, err
	}
	if as := opt.Val(b.ExecuteAs); as != "" {
		if p, err = f.runAs(ctx, p, as); err != nil {
			return nil, err
		}
	}
	proj, err := f.Data.OpenByName(ctx, p, contract.OperationFrom(ctx), b.Project)
	if err != nil {
		return nil, err
	}
	// no limit, or Kylin's 0 for "no limit": up to the row cap (data.Query applies it)
	a := &queryAnswer{f: f, ctx: ctx, p: p, proj: proj, sql: b.Sql, params: params, limit: int(opt.Val(b.Limit)), queryID: opt.Val(b.QueryId),
		prepare: prepare}
	a.shape, a.label = shapeFor(x.r.Header.Get("Accept"))
	if b.Offset != nil {
		a.offset = int(*b.Offset)
	}
	if a.queryID == "" {
		a.queryID = uuid.Must(uuid.NewV7()).String()
	}
	// the query runs when the answer is written: its rows go straight to the client
	return a, nil
}

func (f *Face) KylinTablesAndColumns(ctx context.Context, req gen.KylinTablesAndColumnsRequestObject) (gen.KylinTablesAndColumnsResponseObject, error) {
	_, proj, err := f.openByName(ctx, req.Params.Project)
	if err != nil {
		return nil, err
	}
	ts, _, err := f.Data.Tables(ctx, proj, 0, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	out := gen.KylinTablesAndColumns200JSONResponse{Code: gen.KylinTablesEnvelopeCodeN000, Data: make([]gen.KylinTable, len(ts))}
	for i, t := range ts {
		kt := gen.KylinTable{TableCAT: proj.Name, TableSCHEM: proj.Name, TableNAME: t.Name, TableTYPE: gen.TABLE,
			Columns: make([]gen.KylinTableColumn, len(t.Columns))}
		for ci, c := range t.Columns {
			j := typeOf(db.ResultColumn{Type: apiTypes[c.Type], Length: -1})
			col := gen.KylinTableColumn{TableCAT: proj.Name, TableSCHEM: proj.Name, TableNAME: t.Name, ColumnNAME: c.Name,
				DataTYPE: j.code, TypeNAME: j.name, ColumnSIZE: j.precision, DecimalDIGITS: j.scale, NumPRECRADIX: 10, OrdinalPOSITION: ci + 1,
				Nullable: gen.KylinTableColumnNullableN1, IsNULLABLE: gen.YES}
			if !c.Nullable {
				col.Nullable, col.IsNULLABLE = gen.KylinTableColumnNullableN0, gen.NO
			}
			kt.Columns[ci] = col
		}
		out.Data[i] = kt
	}
	return out, nil
}

// jdbcParamTypes maps the Java class Kylin's JDBC driver names for a PreparedStatement
// value (its canonical name; the value is String.valueOf of it) to the PostgreSQL type the
// value is bound as. java.lang.Object is how the driver sends a NULL: its type is left to
// PostgreSQL.
var jdbcParamTypes = map[string]string{
	"java.lang.String": "text", "java.lang.Character": "text",
	"java.lang.Integer": "int4", "java.lang.Long": "int8", "java.lang.Short": "int2", "java.lang.Byte": "int2",
	"java.lang.Double": "float8", "java.lang.Float": "float4",
	"java.math.BigDecimal": "numeric", "java.math.BigInteger": "numeric", "java.lang.Boolean": "bool",
	"java.sql.Date": "date", "java.sql.Time": "time", "java.sql.Timestamp": "timestamp",
	"java.lang.Object": "",
}

// statementParams reads the JDBC driver's PreparedStatement values.
func statementParams(in []gen.KylinStatementParameter) ([]data.Param, error) {
	out := make([]data.Param, len(in))
	for i, p := range in {
		t, ok := jdbcParamTypes[p.ClassName]
		if !ok {
			return nil, errs.Field(fmt.Sprintf("params.%d.className", i), fmt.Sprintf("%q is not a supported parameter type", p.ClassName))
		}
		out[i] = data.Param{Type: t, Value: p.Value}
	}
	return out, nil
}

// runAs is executeAs (the JDBC driver's EXECUTE_AS_USER_ID): an admin runs a query as
// another user, with that user's project access and query limits. Only a ROLE_ADMIN user
// may, so the field can only narrow rights, never widen them; anyone else is refused
// rather than silently run as themselves.
func (f *Face) runAs(ctx context.Context, p *auth.Principal, name string) (*auth.Principal, error) {
	if !p.Admin() {
		return nil, errs.E(errs.Forbidden, "executeAs: only an admin may run a query as another user")
	}
	if account.UsernameKey(name) == p.User.UsernameKey {
		return p, nil
	}
	u, err := f.Accounts.UserByName(ctx, name)
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, errs.E(errs.Forbidden, "executeAs: user %s is disabled", u.Username)
	}
	f.Log.InfoContext(ctx, "query run as another user", "principal", p.ID(), "execute_as", u.ID.String())
	return auth.NewUserPrincipal(f.Contract, u, p.Scheme), nil
}
