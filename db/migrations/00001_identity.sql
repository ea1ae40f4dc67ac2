-- +goose Up
CREATE TABLE users (
    id                 uuid PRIMARY KEY,
    username           text NOT NULL,
    -- case-folded username: uniqueness and login are case-insensitive, the spelling above is kept
    username_key       text NOT NULL,
    password_hash      text NOT NULL,
    admin              boolean NOT NULL DEFAULT false,
    builtin            boolean NOT NULL DEFAULT false,
    disabled           boolean NOT NULL DEFAULT false,
    default_password   boolean NOT NULL DEFAULT false,
    authorities        text[] NOT NULL DEFAULT '{}',
    permissions        uuid[] NOT NULL DEFAULT '{}',
    -- bumped on password change and disable: tokens carry it, so old ones stop verifying
    credential_version bigint NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL,
    modified_at        timestamptz NOT NULL
);
CREATE UNIQUE INDEX users_username_key ON users (username_key);

-- Failure counters per login name, whether or not a user has that name.
CREATE TABLE login_failures (
    username_key    text PRIMARY KEY,
    failures        integer NOT NULL,
    first_failed_at timestamptz NOT NULL,
    last_failed_at  timestamptz NOT NULL,
    locked_until    timestamptz
);
CREATE INDEX login_failures_last_failed_at ON login_failures (last_failed_at);

CREATE TABLE signing_keys (
    kid         text PRIMARY KEY,
    algorithm   text NOT NULL,
    private_key bytea NOT NULL,
    public_key  bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    -- a retired key no longer signs; it verifies until its last tokens expire
    retired_at  timestamptz
);

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lookup       text NOT NULL,
    secret_hash  bytea NOT NULL,
    name         text NOT NULL DEFAULT '',
    permissions  uuid[] NOT NULL DEFAULT '{}',
    services     uuid[], -- NULL: every service
    valid_from   timestamptz NOT NULL,
    valid_to     timestamptz NOT NULL,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    CHECK (valid_to > valid_from)
);
CREATE UNIQUE INDEX api_keys_lookup ON api_keys (lookup);
CREATE INDEX api_keys_user ON api_keys (user_id, created_at DESC);

-- +goose Down
DROP TABLE api_keys;
DROP TABLE signing_keys;
DROP TABLE login_failures;
DROP TABLE users;
