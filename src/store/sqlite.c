/* The SQLite driver: one sqlite3 handle per connection in multi-thread mode (NOMUTEX: the store
 * guarantees one thread per connection), WAL with synchronous=FULL so a commit is on disk when it
 * returns. Read connections are query_only: every write goes through the group-commit writer. */
#include <ctype.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/search.h"
#include "store/store_driver.h"

#define SQ_BUSY_TIMEOUT_MS 5000

struct sq_conn {
    struct store_conn base;
    sqlite3 *db;
    bool search_pending; /* this connection inserted search documents not yet in FTS5 (search.h) */
};

struct sq_stmt {
    struct store_stmt base;
    sqlite3_stmt *st;
    sqlite3 *db;
    int64_t changes;
};

static struct sq_conn *sq_conn_of(struct store_conn *c)
{
    return STORE_CONTAINER(c, struct sq_conn, base);
}

static struct sq_stmt *sq_stmt_of(struct store_stmt *st)
{
    return STORE_CONTAINER(st, struct sq_stmt, base);
}

/* Maps an SQLite result code to a KF_E_* code; the detail is SQLite's message, which names tables
 * and constraints but never bound values. */
static int sq_fail(sqlite3 *db, int rc, struct kf_err *err)
{
    int ext = db ? sqlite3_extended_errcode(db) : rc;
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    int code;
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        code = (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY ||
                ext == SQLITE_CONSTRAINT_FOREIGNKEY || ext == SQLITE_CONSTRAINT_ROWID)
                   ? KF_E_CONFLICT
                   : KF_E_STORAGE;
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = KF_E_BUSY;
        break;
    case SQLITE_NOMEM:
        code = KF_E_NOMEM;
        break;
    default:
        code = KF_E_STORAGE;
    }
    return kf_fail(err, code, NULL, "sqlite: %s", msg);
}

static int sq_bind_rc(int rc)
{
    switch (rc) {
    case SQLITE_OK:
        return 0;
    case SQLITE_RANGE:
        return KF_E_INVALID;
    case SQLITE_NOMEM:
        return KF_E_NOMEM;
    case SQLITE_TOOBIG:
        return KF_E_TOO_LARGE;
    default:
        return KF_E_STORAGE;
    }
}

/* --- placeholders --------------------------------------------------------------------------- */

static const char *sq_skip_quoted(const char *p, char close)
{
    for (p++; *p && *p != close; p++) {
    }
    return *p ? p : p - 1; /* on the closing quote, or on the last char when unterminated */
}

static bool sq_is_ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '$' || (unsigned char)c >= 0x80;
}

/* Rewrites `$N` to `?N` in place (same length), outside string literals, quoted identifiers and
 * comments: SQLite numbers `$N` by first appearance, so `SELECT $2, $1` would swap them. A doubled
 * quote inside a literal simply ends one literal and starts the next, which scans the same. */
static void sq_rewrite_params(char *sql)
{
    for (char *p = sql; *p; p++) {
        switch (*p) {
        case '\'':
        case '"':
        case '`':
            p = (char *)sq_skip_quoted(p, *p);
            break;
        case '[':
            p = (char *)sq_skip_quoted(p, ']');
            break;
        case '-':
            if (p[1] == '-') {
                while (p[1] && p[1] != '\n') p++;
            }
            break;
        case '/':
            if (p[1] == '*') {
                p += 2;
                while (*p && !(p[0] == '*' && p[1] == '/')) p++;
                if (!*p) return;
                p++;
            }
            break;
        case '$':
            if (isdigit((unsigned char)p[1]) && (p == sql || !sq_is_ident_char(p[-1]))) *p = '?';
            break;
        default:
            break;
        }
    }
}

/* --- connections ---------------------------------------------------------------------------- */

/* Runs a PRAGMA that answers with one row and copies its first column into `out`. */
static int sq_pragma_text(sqlite3 *db, const char *sql, char *out, size_t outlen, struct kf_err *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) return sq_fail(db, rc, err);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        int code = rc == SQLITE_DONE ? kf_fail(err, KF_E_STORAGE, NULL, "sqlite: %s gave no answer", sql)
                                     : sq_fail(db, rc, err);
        sqlite3_finalize(st);
        return code;
    }
    const unsigned char *v = sqlite3_column_text(st, 0);
    snprintf(out, outlen, "%s", v ? (const char *)v : "");
    sqlite3_finalize(st);
    return 0;
}

/* The read connections' map (see sq_setup); SQLite caps it at its compile-time maximum. */
#define SQ_READ_MMAP "PRAGMA mmap_size=2147418112"

