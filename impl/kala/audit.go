package kala

import (
	"context"
	"encoding/json"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/gen"
	"github.com/kala-server/kala/impl/account"
	"github.com/kala-server/kala/impl/audit"
	"github.com/kala-server/kala/impl/errs"
)

func (f *Face) ListAuditEvents(ctx context.Context, req gen.ListAuditEventsRequestObject) (gen.ListAuditEventsResponseObject, error) {
	offset, limit := f.page(req.Params.Offset, req.Params.Limit)
	var filter audit.Filter
	if req.Params.From != nil {
		filter.From = *req.Params.From
	}
	if req.Params.To != nil {
		filter.To = *req.Params.To
	}
	if req.Params.Actor != nil {
		// ids are lower case, so folding serves both a principal id and a login name
		filter.Actor = account.UsernameKey(*req.Params.Actor)
	}
	if req.Params.Event != nil {
		filter.Event = string(*req.Params.Event)
	}
	evs, total, err := f.Audit.List(ctx, filter, offset, limit)
	if err != nil {
		return nil, err
	}
	out := gen.ListAuditEvents200JSONResponse{Data: make([]gen.AuditEvent, len(evs)),
		Page: gen.Page{Offset: offset, Limit: limit, Total: total}}
	for i := range evs {
		if out.Data[i], err = auditEvent(&evs[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func auditEvent(ev *db.AuditEvent) (gen.AuditEvent, error) {
	detail := map[string]any{}
	if err := json.Unmarshal(ev.Detail, &detail); err != nil {
		return gen.AuditEvent{}, errs.Wrap(err, "read audit detail")
	}
	return gen.AuditEvent{Id: ev.ID, At: ev.At.UTC(), Event: gen.AuditEventName(ev.Event), Outcome: gen.AuditEventOutcome(ev.Outcome),
		Actor: ev.Actor, ActorName: ev.ActorName, Target: ev.Target, ClientAddr: ev.ClientAddr, RequestId: ev.RequestID,
		Detail: detail}, nil
}
