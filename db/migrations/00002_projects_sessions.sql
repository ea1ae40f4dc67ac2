-- +goose Up
-- A project (Kylin's word) is a datastore (Kala's word): one row, two views. Each has a
-- PostgreSQL schema for its tables and a role that may read only that schema.
CREATE TABLE projects (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    name_key    text NOT NULL, -- lower(name): names are unique in any case
    description text NOT NULL DEFAULT '',
    owner_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    schema_name text NOT NULL UNIQUE,
    role_name   text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    modified_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX projects_name_key ON projects (name_key);

-- Access lists: 1 QUERY, 2 OPERATION, 3 MANAGEMENT, 4 ADMIN.
CREATE TABLE project_access (
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    level      smallint NOT NULL CHECK (level BETWEEN 1 AND 4),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_access_user ON project_access (user_id);

-- Kylin session cookies, stored as SHA-256 of the cookie value.
CREATE TABLE sessions (
    id_hash      bytea PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- +goose Down
DROP TABLE sessions;
DROP TABLE project_access;
DROP TABLE projects;
