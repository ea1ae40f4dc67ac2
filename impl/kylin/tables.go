package kylin

import (
	"context"

	"github.com/google/uuid"

	"github.com/kala-server/kala/gen"
	"github.com/kala-server/kala/impl/errs"
)

// KylinLegacyTablesAndColumns is Kylin 4's path for tables_and_columns: the same tables,
// bare.
func (f *Face) KylinLegacyTablesAndColumns(ctx context.Context, req gen.KylinLegacyTablesAndColumnsRequestObject) (gen.KylinLegacyTablesAndColumnsResponseObject, error) {
	res, err := f.KylinTablesAndColumns(ctx, gen.KylinTablesAndColumnsRequestObject{Params: gen.KylinTablesAndColumnsParams(req.Params)})
	if err != nil {
		return nil, err
	}
	tc, ok := res.(gen.KylinTablesAndColumns200JSONResponse)
	if !ok {
		return nil, errs.E(errs.Internal, "tables_and_columns answered %T", res)
	}
	return gen.KylinLegacyTablesAndColumns200JSONResponse(tc.Data), nil
}

// kylinDataTypes are the API's column types in the words of Kylin's table list.
var kylinDataTypes = map[string]string{"text": "varchar", "integer": "integer", "bigint": "bigint", "double": "double",
	"numeric": "decimal", "boolean": "boolean", "date": "date", "timestamp": "timestamp"}

// KylinListTables is Kylin's table list, which its JDBC driver reads for column remarks.
func (f *Face) KylinListTables(ctx context.Context, req gen.KylinListTablesRequestObject) (gen.KylinListTablesResponseObject, error) {
	_, proj, err := f.openByName(ctx, req.Params.Project)
	if err != nil {
		return nil, err
	}
	index, limit := f.page(req.Params.PageOffset, req.Params.PageSize)
	ts, total, err := f.Data.Tables(ctx, proj, index*limit, limit)
	if err != nil {
		return nil, err
	}
	out := gen.KylinListTables200JSONResponse{Code: gen.KylinTableDescPageEnvelopeCodeN000,
		Data: gen.KylinTableDescPage{Value: make([]gen.KylinTableDesc, len(ts)), Offset: index, Limit: limit, TotalSize: total}}
	for i, t := range ts {
		d := gen.KylinTableDesc{Uuid: uuid.NewSHA1(proj.ID, []byte(t.Name)), Name: t.Name, Database: proj.Name,
			TableType: "TABLE", SourceType: 9, Columns: make([]gen.KylinTableDescColumn, len(t.Columns))}
		for ci, c := range t.Columns {
			d.Columns[ci] = gen.KylinTableDescColumn{Name: c.Name, Datatype: kylinDataTypes[c.Type]}
		}
		out.Data.Value[i] = d
	}
	return out, nil
}
