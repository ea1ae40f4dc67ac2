-- +goose Up
-- Secrets the server derives things from (the project roles' database passwords).
CREATE TABLE server_secrets (
    name       text PRIMARY KEY,
    value      bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE server_secrets;
