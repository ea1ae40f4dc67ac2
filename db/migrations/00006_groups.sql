-- +goose Up
-- Kylin user groups (SPEC §2 "Groups"). The built-in groups are rows too, so that names
-- are unique in any case across all groups and access lists can name them; their members
-- are not stored here but follow users.authorities (ALL_USERS: everyone; ROLE_*: the
-- users holding that authority).
CREATE TABLE user_groups (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    name_key   text NOT NULL, -- the name folded as usernames are: unique in any case
    builtin    boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX user_groups_name_key ON user_groups (name_key);

INSERT INTO user_groups (id, name, name_key, builtin, created_at) VALUES
    ('01968c91-8789-7000-8000-00000000a001', 'ALL_USERS', 'all_users', true, now()),
    ('01968c91-8789-7000-8000-00000000a002', 'ROLE_ADMIN', 'role_admin', true, now()),
    ('01968c91-8789-7000-8000-00000000a003', 'ROLE_MODELER', 'role_modeler', true, now()),
    ('01968c91-8789-7000-8000-00000000a004', 'ROLE_ANALYST', 'role_analyst', true, now());

-- Members of the groups that are not built in.
CREATE TABLE group_members (
    group_id uuid NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    user_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- Groups on project access lists: 1 QUERY, 2 OPERATION, 3 MANAGEMENT, 4 ADMIN, as
-- project_access. A user's level is the highest of its own entry and its groups'.
CREATE TABLE project_group_access (
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    group_id   uuid NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    level      smallint NOT NULL CHECK (level BETWEEN 1 AND 4),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (project_id, group_id)
);
CREATE INDEX project_group_access_group ON project_group_access (group_id);

-- +goose Down
DROP TABLE project_group_access;
DROP TABLE group_members;
DROP TABLE user_groups;