static int sq_setup(sqlite3 *db, bool *search_pending, enum store_conn_role role, struct kf_err *err)
{
    char mode[32];
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, SQ_BUSY_TIMEOUT_MS);
    /* the search index's FTS5 tokenizer, before any statement (or migration) can need it */
    int trc = search_sqlite_register(db, search_pending);
    if (trc != SQLITE_OK) return sq_fail(db, trc, err);
    int rc = sq_pragma_text(db, "PRAGMA journal_mode=WAL", mode, sizeof mode, err);
    if (rc) return rc;
    if (strcmp(mode, "wal") != 0) {
        return kf_fail(err, KF_E_STORAGE, NULL, "sqlite: cannot use WAL (journal mode is %s)", mode);
    }
    /* The writer's page cache holds a whole batch's dirty pages: at SQLite's default (2 MiB) a batch
     * of creates spilled to the WAL mid-transaction and rewrote the same pages again and again
     * (300 KB written per create at 64 connections). It grows only as pages are touched; the read
     * connections keep the default (they are many, and every commit resets their caches anyway).
     * temp_store=MEMORY keeps the sub-journal of each write's SAVEPOINT (writer.c: the original of
     * every page the write changes, so that ROLLBACK TO can undo it alone) in memory: past 64 KiB it
     * went to a temporary file, created, written and unlinked per write — 150 KB and ~75 write
     * calls per create. It holds one write's pages and is emptied at each RELEASE.
     * The read connections map the database file (mmap_size; SQLite caps it at its compile-time
     * maximum, 2 GiB on Debian): a page read is then a memory access of the kernel's page cache
     * instead of a read() that copies it into the connection's own cache — at a million requests a
     * read by id or a rare search term spent a third of its time copying pages. Reads only: the
     * writer keeps writing through the WAL with write(), as before. */
    const char *setup = role == STORE_ROLE_READ
                            ? "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA query_only=ON; " SQ_READ_MMAP
                            : "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-32768; "
                              "PRAGMA temp_store=MEMORY";
    rc = sqlite3_exec(db, setup, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sq_fail(db, rc, err);
}

static int sq_conn_open(const char *path, enum store_conn_role role, struct store_conn **conn_r, struct kf_err *err)
{
    struct sq_conn *c = calloc(1, sizeof *c);
    if (!c) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        rc = c->db ? kf_fail(err, KF_E_STORAGE, NULL, "sqlite: cannot open database: %s", sqlite3_errmsg(c->db))
                   : kf_fail(err, KF_E_NOMEM, NULL, NULL);
    } else {
        rc = sq_setup(c->db, &c->search_pending, role, err);
    }
    if (rc) {
        sqlite3_close_v2(c->db);
        free(c);
        return rc;
    }
    *conn_r = &c->base;
    return 0;
}

static void sq_conn_close(struct store_conn *conn)
{
    struct sq_conn *c = sq_conn_of(conn);
    sqlite3_close_v2(c->db);
    free(c);
}

static int sq_check_durability(struct store_conn *conn, struct kf_err *err)
{
    char level[16];
    int rc = sq_pragma_text(sq_conn_of(conn)->db, "PRAGMA synchronous", level, sizeof level, err);
    if (rc) return rc;
    /* 2 = FULL, 3 = EXTRA; below that a power cut can lose commits that were acknowledged. */
    if (strcmp(level, "2") != 0 && strcmp(level, "3") != 0) {
        return kf_fail(err, KF_E_UNSAFE_STORAGE, NULL, "sqlite: synchronous is %s, not FULL", level);
    }
    return 0;
}

static bool sq_conn_broken(struct store_conn *conn)
{
    return false;
}

static bool sq_in_transaction(struct store_conn *conn)
{
    return !sqlite3_get_autocommit(sq_conn_of(conn)->db);
}

/* --- statements ----------------------------------------------------------------------------- */

static bool sq_only_separators(const char *p)
{
    for (; *p; p++) {
        if (!isspace((unsigned char)*p) && *p != ';') return false;
    }
    return true;
}

