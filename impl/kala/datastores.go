package kala

import (
	"context"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/gen"
	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/contract"
	"github.com/kala-server/kala/impl/data"
	"github.com/kala-server/kala/impl/opt"
)

func datastore(p *data.Project) gen.Datastore {
	return gen.Datastore{Id: p.ID, Name: p.Name, Description: p.Description, Owner: p.OwnerName,
		Access: gen.AccessLevel(p.Access.String()), CreatedAt: p.CreatedAt.UTC(), ModifiedAt: p.ModifiedAt.UTC()}
}

func table(t *db.Table) gen.Table {
	out := gen.Table{Name: t.Name, Columns: make([]gen.Column, len(t.Columns))}
	for i, c := range t.Columns {
		nullable := c.Nullable
		out.Columns[i] = gen.Column{Name: c.Name, Type: gen.ColumnType(c.Type), Nullable: &nullable}
	}
	return out
}

func (f *Face) ListDatastores(ctx context.Context, req gen.ListDatastoresRequestObject) (gen.ListDatastoresResponseObject, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	offset, limit := f.page(req.Params.Offset, req.Params.Limit)
	ps, total, err := f.Data.ListProjects(ctx, p, opt.Val(req.Params.Name), false, data.None, offset, limit)
	if err != nil {
		return nil, err
	}
	out := gen.ListDatastores200JSONResponse{Data: make([]gen.Datastore, len(ps)), Page: gen.Page{Offset: offset, Limit: limit, Total: total}}
	for i := range ps {
		out.Data[i] = datastore(&ps[i])
	}
	return out, nil
}

func (f *Face) CreateDatastore(ctx context.Context, req gen.CreateDatastoreRequestObject) (gen.CreateDatastoreResponseObject, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	proj, err := f.Data.CreateProject(ctx, p, req.Body.Name, opt.Val(req.Body.Description))
	if err != nil {
		return nil, err
	}
	return gen.CreateDatastore201JSONResponse{Data: datastore(proj)}, nil
}

func (f *Face) GetDatastore(ctx context.Context, req gen.GetDatastoreRequestObject) (gen.GetDatastoreResponseObject, error) {
	proj, err := f.open(ctx, uuid.UUID(req.Id))
	if err != nil {
		return nil, err
	}
	return gen.GetDatastore200JSONResponse{Data: datastore(proj)}, nil
}

func (f *Face) UpdateDatastore(ctx context.Context, req gen.UpdateDatastoreRequestObject) (gen.UpdateDatastoreResponseObject, error) {
	proj, err := f.open(ctx, uuid.UUID(req.Id))
	if err != nil {
		return nil, err
	}
	if req.Body.Description != nil {
		if proj, err = f.Data.UpdateDescription(ctx, proj, *req.Body.Description); err != nil {
			return nil, err
		}
	}
	return gen.UpdateDatastore200JSONResponse{Data: datastore(proj)}, nil
}

func (f *Face) DeleteDatastore(ctx context.Context, req gen.DeleteDatastoreRequestObject) (gen.DeleteDatastoreResponseObject, error) {
	proj, err := f.open(ctx, uuid.UUID(req.Id))
	if err != nil {
		return nil, err
	}
	if err := f.Data.DeleteProject(ctx, proj); err != nil {
		return nil, err
	}
	return gen.DeleteDatastore204Response{}, nil
}

func (f *Face) ListTables(ctx context.Context, req gen.ListTablesRequestObject) (gen.ListTablesResponseObject, error) {
	proj, err := f.open(ctx, uuid.UUID(req.Id))
	if err != nil {
		return nil, err
	}
	offset, limit := f.page(req.Params.Offset, req.Params.Limit)
	ts, total, err := f.Data.Tables(ctx, proj, offset, limit)
	if err != nil {
		return nil, err
	}
	out := gen.ListTables200JSONResponse{Data: make([]gen.Table, len(ts)), Page: gen.Page{Offset: offset, Limit: limit, Total: total}}
	for i := range ts {
		out.Data[i] = table(&ts[i])
	}
	return out, nil
}

func (f *Face) CreateTable(ctx context.Context, req gen.CreateTableRequestObject) (gen.CreateTableResponseObject, error) {
	proj, err := f.open(ctx, uuid.UUID(req.Id))
	if err != nil {
		return nil, err
	}
	in := db.Table{Name: req.Body.Name, Columns: make([]db.Column, len(req.Body.Columns))}
	for i, c := range req.Body.Columns {
		nullable := true
		if c.Nullable != nil {
			nullable = *c.Nullable
		}
		in.Columns[i] = db.Column{Name: c.Name, Type: string(c.Type), Nullable: nullable}
	}
	t, err := f.Data.CreateTable(ctx, proj, in)
	if err != nil {
		return nil, err
	}
	return gen.CreateTable201JSONResponse{Data: table(t)}, nil
}

func (f *Face) GetTable(ctx context.Context, req gen.GetTableRequestObject) (gen.GetTableResponseObject, error) {
	proj, err := f.open(ctx, uuid.UUID(req.Id))
	if err != nil {
		return nil, err
	}
	t, err := f.Data.Table(ctx, proj, req.Table)
	if err != nil {
		return nil, err
	}
	return gen.GetTable200JSONResponse{Data: table(t)}, nil
}

func (f *Face) DeleteTable(ctx context.Context, req gen.DeleteTableRequestObject) (gen.DeleteTableResponseObject, error) {
	proj, err := f.open(ctx, uuid.UUID(req.Id))
	if err != nil {
		return nil, err
	}
	if err := f.Data.DropTable(ctx, proj, req.Table); err != nil {
		return nil, err
	}
	return gen.DeleteTable204Response{}, nil
}

func (f *Face) ListRows(ctx context.Context, req gen.ListRowsRequestObject) (gen.ListRowsResponseObject, error) {
	proj, err := f.open(ctx, uuid.UUID(req.Id))
	if err != nil {
		return nil, err
	}
	offset, limit := f.page(req.Params.Offset, req.Params.Limit)
	rows, total, next, err := f.Data.Rows(ctx, proj, req.Table, db.RowsPage{After: opt.Val(req.Params.After), Offset: offset, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := gen.ListRows200JSONResponse{Data: make([]gen.Row, len(rows)), Page: gen.Page{Offset: offset, Limit: limit, Total: total}}
	if next != "" {
		out.Page.Next = &next
	}
	for i, r := range rows {
		out.Data[i] = r
	}
	return out, nil
}

func (f *Face) InsertRows(ctx context.Context, req gen.InsertRowsRequestObject) (gen.InsertRowsResponseObject, error) {
	proj, err := f.open(ctx, uuid.UUID(req.Id))
	if err != nil {
		return nil, err
	}
	n, err := f.Data.InsertRows(ctx, proj, req.Table, *req.Body)
	if err != nil {
		return nil, err
	}
	var out gen.InsertRows201JSONResponse
	out.Data.Inserted = n
	return out, nil
}

// open is the datastore the request's operation acts on, checked for its caller.
func (f *Face) open(ctx context.Context, id uuid.UUID) (*data.Project, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	return f.Data.Open(ctx, p, contract.OperationFrom(ctx), id)
}
