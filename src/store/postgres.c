/* The PostgreSQL driver (libpq): named server-side prepared statements cached per connection,
 * text-format parameters (blobs binary, as bytea) and text-format results. Several kefu processes
 * may share the database, so there is no group commit: writes are ordinary transactions. */
#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_driver.h"

#define PG_BYTEA_OID 17
/* A parameter buffer larger than this is freed when its statement goes back to the cache. */
#define PG_PARAM_KEEP_MAX (64u * 1024u)

struct pg_conn {
    struct store_conn base;
    PGconn *pg;
    unsigned next_name;
};

struct pg_param {
    char *heap;
    size_t cap;
    char small[24]; /* holds any int64 in decimal, and short strings */
};

struct pg_stmt {
    struct store_stmt base;
    struct pg_conn *conn;
    char name[16];
    int nparams;
    const char **values;
    int *lengths;
    int *formats;
    struct pg_param *params;
    PGresult *res;
    bool executed;
    int row;
    int64_t changes;
    int nblobs;
    unsigned char **blobs; /* unescaped bytea of the current row, by column */
    size_t *blob_lens;
};

static struct pg_conn *pg_conn_of(struct store_conn *c)
{
    return STORE_CONTAINER(c, struct pg_conn, base);
}

static struct pg_stmt *pg_stmt_of(struct store_stmt *st)
{
    return STORE_CONTAINER(st, struct pg_stmt, base);
}

/* --- errors --------------------------------------------------------------------------------- */

static int pg_code_of_sqlstate(const char *state)
{
    if (!state) return KF_E_STORAGE;
    if (strcmp(state, "23505") == 0 || strcmp(state, "23503") == 0) return KF_E_CONFLICT;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0) return KF_E_BUSY;
    return KF_E_STORAGE;
}

/* Fills `err` from a failed result. Only the primary message is kept, never DETAIL (which quotes
 * key values), and for data exceptions (class 22) not even that: they echo the offending input. */
static int pg_fail(PGconn *pg, const PGresult *r, struct kf_err *err)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg) msg = PQerrorMessage(pg);
    if (state && strncmp(state, "22", 2) == 0) msg = "invalid value";
    int code = pg_code_of_sqlstate(state);
    kf_fail(err, code, NULL, "postgres %s: %s", state ? state : "-", msg);
    if (err) {
        size_t n = strlen(err->detail);
        while (n > 0 && (err->detail[n - 1] == '\n' || err->detail[n - 1] == ' ')) err->detail[--n] = '\0';
    }
    return code;
}

/* Runs constant SQL; 0 when it succeeded. */
static int pg_exec_checked(PGconn *pg, const char *sql, PGresult **res_r, struct kf_err *err)
{
    PGresult *r = PQexec(pg, sql);
    ExecStatusType status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY) {
        int code = pg_fail(pg, r, err);
        PQclear(r);
        return code;
    }
    if (res_r) *res_r = r;
    else PQclear(r);
    return 0;
}

/* --- connections ---------------------------------------------------------------------------- */

/* Server notices go nowhere: they can quote statement text and nothing in kefu acts on them. */
static void pg_notice_ignore(void *arg, const char *message)
{
}

static int pg_conn_open(const char *url, enum store_conn_role role, struct store_conn **conn_r, struct kf_err *err)
{
    struct pg_conn *c = calloc(1, sizeof *c);
    if (!c) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    c->pg = PQconnectdb(url);
    int rc = 0;
    if (!c->pg) {
        rc = kf_fail(err, KF_E_NOMEM, NULL, NULL);
    } else if (PQstatus(c->pg) != CONNECTION_OK) {
        rc = pg_fail(c->pg, NULL, err);
    } else {
        PQsetNoticeProcessor(c->pg, pg_notice_ignore, NULL);
        /* Times are int64 UTC milliseconds, but now() and casts must not depend on the server's zone. */
        rc = pg_exec_checked(c->pg, "SET TIME ZONE 'UTC'; SET client_min_messages = warning", NULL, err);
    }
    if (rc) {
        PQfinish(c->pg);
        free(c);
        return rc;
    }
    *conn_r = &c->base;
    return 0;
}