static int sq_prepare(struct store_conn *conn, const char *sql, struct store_stmt **stmt_r, struct kf_err *err)
{
    sqlite3 *db = sq_conn_of(conn)->db;
    size_t n = strlen(sql);
    char small[2048];
    char *text = n < sizeof small ? small : malloc(n + 1);
    if (!text) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    memcpy(text, sql, n + 1);
    sq_rewrite_params(text);
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3(db, text, (int)(n + 1), SQLITE_PREPARE_PERSISTENT, &st, &tail);
    int code = 0;
    if (rc != SQLITE_OK) {
        code = sq_fail(db, rc, err);
    } else if (!st) {
        code = kf_fail(err, KF_E_INVALID, NULL, "sqlite: empty statement");
    } else if (tail && !sq_only_separators(tail)) {
        code = kf_fail(err, KF_E_INVALID, NULL, "sqlite: one statement per prepare");
    }
    if (text != small) free(text);
    struct sq_stmt *s = code ? NULL : calloc(1, sizeof *s);
    if (!code && !s) code = kf_fail(err, KF_E_NOMEM, NULL, NULL);
    if (code) {
        sqlite3_finalize(st);
        return code;
    }
    s->st = st;
    s->db = db;
    *stmt_r = &s->base;
    return 0;
}

static int sq_bind_int64(struct store_stmt *st, int idx, int64_t v)
{
    return sq_bind_rc(sqlite3_bind_int64(sq_stmt_of(st)->st, idx, v));
}

static int sq_bind_text(struct store_stmt *st, int idx, const char *s, size_t len)
{
    return sq_bind_rc(sqlite3_bind_text64(sq_stmt_of(st)->st, idx, s, len, SQLITE_TRANSIENT, SQLITE_UTF8));
}

static int sq_bind_blob(struct store_stmt *st, int idx, const void *data, size_t len)
{
    /* A NULL pointer would bind SQL NULL; an empty blob is still a value. */
    return sq_bind_rc(sqlite3_bind_blob64(sq_stmt_of(st)->st, idx, data ? data : "", len, SQLITE_TRANSIENT));
}

static int sq_bind_null(struct store_stmt *st, int idx)
{
    return sq_bind_rc(sqlite3_bind_null(sq_stmt_of(st)->st, idx));
}

static int sq_step(struct store_stmt *stmt, struct kf_err *err)
{
    struct sq_stmt *s = sq_stmt_of(stmt);
    int rc = sqlite3_step(s->st);
    if (rc == SQLITE_ROW) return STORE_ROW;
    if (rc == SQLITE_DONE) {
        s->changes = sqlite3_stmt_readonly(s->st) ? 0 : sqlite3_changes64(s->db);
        return STORE_DONE;
    }
    return sq_fail(s->db, rc, err);
}

static int sq_col_count(struct store_stmt *st)
{
    return sqlite3_column_count(sq_stmt_of(st)->st);
}

static bool sq_col_is_null(struct store_stmt *st, int col)
{
    return sqlite3_column_type(sq_stmt_of(st)->st, col) == SQLITE_NULL;
}

static int64_t sq_col_int64(struct store_stmt *st, int col)
{
    return sqlite3_column_int64(sq_stmt_of(st)->st, col);
}

static const char *sq_col_text(struct store_stmt *st, int col, size_t *len_r)
{
    sqlite3_stmt *s = sq_stmt_of(st)->st;
    const char *v = (const char *)sqlite3_column_text(s, col);
    if (len_r) *len_r = v ? (size_t)sqlite3_column_bytes(s, col) : 0;
    return v;
}

static const void *sq_col_blob(struct store_stmt *st, int col, size_t *len_r)
{
    sqlite3_stmt *s = sq_stmt_of(st)->st;
    const void *v = sqlite3_column_blob(s, col);
    size_t n = (size_t)sqlite3_column_bytes(s, col);
    /* SQLite answers NULL for an empty blob; keep NULL for SQL NULL only. */
    if (!v && sqlite3_column_type(s, col) != SQLITE_NULL) v = "";
    if (len_r) *len_r = v ? n : 0;
    return v;
}

static int64_t sq_changes(struct store_stmt *st)
{
    return sq_stmt_of(st)->changes;
}

static void sq_reset(struct store_stmt *st)
{
    struct sq_stmt *s = sq_stmt_of(st);
    sqlite3_reset(s->st);
    sqlite3_clear_bindings(s->st);
    s->changes = 0;
}

static void sq_destroy(struct store_stmt *st)
{
    struct sq_stmt *s = sq_stmt_of(st);
    sqlite3_finalize(s->st);
    free(s);
}

/* --- whole-connection SQL ------------------------------------------------------------------- */

/* Only constant SQL reaches here (migrations and transaction control), never input. */
static int sq_exec(struct store_conn *conn, const char *sql, struct kf_err *err)
{
    sqlite3 *db = sq_conn_of(conn)->db;
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sq_fail(db, rc, err);
}

