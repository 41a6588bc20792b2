-- 0018 search (issue 7; DESIGN.md "Search"; docs/search.md): one row per searchable text of a
-- request, agreement or notice, holding its normalised text (NFKC + case folding, white space runs
-- as one space), and this engine's index over it. The table is the same on both engines (this file
-- and 0018_search.sqlite.sql; the schema test holds them together); only the index differs:
-- PostgreSQL: the distinct tokens of kefu's tokenizer (search.c, written by search_index_put) as
-- text[] under a GIN index; a query takes the candidates holding all of its tokens and decides
-- with strpos on search_docs.body. search_engine_* objects are left out of the schema description.

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

CREATE TABLE search_engine_tokens (
    doc_id {{int64}} PRIMARY KEY REFERENCES search_docs (id),
    tokens TEXT[] NOT NULL
);
CREATE INDEX search_engine_tokens_gin ON search_engine_tokens USING gin (tokens);
