-- 0020 search marks (issue 7, performance; docs/search.md "How it is fast"): the FTS5 index gets a
-- second column, `marks`, holding whole-word tokens that say who may see each document, so that
-- an unfiltered count is an FTS5 query over doclists alone (no search_docs row per hit):
--   c<id>    the document's client
--   x<kind>  the document is NOT one provider staff see when searching <kind>: another kind, or a
--            shadowed public document (a staff one of the same object exists)
--   y<kind>  the document is NOT one client users see when searching <kind>: another kind, or
--            scope 'staff'
-- Counts ask `terms NOT x<kind>` (and `c<id>` for a client): the NOT lists are short for the common
-- searches (measured on 1M requests: the AND with a list of every visible document cost twice as
-- much).
-- The column's text starts with the byte 0xFF, which no UTF-8 body can start with: the tokenizer
-- "kefu" (src/store/search.c) reads such text as space-separated whole tokens. The marks are
-- computed from search_docs by the view below (the FTS5 table's external content), so search_docs
-- is unchanged and the same on both engines; the triggers reindex a document whenever its body or
-- any column its marks derive from changes. Existing data: the index is rebuilt from search_docs.

DROP TRIGGER search_docs_fts_insert;
DROP TRIGGER search_docs_fts_delete;
DROP TRIGGER search_docs_fts_update;
DROP TABLE search_engine_fts;

CREATE VIEW search_engine_fts_content AS
SELECT id, body,
       CAST(x'ff' AS TEXT) || 'c' || client_id
            || CASE WHEN kind <> 'request' THEN ' xrequest yrequest' ELSE '' END
            || CASE WHEN kind <> 'agreement' THEN ' xagreement yagreement' ELSE '' END
            || CASE WHEN kind <> 'notice' THEN ' xnotice ynotice' ELSE '' END
            || CASE WHEN scope <> 'staff' AND shadowed <> 0 THEN ' x' || kind ELSE '' END
            || CASE WHEN scope <> 'public' THEN ' y' || kind ELSE '' END AS marks
FROM search_docs;

CREATE VIRTUAL TABLE search_engine_fts USING fts5(body, marks, content = 'search_engine_fts_content',
                                                  content_rowid = 'id', tokenize = 'kefu');
INSERT INTO search_engine_fts (search_engine_fts) VALUES ('rebuild');

CREATE TRIGGER search_docs_fts_insert AFTER INSERT ON search_docs BEGIN
    INSERT INTO search_engine_fts (rowid, body, marks) SELECT id, body, marks FROM search_engine_fts_content
        WHERE id = new.id;
END;
CREATE TRIGGER search_docs_fts_delete AFTER DELETE ON search_docs BEGIN
    INSERT INTO search_engine_fts (search_engine_fts, rowid, body, marks) VALUES ('delete', old.id, old.body,
        CAST(x'ff' AS TEXT) || 'c' || old.client_id
            || CASE WHEN old.kind <> 'request' THEN ' xrequest yrequest' ELSE '' END
            || CASE WHEN old.kind <> 'agreement' THEN ' xagreement yagreement' ELSE '' END
            || CASE WHEN old.kind <> 'notice' THEN ' xnotice ynotice' ELSE '' END
            || CASE WHEN old.scope <> 'staff' AND old.shadowed <> 0 THEN ' x' || old.kind ELSE '' END
            || CASE WHEN old.scope <> 'public' THEN ' y' || old.kind ELSE '' END);
END;
-- only a real change reindexes (search_index_put rewrites the body and the shadowed flag each time)
CREATE TRIGGER search_docs_fts_update AFTER UPDATE ON search_docs
WHEN old.body IS NOT new.body OR old.kind IS NOT new.kind OR old.client_id IS NOT new.client_id
     OR old.scope IS NOT new.scope OR old.shadowed IS NOT new.shadowed OR old.id IS NOT new.id BEGIN
    INSERT INTO search_engine_fts (search_engine_fts, rowid, body, marks) VALUES ('delete', old.id, old.body,
        CAST(x'ff' AS TEXT) || 'c' || old.client_id
            || CASE WHEN old.kind <> 'request' THEN ' xrequest yrequest' ELSE '' END
            || CASE WHEN old.kind <> 'agreement' THEN ' xagreement yagreement' ELSE '' END
            || CASE WHEN old.kind <> 'notice' THEN ' xnotice ynotice' ELSE '' END
            || CASE WHEN old.scope <> 'staff' AND old.shadowed <> 0 THEN ' x' || old.kind ELSE '' END
            || CASE WHEN old.scope <> 'public' THEN ' y' || old.kind ELSE '' END);
    INSERT INTO search_engine_fts (rowid, body, marks) SELECT id, body, marks FROM search_engine_fts_content
        WHERE id = new.id;
END;
