-- 0022 search pending (issue 7, performance; docs/search.md "How it is fast"): a new document's
-- FTS5 insert waits for its batch's commit. SQLite 3.40's FTS5 writes its pending terms out as a new
-- segment at every savepoint and statement boundary, and the writer runs each write in a savepoint
-- (writer.c), so every creation wrote (and merged) a segment of its own: a fifth of a create. Now the
-- insert trigger only notes the document in search_engine_pending and calls kefu_search_pending()
-- (search.c), which tells the writer's connection; just before COMMIT the writer indexes every noted
-- document in one statement (search_sqlite_flush): one segment per batch. Searches run on read
-- connections, which see only committed transactions, and those are always flushed. Changes and
-- deletions of a document still pending only touch the note (the flush indexes what is there at
-- commit); of an indexed one they update the index at once, as before. search_engine_* tables stay
-- out of the schema description (the FTS5 index has no PostgreSQL twin; nor does this).

CREATE TABLE search_engine_pending (id INTEGER PRIMARY KEY) STRICT;

DROP TRIGGER search_docs_fts_insert;
DROP TRIGGER search_docs_fts_delete;
DROP TRIGGER search_docs_fts_update;

CREATE TRIGGER search_docs_fts_insert AFTER INSERT ON search_docs BEGIN
    INSERT INTO search_engine_pending (id) VALUES (new.id);
    SELECT kefu_search_pending();
END;
CREATE TRIGGER search_docs_fts_delete AFTER DELETE ON search_docs BEGIN
    INSERT INTO search_engine_fts (search_engine_fts, rowid, body, marks) SELECT 'delete', old.id, old.body,
        CAST(x'ff' AS TEXT) || 'c' || old.client_id
            || CASE WHEN old.kind <> 'request' THEN ' xrequest yrequest' ELSE '' END
            || CASE WHEN old.kind <> 'agreement' THEN ' xagreement yagreement' ELSE '' END
            || CASE WHEN old.kind <> 'notice' THEN ' xnotice ynotice' ELSE '' END
            || CASE WHEN old.scope <> 'staff' AND old.shadowed <> 0 THEN ' x' || old.kind ELSE '' END
            || CASE WHEN old.scope <> 'public' THEN ' y' || old.kind ELSE '' END
        WHERE NOT EXISTS (SELECT 1 FROM search_engine_pending WHERE id = old.id);
    DELETE FROM search_engine_pending WHERE id = old.id;
END;
-- only a real change reindexes (search_index_put rewrites the body and the shadowed flag each time)
CREATE TRIGGER search_docs_fts_update AFTER UPDATE ON search_docs
WHEN old.body IS NOT new.body OR old.kind IS NOT new.kind OR old.client_id IS NOT new.client_id
     OR old.scope IS NOT new.scope OR old.shadowed IS NOT new.shadowed OR old.id IS NOT new.id BEGIN
    INSERT INTO search_engine_fts (search_engine_fts, rowid, body, marks) SELECT 'delete', old.id, old.body,
        CAST(x'ff' AS TEXT) || 'c' || old.client_id
            || CASE WHEN old.kind <> 'request' THEN ' xrequest yrequest' ELSE '' END
            || CASE WHEN old.kind <> 'agreement' THEN ' xagreement yagreement' ELSE '' END
            || CASE WHEN old.kind <> 'notice' THEN ' xnotice ynotice' ELSE '' END
            || CASE WHEN old.scope <> 'staff' AND old.shadowed <> 0 THEN ' x' || old.kind ELSE '' END
            || CASE WHEN old.scope <> 'public' THEN ' y' || old.kind ELSE '' END
        WHERE NOT EXISTS (SELECT 1 FROM search_engine_pending WHERE id = old.id);
    INSERT INTO search_engine_fts (rowid, body, marks) SELECT id, body, marks FROM search_engine_fts_content
        WHERE id = new.id AND NOT EXISTS (SELECT 1 FROM search_engine_pending WHERE id = old.id);
    UPDATE search_engine_pending SET id = new.id WHERE id = old.id;
END;