static void pg_conn_close(struct store_conn *conn)
{
    struct pg_conn *c = pg_conn_of(conn);
    PQfinish(c->pg);
    free(c);
}

static int pg_check_durability(struct store_conn *conn, struct kf_err *err)
{
    static const char *const names[] = {"fsync", "synchronous_commit", "full_page_writes"};
    PGconn *pg = pg_conn_of(conn)->pg;
    PGresult *r = NULL;
    int rc = pg_exec_checked(pg,
                             "SELECT current_setting('fsync'), current_setting('synchronous_commit'), "
                             "current_setting('full_page_writes')",
                             &r, err);
    if (rc) return rc;
    for (int i = 0; i < 3 && rc == 0; i++) {
        if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, i), "off") == 0) {
            rc = kf_fail(err, KF_E_UNSAFE_STORAGE, NULL, "postgres: %s is off", names[i]);
        }
    }
    PQclear(r);
    return rc;
}

static bool pg_conn_broken(struct store_conn *conn)
{
    return PQstatus(pg_conn_of(conn)->pg) != CONNECTION_OK;
}

static bool pg_in_transaction(struct store_conn *conn)
{
    PGTransactionStatusType t = PQtransactionStatus(pg_conn_of(conn)->pg);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

/* --- statements ----------------------------------------------------------------------------- */

static int pg_stmt_alloc_params(struct pg_stmt *s)
{
    int n = s->nparams > 0 ? s->nparams : 1;
    s->values = calloc((size_t)n, sizeof *s->values);
    s->lengths = calloc((size_t)n, sizeof *s->lengths);
    s->formats = calloc((size_t)n, sizeof *s->formats);
    s->params = calloc((size_t)n, sizeof *s->params);
    return s->values && s->lengths && s->formats && s->params ? 0 : KF_E_NOMEM;
}

static void pg_stmt_free_arrays(struct pg_stmt *s)
{
    if (s->params) {
        for (int i = 0; i < s->nparams; i++) free(s->params[i].heap);
    }
    free(s->values);
    free(s->lengths);
    free(s->formats);
    free(s->params);
    free(s->blobs);
    free(s->blob_lens);
}

static int pg_prepare(struct store_conn *conn, const char *sql, struct store_stmt **stmt_r, struct kf_err *err)
{
    struct pg_conn *c = pg_conn_of(conn);
    struct pg_stmt *s = calloc(1, sizeof *s);
    if (!s) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    s->conn = c;
    snprintf(s->name, sizeof s->name, "kf%u", ++c->next_name);
    PGresult *r = PQprepare(c->pg, s->name, sql, 0, NULL);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : pg_fail(c->pg, r, err);
    PQclear(r);
    if (rc == 0) {
        r = PQdescribePrepared(c->pg, s->name);
        if (PQresultStatus(r) == PGRES_COMMAND_OK) s->nparams = PQnparams(r);
        else rc = pg_fail(c->pg, r, err);
        PQclear(r);
    }
    if (rc == 0 && pg_stmt_alloc_params(s) != 0) rc = kf_fail(err, KF_E_NOMEM, NULL, NULL);
    if (rc) {
        pg_stmt_free_arrays(s);
        free(s);
        return rc;
    }
    *stmt_r = &s->base;
    return 0;
}

/* Copies a parameter value (NUL-terminated, as text format needs) into its reusable buffer. */
static int pg_param_set(struct pg_stmt *s, int idx, const void *data, size_t len, int format)
{
    if (idx < 1 || idx > s->nparams) return KF_E_INVALID;
    if (len >= INT_MAX) return KF_E_TOO_LARGE;
    struct pg_param *p = &s->params[idx - 1];
    char *buf = p->small;
    if (len + 1 > sizeof p->small) {
        if (p->cap < len + 1) {
            char *h = realloc(p->heap, len + 1);
            if (!h) return KF_E_NOMEM;
            p->heap = h;
            p->cap = len + 1;
        }
        buf = p->heap;
    }
    if (len) memcpy(buf, data, len);
    buf[len] = '\0';
    s->values[idx - 1] = buf;
    s->lengths[idx - 1] = (int)len;
    s->formats[idx - 1] = format;
    return 0;
}

static int pg_bind_int64(struct store_stmt *st, int idx, int64_t v)
{
    char text[24];
    int n = snprintf(text, sizeof text, "%lld", (long long)v);
    return pg_param_set(pg_stmt_of(st), idx, text, (size_t)n, 0);
}

static int pg_bind_text(struct store_stmt *st, int idx, const char *s, size_t len)
{
    return pg_param_set(pg_stmt_of(st), idx, s, len, 0);
}

static int pg_bind_blob(struct store_stmt *st, int idx, const void *data, size_t len)
{
    return pg_param_set(pg_stmt_of(st), idx, data, len, 1); /* binary bytea: no escaping */
}

static int pg_bind_null(struct store_stmt *st, int idx)
{
    struct pg_stmt *s = pg_stmt_of(st);
    if (idx < 1 || idx > s->nparams) return KF_E_INVALID;
    s->values[idx - 1] = NULL;
    return 0;
}

static void pg_free_blobs(struct pg_stmt *s)
{
    for (int i = 0; i < s->nblobs; i++) {
        if (s->blobs[i]) PQfreemem(s->blobs[i]);
        s->blobs[i] = NULL;
    }
}

static int64_t pg_parse_int64(const char *v)
{
    if (v[0] == 't' && v[1] == '\0') return 1; /* boolean results */
    if (v[0] == 'f' && v[1] == '\0') return 0;
    return strtoll(v, NULL, 10);
}

static int64_t pg_result_changes(const PGresult *r)
{
    if (strncmp(PQcmdStatus((PGresult *)r), "SELECT", 6) == 0) return 0;
    const char *n = PQcmdTuples((PGresult *)r);
    return *n ? pg_parse_int64(n) : 0;
}

/* Runs the statement; the result is held until the statement is reset. */
static int pg_execute(struct pg_stmt *s, struct kf_err *err)
{
    PGconn *pg = s->conn->pg;
    s->res = PQexecPrepared(pg, s->name, s->nparams, s->values, s->lengths, s->formats, 0);
    s->executed = true;
    s->row = -1;
    ExecStatusType status = PQresultStatus(s->res);
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
        int n = PQnfields(s->res);
        if (n > s->nblobs) {
            free(s->blobs);
            free(s->blob_lens);
            s->blobs = calloc((size_t)n, sizeof *s->blobs);
            s->blob_lens = calloc((size_t)n, sizeof *s->blob_lens);
            s->nblobs = s->blobs && s->blob_lens ? n : 0;
            if (!s->nblobs) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
        }
        return 0;
    }
    int code = pg_fail(pg, s->res, err);
    PQclear(s->res);
    s->res = NULL;
    return code;
}

