/* The driver interface behind store.h (the dovecot lib-sql model): each engine is one const table
 * of functions plus capability flags. A driver allocates its own connection and statement structs
 * with the common parts below as their first member; store.c owns pooling, the statement cache,
 * bind-error bookkeeping and the write path, so drivers stay thin translations to their library. */
#ifndef KEFU_STORE_DRIVER_H
#define KEFU_STORE_DRIVER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

/* Buckets of a connection's statement cache (a power of two). */
#define STORE_STMT_BUCKETS 128u

/* The common head of every driver's connection. Only store.c touches these fields. */
struct store_note;

struct store_conn {
    struct store *store;
    const struct store_driver *drv;
    struct store_conn *next_free;       /* pool free list */
    struct store_stmt *buckets[STORE_STMT_BUCKETS]; /* statement cache, chained by SQL hash */
    unsigned n_stmts;                   /* statements in the cache */
    unsigned n_in_use;                  /* statements handed out and not finalized */
    bool is_writer;                     /* the group-commit writer's own connection */
    bool in_write;                      /* a write function is running on it: no BEGIN/COMMIT */
    bool closing;                       /* statements are being destroyed with the connection */
    bool scanning;                      /* lent by store_acquire_scan: set_scan(false) on release */
    struct store_note *notes;           /* store_notify of the running write (engines without LISTEN) */
    unsigned n_notes;
};

/* The common head of every driver's statement. Only store.c touches these fields. */
struct store_stmt {
    struct store_conn *conn;
    struct store_stmt *next;  /* cache bucket chain */
    char *sql;                /* cache key, owned */
    uint64_t hash;
    bool in_use;
    int bind_rc;              /* first failed bind (0: none), reported by the next store_step */
    int bind_idx;
};

/* Recovers a driver struct from its embedded common head. */
#define STORE_CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

enum store_conn_role { STORE_ROLE_READ, STORE_ROLE_WRITE };

struct store_driver {
    const char *name; /* "sqlite" or "postgres" */
    unsigned caps;    /* enum store_caps */

    /* Opens one connection to `target` (the SQLite path, or the whole PostgreSQL URL). Read
     * connections of an engine with group commit refuse writes (every write goes through the writer). */
    int (*conn_open)(const char *target, enum store_conn_role role, struct store_conn **conn_r,
                     struct kf_err *err);
    void (*conn_close)(struct store_conn *c);
    /* KF_E_UNSAFE_STORAGE when the settings seen by this connection can lose acknowledged writes. */
    int (*check_durability)(struct store_conn *c, struct kf_err *err);
    /* True when the connection is unusable and must be dropped rather than pooled. */
    bool (*conn_broken)(struct store_conn *c);
    bool (*in_transaction)(struct store_conn *c);

    /* Prepares exactly one statement written with `$N` placeholders. */
    int (*prepare)(struct store_conn *c, const char *sql, struct store_stmt **stmt_r, struct kf_err *err);
    /* Binds copy their value; they return 0 or a KF_E_* code (store.c reports it at the next step). */
    int (*bind_int64)(struct store_stmt *st, int idx, int64_t v);
    int (*bind_text)(struct store_stmt *st, int idx, const char *s, size_t len);
    int (*bind_blob)(struct store_stmt *st, int idx, const void *data, size_t len);
    int (*bind_null)(struct store_stmt *st, int idx);
    int (*step)(struct store_stmt *st, struct kf_err *err);
    int (*col_count)(struct store_stmt *st);
    bool (*col_is_null)(struct store_stmt *st, int col);
    int64_t (*col_int64)(struct store_stmt *st, int col);
    const char *(*col_text)(struct store_stmt *st, int col, size_t *len_r);
    const void *(*col_blob)(struct store_stmt *st, int col, size_t *len_r);
    int64_t (*changes)(struct store_stmt *st);
    /* Back to the unexecuted state with every binding cleared, ready for reuse from the cache. */
    void (*reset)(struct store_stmt *st);
    /* Frees the driver statement (store.c frees the common head's `sql` first). */
    void (*destroy)(struct store_stmt *st);

    /* Runs constant SQL (possibly several statements) without parameters or results. */
    int (*exec)(struct store_conn *c, const char *sql, struct kf_err *err);
    int (*begin)(struct store_conn *c, struct kf_err *err);
    int (*commit)(struct store_conn *c, struct kf_err *err);
    /* Work the writer runs in the batch's transaction just before COMMIT (NULL: none); a failure
     * fails the whole batch, as a failed COMMIT does. */
    int (*before_commit)(struct store_conn *c, struct kf_err *err);
    void (*rollback)(struct store_conn *c);
    /* A read connection about to pass over many rows (on) or back to ordinary reads (off), outside
     * any transaction (NULL: nothing to change). SQLite: the pass reads without the file mapped,
     * so that the pages it touches once do not stay in the process's resident set. */
    int (*set_scan)(struct store_conn *c, bool on, struct kf_err *err);

    /* Schema helper queries, each returning normalised rows so describe.c stays engine-neutral:
     *  columns:  table, column, declared type, not null (0/1), pk position (0 = not in pk), has default (0/1)
     *  indexes:  table, index, unique (0/1), from a UNIQUE constraint (0/1), partial (0/1),
     *            columns joined with ',' in index order (expressions as "(expr)"); primary keys excluded
     *  fkeys:    table, constraint id, from columns, to table, to columns (',' joined), on delete action
     *  table_exists: $1 = table name → one row, one column, 1 or 0 */
    const char *sql_describe_columns;
    const char *sql_describe_indexes;
    const char *sql_describe_fkeys;
    const char *sql_table_exists;
    /* Taken inside each migration's transaction so that processes sharing the database apply
     * migrations one at a time (NULL: the engine already serialises writers). $1 = the lock key. */
    const char *sql_migration_lock;
    /* Token values for migrations: {{int64}}, {{blob}}, {{strict}}. */
    const char *tok_int64;
    const char *tok_blob;
    const char *tok_strict;
};

extern const struct store_driver store_driver_sqlite;
extern const struct store_driver store_driver_postgres;

#endif
