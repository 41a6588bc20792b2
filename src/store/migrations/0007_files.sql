-- 0007 files: uploaded files stored in the database (DESIGN.md "Files"), content-addressed per client
-- (src/domain/file.c, docs/files.md). One SQL for both engines: the tokens cover every difference.

-- The bytes, once per client and content: two uploads of the same bytes by one client share a row.
-- Never shared across clients (client_id is part of the key), so no tenant can learn from a
-- deduplicated upload that another tenant holds the same file.
CREATE TABLE file_blobs (
    client_id {{int64}} NOT NULL,          -- 0 for the provider's own files
    sha256 {{blob}} NOT NULL,              -- SHA-256 of content (32 bytes)
    size {{int64}} NOT NULL,
    content {{blob}} NOT NULL,
    created {{int64}} NOT NULL,
    PRIMARY KEY (client_id, sha256)
) {{strict}};

-- One row per upload: what the uploader called it (sanitised), what it is (sniffed from the bytes,
-- never taken from the client), and the record it is attached to. owner_kind names the capability
-- ("request", "agreement", "evidence", …); owner_id is that record's id within the same client.
CREATE TABLE files (
    id {{int64}} PRIMARY KEY,
    client_id {{int64}} NOT NULL,
    sha256 {{blob}} NOT NULL,
    name TEXT NOT NULL,                    -- sanitised: no path, no control characters, at most 255 bytes
    media_type TEXT NOT NULL,              -- from the allow-list (docs/files.md)
    size {{int64}} NOT NULL,
    owner_kind TEXT NOT NULL,
    owner_id {{int64}} NOT NULL,
    uploaded_by {{int64}} NOT NULL,        -- user id, 0 for the system
    created {{int64}} NOT NULL,
    FOREIGN KEY (client_id, sha256) REFERENCES file_blobs (client_id, sha256)
) {{strict}};
CREATE INDEX files_owner ON files (client_id, owner_kind, owner_id, id);
CREATE INDEX files_blob ON files (client_id, sha256);

-- Files attached per owner record. The upload increments its row with an upsert before it checks
-- the limit, so two concurrent uploads to one record (several PostgreSQL processes) queue on the
-- row lock and the count they check is exact.
CREATE TABLE file_owners (
    client_id {{int64}} NOT NULL,
    owner_kind TEXT NOT NULL,
    owner_id {{int64}} NOT NULL,
    files {{int64}} NOT NULL,
    PRIMARY KEY (client_id, owner_kind, owner_id)
) {{strict}};