static int sq_begin(struct store_conn *conn, struct kf_err *err)
{
    return sq_exec(conn, "BEGIN", err);
}

static int sq_commit(struct store_conn *conn, struct kf_err *err)
{
    return sq_exec(conn, "COMMIT", err);
}

/* A pass over many rows reads them with pread into the connection's own small cache instead of the
 * map: mapped pages count in the process's RSS for as long as the map holds them, and the SLA job's
 * once-a-minute pass over every open request touched 160 MB of them at a million requests. Changing
 * mmap_size outside a transaction unmaps (0) or maps again lazily (the next read). */
static int sq_set_scan(struct store_conn *conn, bool on, struct kf_err *err)
{
    sqlite3 *db = sq_conn_of(conn)->db;
    int rc = sqlite3_exec(db, on ? "PRAGMA mmap_size=0" : SQ_READ_MMAP, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sq_fail(db, rc, err);
}

/* The search index's waiting FTS5 inserts (search_sqlite_flush), in the batch's transaction. */
static int sq_before_commit(struct store_conn *conn, struct kf_err *err)
{
    struct sq_conn *c = sq_conn_of(conn);
    int rc = search_sqlite_flush(c->db, &c->search_pending);
    return rc == SQLITE_OK ? 0 : sq_fail(c->db, rc, err);
}

static void sq_rollback(struct store_conn *conn)
{
    sqlite3_exec(sq_conn_of(conn)->db, "ROLLBACK", NULL, NULL, NULL);
}

/* --- schema helpers -------------------------------------------------------------------------- */

/* User tables only: not SQLite's own, not virtual tables or their shadow tables. */
#define SQ_USER_TABLES \
    " t.schema = 'main' AND t.type = 'table' AND t.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' " \
    "AND t.name NOT LIKE 'search\\_engine\\_%' ESCAPE '\\' "

const struct store_driver store_driver_sqlite = {
    .name = "sqlite",
    .caps = STORE_CAP_GROUP_COMMIT | STORE_CAP_RETURNING,
    .conn_open = sq_conn_open,
    .conn_close = sq_conn_close,
    .check_durability = sq_check_durability,
    .conn_broken = sq_conn_broken,
    .in_transaction = sq_in_transaction,
    .prepare = sq_prepare,
    .bind_int64 = sq_bind_int64,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .col_count = sq_col_count,
    .col_is_null = sq_col_is_null,
    .col_int64 = sq_col_int64,
    .col_text = sq_col_text,
    .col_blob = sq_col_blob,
    .changes = sq_changes,
    .reset = sq_reset,
    .destroy = sq_destroy,
    .exec = sq_exec,
    .begin = sq_begin,
    .commit = sq_commit,
    .before_commit = sq_before_commit,
    .set_scan = sq_set_scan,
    .rollback = sq_rollback,
    .sql_describe_columns =
        "SELECT t.name, c.name, c.type, c.\"notnull\", c.pk, c.dflt_value IS NOT NULL "
        "FROM pragma_table_list AS t JOIN pragma_table_info(t.name) AS c WHERE" SQ_USER_TABLES,
    .sql_describe_indexes =
        "SELECT t.name, il.name, il.\"unique\", il.origin = 'u', il.partial, "
        "(SELECT group_concat(x, ',') FROM (SELECT coalesce(ii.name, '(expr)') AS x "
        "FROM pragma_index_info(il.name) AS ii ORDER BY ii.seqno)) "
        "FROM pragma_table_list AS t JOIN pragma_index_list(t.name) AS il WHERE" SQ_USER_TABLES "AND il.origin <> 'pk'",
    .sql_describe_fkeys =
        "SELECT tbl, id, group_concat(\"from\", ','), ref, group_concat(\"to\", ','), on_delete FROM ("
        "SELECT t.name AS tbl, f.id AS id, f.seq, f.\"from\" AS \"from\", f.\"table\" AS ref, "
        "coalesce(f.\"to\", (SELECT p.name FROM pragma_table_info(f.\"table\") AS p WHERE p.pk = f.seq + 1)) AS \"to\", "
        "f.on_delete AS on_delete "
        "FROM pragma_table_list AS t JOIN pragma_foreign_key_list(t.name) AS f WHERE" SQ_USER_TABLES
        "ORDER BY 1, 2, 3) "
        "GROUP BY tbl, id",
    .sql_table_exists = "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = $1",
    .sql_migration_lock = NULL,
    .tok_int64 = "INTEGER",
    .tok_blob = "BLOB",
    .tok_strict = "STRICT",
};