static int pg_step(struct store_stmt *stmt, struct kf_err *err)
{
    struct pg_stmt *s = pg_stmt_of(stmt);
    if (!s->executed) {
        int rc = pg_execute(s, err);
        if (rc) return rc;
    }
    if (!s->res) return STORE_DONE;
    pg_free_blobs(s);
    if (s->row < PQntuples(s->res)) s->row++;
    if (s->row < PQntuples(s->res)) return STORE_ROW;
    s->changes = pg_result_changes(s->res);
    return STORE_DONE;
}

static bool pg_has_cell(struct pg_stmt *s, int col)
{
    return s->res && s->row >= 0 && s->row < PQntuples(s->res) && col >= 0 && col < PQnfields(s->res);
}

static int pg_col_count(struct store_stmt *st)
{
    struct pg_stmt *s = pg_stmt_of(st);
    return s->res ? PQnfields(s->res) : 0;
}

static bool pg_col_is_null(struct store_stmt *st, int col)
{
    struct pg_stmt *s = pg_stmt_of(st);
    return !pg_has_cell(s, col) || PQgetisnull(s->res, s->row, col);
}

static int64_t pg_col_int64(struct store_stmt *st, int col)
{
    struct pg_stmt *s = pg_stmt_of(st);
    if (pg_col_is_null(st, col)) return 0;
    return pg_parse_int64(PQgetvalue(s->res, s->row, col));
}

