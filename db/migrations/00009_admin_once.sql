-- +goose Up
-- Who is admin is one fact: users.admin. ROLE_ADMIN is no longer kept in authorities as
-- well; reads derive it from the column (db.User.Authorities lists it for an admin).
-- The column is what every right was decided by (permissions, project access, who may
-- change whom), so every admin stays one; a ROLE_ADMIN without the column (no code path
-- wrote one) gave no rights and is dropped. The built-in ADMIN is an admin whatever else.
UPDATE users SET admin = true WHERE builtin AND NOT admin;
UPDATE users SET authorities = array_remove(authorities, 'ROLE_ADMIN') WHERE 'ROLE_ADMIN' = ANY (authorities);
ALTER TABLE users ADD CONSTRAINT users_admin_once CHECK (NOT 'ROLE_ADMIN' = ANY (authorities));
-- the admins by name: "list admins" (ROLE_ADMIN's members) and "another enabled admin
-- remains" read only these rows
CREATE INDEX users_admins ON users (username_key) WHERE admin;

-- +goose Down
DROP INDEX users_admins;
ALTER TABLE users DROP CONSTRAINT users_admin_once;
-- where the old code wrote it: after ALL_USERS
UPDATE users SET authorities = CASE WHEN authorities[1] = 'ALL_USERS'
    THEN ARRAY['ALL_USERS', 'ROLE_ADMIN'] || authorities[2:]
    ELSE array_prepend('ROLE_ADMIN'::text, authorities) END
    WHERE admin;
