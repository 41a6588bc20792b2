-- 0018 search (issue 7; DESIGN.md "Search"; docs/search.md): one row per searchable text of a
-- request, agreement or notice, holding its normalised text (NFKC + case folding, white space runs
-- as one space), and this engine's index over it. The table is the same on both engines (this file
-- and 0018_search.postgres.sql; the schema test holds them together); only the index differs:
-- SQLite: an FTS5 table with kefu's own tokenizer "kefu" (src/store/search.c, registered on every
-- connection), external content over search_docs kept in step by the triggers below.

CREATE TABLE search_docs (
    id {{int64}} PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('request', 'agreement', 'notice')),
    object_id {{int64}} NOT NULL,
    client_id {{int64}} NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('public', 'staff')),  -- staff: a request's text with its notes
    shadowed {{int64}} NOT NULL CHECK (shadowed IN (0, 1)),    -- 1: a staff doc of the same object exists
    created {{int64}} NOT NULL,                                 -- the object's creation, UTC ms
    body TEXT NOT NULL                                          -- normalised
) {{strict}};
CREATE UNIQUE INDEX search_docs_object ON search_docs (kind, object_id, scope);
CREATE INDEX search_docs_newest ON search_docs (kind, created, object_id);  -- newest first

CREATE VIRTUAL TABLE search_engine_fts USING fts5(body, content = 'search_docs', content_rowid = 'id',
                                                  tokenize = 'kefu');
CREATE TRIGGER search_docs_fts_insert AFTER INSERT ON search_docs BEGIN
    INSERT INTO search_engine_fts (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER search_docs_fts_delete AFTER DELETE ON search_docs BEGIN
    INSERT INTO search_engine_fts (search_engine_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER search_docs_fts_update AFTER UPDATE OF body ON search_docs BEGIN
    INSERT INTO search_engine_fts (search_engine_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO search_engine_fts (rowid, body) VALUES (new.id, new.body);
END;
