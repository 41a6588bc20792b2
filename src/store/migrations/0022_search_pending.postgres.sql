-- 0022 search pending (issue 7, performance): SQLite's FTS5 inserts wait for the batch's commit
-- (0022_search_pending.sqlite.sql). PostgreSQL's GIN index is unchanged: nothing to do here.
SELECT 1;