static const char *pg_col_text(struct store_stmt *st, int col, size_t *len_r)
{
    struct pg_stmt *s = pg_stmt_of(st);
    if (pg_col_is_null(st, col)) {
        if (len_r) *len_r = 0;
        return NULL;
    }
    if (len_r) *len_r = (size_t)PQgetlength(s->res, s->row, col);
    return PQgetvalue(s->res, s->row, col);
}

static const void *pg_col_blob(struct store_stmt *st, int col, size_t *len_r)
{
    struct pg_stmt *s = pg_stmt_of(st);
    if (pg_col_is_null(st, col) || PQftype(s->res, col) != PG_BYTEA_OID) return pg_col_text(st, col, len_r);
    if (!s->blobs[col]) {
        size_t n = 0;
        s->blobs[col] = PQunescapeBytea((const unsigned char *)PQgetvalue(s->res, s->row, col), &n);
        s->blob_lens[col] = n;
    }
    if (len_r) *len_r = s->blobs[col] ? s->blob_lens[col] : 0;
    return s->blobs[col];
}

static int64_t pg_changes(struct store_stmt *st)
{
    return pg_stmt_of(st)->changes;
}

static void pg_reset(struct store_stmt *st)
{
    struct pg_stmt *s = pg_stmt_of(st);
    pg_free_blobs(s);
    PQclear(s->res);
    s->res = NULL;
    s->executed = false;
    s->changes = 0;
    for (int i = 0; i < s->nparams; i++) {
        s->values[i] = NULL;
        struct pg_param *p = &s->params[i];
        if (p->cap > PG_PARAM_KEEP_MAX) {
            free(p->heap);
            p->heap = NULL;
            p->cap = 0;
        }
    }
}

static void pg_destroy(struct store_stmt *st)
{
    struct pg_stmt *s = pg_stmt_of(st);
    pg_reset(st);
    /* An evicted statement is dropped on the server; with the connection closing it goes anyway. */
    if (!s->conn->base.closing && PQstatus(s->conn->pg) == CONNECTION_OK) {
        char sql[32];
        snprintf(sql, sizeof sql, "DEALLOCATE %s", s->name);
        PQclear(PQexec(s->conn->pg, sql));
    }
    pg_stmt_free_arrays(s);
    free(s);
}

/* --- whole-connection SQL ------------------------------------------------------------------- */

/* Only constant SQL reaches here (migrations and transaction control), never input. */
static int pg_exec(struct store_conn *conn, const char *sql, struct kf_err *err)
{
    return pg_exec_checked(pg_conn_of(conn)->pg, sql, NULL, err);
}

static int pg_begin(struct store_conn *conn, struct kf_err *err)
{
    return pg_exec(conn, "BEGIN", err);
}

static int pg_commit(struct store_conn *conn, struct kf_err *err)
{
    PGresult *r = NULL;
    int rc = pg_exec_checked(pg_conn_of(conn)->pg, "COMMIT", &r, err);
    if (rc) return rc;
    /* COMMIT of a transaction that saw an error succeeds as a ROLLBACK: nothing was kept. */
    if (strcmp(PQcmdStatus(r), "ROLLBACK") == 0) {
        rc = kf_fail(err, KF_E_STORAGE, NULL, "postgres: the transaction failed earlier and was rolled back");
    }
    PQclear(r);
    return rc;
}

static void pg_rollback(struct store_conn *conn)
{
    PQclear(PQexec(pg_conn_of(conn)->pg, "ROLLBACK"));
}

/* --- schema helpers -------------------------------------------------------------------------- */

