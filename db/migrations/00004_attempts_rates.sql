-- +goose Up
-- Password verifications in flight per login name. A verification is reserved in the
-- same row as the failure counter before any hashing, so one statement decides whether
-- the schedule still allows it, whatever the number of requests, instances or paths.
-- The lease (pending_until) frees reservations of an instance that died mid-verification.
ALTER TABLE login_failures
    ADD COLUMN pending       integer NOT NULL DEFAULT 0,
    ADD COLUMN pending_until timestamptz,
    ALTER COLUMN first_failed_at DROP NOT NULL,
    ALTER COLUMN last_failed_at DROP NOT NULL;

-- Fixed-window counters for rate limits, shared by every instance.
CREATE TABLE rate_counters (
    bucket       text NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_counters_window_start ON rate_counters (window_start);

-- +goose Down
DROP TABLE rate_counters;
DELETE FROM login_failures WHERE failures = 0;
ALTER TABLE login_failures
    DROP COLUMN pending,
    DROP COLUMN pending_until,
    ALTER COLUMN first_failed_at SET NOT NULL,
    ALTER COLUMN last_failed_at SET NOT NULL;
