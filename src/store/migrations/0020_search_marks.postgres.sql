-- 0020 search marks (issue 7, performance): SQLite's FTS5 index gets a column of visibility marks
-- (0020_search_marks.sqlite.sql). PostgreSQL's GIN index is unchanged: nothing to do here.
SELECT 1;
