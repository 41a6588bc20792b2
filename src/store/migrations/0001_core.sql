-- 0001 core: the scheduler's persisted jobs and their runs, and the durability probe's rows.
-- Tokens the migration runner replaces per engine: {{int64}} (INTEGER | BIGINT),
-- {{blob}} (BLOB | BYTEA), {{strict}} (STRICT | nothing).

CREATE TABLE jobs (
    id {{int64}} PRIMARY KEY,
    kind TEXT NOT NULL,
    unique_key TEXT,
    run_at {{int64}} NOT NULL,
    period_ms {{int64}} NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    attempts {{int64}} NOT NULL DEFAULT 0,
    max_attempts {{int64}} NOT NULL DEFAULT 5,
    payload TEXT NOT NULL DEFAULT '{}',
    last_error TEXT,
    locked_by TEXT,
    locked_until {{int64}},
    created {{int64}} NOT NULL,
    updated {{int64}} NOT NULL
) {{strict}};
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key);
CREATE INDEX jobs_due ON jobs (state, run_at);

CREATE TABLE job_runs (
    id {{int64}} PRIMARY KEY,
    job_id {{int64}} NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    scheduled_at {{int64}} NOT NULL,
    started {{int64}} NOT NULL,
    finished {{int64}} NOT NULL,
    ok {{int64}} NOT NULL,
    error TEXT,
    runner TEXT NOT NULL
) {{strict}};
CREATE INDEX job_runs_job ON job_runs (job_id, started);

-- Rows written by the test-mode probe route (POST /api/v1/test/probe-writes): a real write through
-- the group-commit writer for the durability tests and the write benchmark.
CREATE TABLE probe_writes (
    id {{int64}} PRIMARY KEY,
    created {{int64}} NOT NULL,
    tag TEXT NOT NULL,
    body TEXT NOT NULL
) {{strict}};
CREATE INDEX probe_writes_tag ON probe_writes (tag, id);
