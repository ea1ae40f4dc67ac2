-- +goose Up
-- Exact totals for list pages without counting the table on every page: a million users
-- take tens of milliseconds to count, a row here takes one lookup. Statement-level
-- triggers with transition tables keep the count in the same transaction as the change,
-- one update per statement however many rows it touches. Concurrent inserts of users
-- wait on this row until the first commits (user creation is rare; reads never wait).
CREATE TABLE row_counts (
    name text PRIMARY KEY,
    n    bigint NOT NULL CHECK (n >= 0)
);
INSERT INTO row_counts (name, n) SELECT 'users', count(*) FROM users;

-- +goose StatementBegin
CREATE FUNCTION count_users_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE row_counts SET n = n + (SELECT count(*) FROM inserted) WHERE name = 'users';
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION count_users_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE row_counts SET n = n - (SELECT count(*) FROM deleted) WHERE name = 'users';
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER users_counted_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION count_users_inserted();
CREATE TRIGGER users_counted_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION count_users_deleted();

-- +goose Down
DROP TRIGGER users_counted_delete ON users;
DROP TRIGGER users_counted_insert ON users;
DROP FUNCTION count_users_deleted();
DROP FUNCTION count_users_inserted();
DROP TABLE row_counts;