/* The engine-specific half of the search index (search.c: search_engine_tokens and its GIN index)
 * has no SQLite twin — there it is the FTS5 table, whose virtual and shadow tables the SQLite
 * queries skip — so these objects stay out of the engine-neutral description. */
#define PG_NOT_SEARCH_ENGINE(rel) " AND " rel " NOT LIKE 'search\\_engine\\_%'"

#define PG_ATTNAMES(rel, keys, limit)                                                             \
    "(SELECT string_agg(coalesce(a.attname, '(expr)'), ',' ORDER BY k.ord) "                    \
    "FROM unnest(" keys ") WITH ORDINALITY AS k(attnum, ord) "                                  \
    "LEFT JOIN pg_attribute AS a ON a.attrelid = " rel " AND a.attnum = k.attnum AND k.attnum <> 0 " \
    "WHERE " limit ")"

const struct store_driver store_driver_postgres = {
    .name = "postgres",
    .caps = STORE_CAP_SKIP_LOCKED | STORE_CAP_LISTEN | STORE_CAP_RETURNING,
    .conn_open = pg_conn_open,
    .conn_close = pg_conn_close,
    .check_durability = pg_check_durability,
    .conn_broken = pg_conn_broken,
    .in_transaction = pg_in_transaction,
    .prepare = pg_prepare,
    .bind_int64 = pg_bind_int64,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .col_count = pg_col_count,
    .col_is_null = pg_col_is_null,
    .col_int64 = pg_col_int64,
    .col_text = pg_col_text,
    .col_blob = pg_col_blob,
    .changes = pg_changes,
    .reset = pg_reset,
    .destroy = pg_destroy,
    .exec = pg_exec,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .sql_describe_columns =
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull::int, "
        "coalesce(array_position(pk.conkey, a.attnum), 0), a.atthasdef::int "
        "FROM pg_class AS c "
        "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
        "JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "LEFT JOIN pg_constraint AS pk ON pk.conrelid = c.oid AND pk.contype = 'p' "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')" PG_NOT_SEARCH_ENGINE("c.relname"),
    .sql_describe_indexes =
        "SELECT t.relname, i.relname, ix.indisunique::int, coalesce(con.contype = 'u', false)::int, "
        "(ix.indpred IS NOT NULL)::int, "
        PG_ATTNAMES("t.oid", "ix.indkey::int2[]", "k.ord <= ix.indnkeyatts") " "
        "FROM pg_index AS ix "
        "JOIN pg_class AS i ON i.oid = ix.indexrelid "
        "JOIN pg_class AS t ON t.oid = ix.indrelid "
        "JOIN pg_namespace AS n ON n.oid = t.relnamespace "
        "LEFT JOIN pg_constraint AS con ON con.conindid = ix.indexrelid AND con.contype IN ('u', 'p', 'x') "
        "WHERE n.nspname = current_schema() AND NOT ix.indisprimary" PG_NOT_SEARCH_ENGINE("t.relname"),
    .sql_describe_fkeys =
        "SELECT t.relname, con.conname, "
        PG_ATTNAMES("con.conrelid", "con.conkey", "TRUE") ", r.relname, "
        PG_ATTNAMES("con.confrelid", "con.confkey", "TRUE") ", "
        "CASE con.confdeltype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE' "
        "WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' END "
        "FROM pg_constraint AS con "
        "JOIN pg_class AS t ON t.oid = con.conrelid "
        "JOIN pg_class AS r ON r.oid = con.confrelid "
        "JOIN pg_namespace AS n ON n.oid = t.relnamespace "
        "WHERE con.contype = 'f' AND n.nspname = current_schema()" PG_NOT_SEARCH_ENGINE("t.relname"),
    .sql_table_exists = "SELECT (to_regclass($1) IS NOT NULL)::int",
    .sql_migration_lock = "SELECT pg_advisory_xact_lock($1)",
    .tok_int64 = "BIGINT",
    .tok_blob = "BYTEA",
    .tok_strict = "",
};
