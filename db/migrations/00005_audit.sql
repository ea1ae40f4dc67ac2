-- +goose Up
-- Security events (SPEC §3 "Audit"): who did what to whom, from where, in which request.
-- Never a secret: no password, key, token or cookie value goes into any column.
CREATE TABLE audit_events (
    id          uuid PRIMARY KEY, -- v7: ordered by time of creation
    at          timestamptz NOT NULL,
    event       text NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('success', 'failure')),
    actor       text,          -- the principal: a user id or key:<key id>; null for the CLI or a failed login
    actor_name  text,          -- the normalised login name, where one is known
    target      text,          -- what was acted on: a user, key or project id
    client_addr text,          -- null outside an HTTP request
    request_id  text,
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb
);
-- the listing is newest first, whole or by actor, login name or event; pruning is by time
CREATE INDEX audit_events_at ON audit_events (at DESC, id DESC);
CREATE INDEX audit_events_actor ON audit_events (actor, at DESC) WHERE actor IS NOT NULL;
CREATE INDEX audit_events_actor_name ON audit_events (actor_name, at DESC) WHERE actor_name IS NOT NULL;
CREATE INDEX audit_events_event ON audit_events (event, at DESC);

-- +goose Down
DROP TABLE audit_events;
