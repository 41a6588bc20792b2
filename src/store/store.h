/* The one door to the database (the dovecot lib-sql model): one query API over two drivers,
 * chosen by URL — `sqlite:PATH` (default, embedded) and `postgres://…` / `postgresql://…` (libpq).
 * Each driver is a const table of functions with capability flags (store_driver.h).
 *
 * SQL is written one way: placeholders are `$1`, `$2`, … in both engines (the SQLite driver
 * rewrites them to `?1`, `?2`, … because SQLite numbers `$N` by first appearance). Every query is
 * a prepared statement with bound parameters; no SQL is ever built from input.
 *
 * Ownership: the store owns its connections; a connection is used by one thread at a time
 * (store_acquire … store_release). A statement belongs to its connection and is cached there:
 * store_finalize hands it back to the cache. Column values are valid until the next store_step or
 * store_finalize on that statement. Bound values are copied.
 *
 * Writes: every change goes through store_write / store_write_async, whose function runs inside a
 * transaction. On SQLite one writer thread runs the queued write functions, each in its own
 * SAVEPOINT (a failure rolls back only its own work), and commits the batch with one fsync (group
 * commit); the caller hears back only after the batch is durable. On PostgreSQL the function runs
 * in an ordinary transaction on a pooled connection in the calling thread. */
#ifndef KEFU_STORE_H
#define KEFU_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

struct store;
struct store_conn;
struct store_stmt;

enum store_caps {
    STORE_CAP_GROUP_COMMIT = 1u << 0, /* writes are batched by one writer thread (async done callbacks) */
    STORE_CAP_SKIP_LOCKED = 1u << 1,  /* FOR UPDATE SKIP LOCKED: several processes share one database */
    STORE_CAP_LISTEN = 1u << 2,       /* LISTEN/NOTIFY between processes */
    STORE_CAP_RETURNING = 1u << 3,    /* INSERT/UPDATE … RETURNING */
};

/* store_step results (errors are negative KF_E_* codes). */
enum { STORE_DONE = 0, STORE_ROW = 1 };

struct store_stats {
    uint64_t write_batches;      /* commits of the group-commit writer (SQLite) or write transactions (PostgreSQL) */
    uint64_t writes;             /* write functions run */
    uint64_t write_failures;     /* write functions that failed (rolled back to their savepoint) */
    uint64_t commit_failures;    /* batches whose COMMIT failed (every write in them failed) */
    uint64_t commit_us_total;    /* time spent in COMMIT (fsync), microseconds */
    uint64_t batch_max;          /* largest batch seen */
    uint64_t queue_depth;        /* writes waiting now */
    uint64_t connections;        /* open connections */
};

/* --- opening and closing ------------------------------------------------------------------ */

/* Opens the database at `url` ("sqlite:PATH", "postgres://…", "postgresql://…"). For SQLite it
 * creates the file, sets WAL, synchronous=FULL, foreign keys and a busy timeout, and starts the
 * writer thread. It refuses settings that can lose acknowledged writes (KF_E_UNSAFE_STORAGE):
 * SQLite not at synchronous=FULL, PostgreSQL with fsync, synchronous_commit or full_page_writes
 * off. It does not migrate. */
int store_open(const char *url, struct store **store_r, struct kf_err *err);

/* Waits for queued writes to commit, stops the writer, closes every connection; clears *store. */
void store_close(struct store **store);

/* "sqlite" or "postgres". */
const char *store_engine(const struct store *s);
unsigned store_caps(const struct store *s);
void store_get_stats(struct store *s, struct store_stats *out);

/* --- connections and statements ------------------------------------------------------------ */

/* Takes a connection from the pool (opening one if none is free). Use it for reads. */
int store_acquire(struct store *s, struct store_conn **conn_r, struct kf_err *err);

/* Like store_acquire, for a background pass that reads many rows once (the SLA job over every open
 * request): the pages it reads are not left in the process's memory (SQLite: no mapped file; they
 * stay in the kernel's page cache, outside the RSS). Give it back with store_release as usual. */
int store_acquire_scan(struct store *s, struct store_conn **conn_r, struct kf_err *err);

/* Gives the connection back (rolling back a transaction left open); clears *conn. */
void store_release(struct store_conn **conn);

/* Prepares `sql` (cached per connection by its text). */
int store_prepare(struct store_conn *c, const char *sql, struct store_stmt **stmt_r, struct kf_err *err);

/* Binds parameter `idx` (1-based, as in `$1`). Values are copied. `len` may be (size_t)-1 for
 * strlen. A NULL text binds SQL NULL. */
void store_bind_int64(struct store_stmt *st, int idx, int64_t v);
void store_bind_text(struct store_stmt *st, int idx, const char *s, size_t len);
void store_bind_blob(struct store_stmt *st, int idx, const void *data, size_t len);
void store_bind_null(struct store_stmt *st, int idx);

/* Runs the statement (first call) or moves to the next row: STORE_ROW, STORE_DONE, or a negative
 * code (unique or foreign-key violations: KF_E_CONFLICT; lock time-out: KF_E_BUSY; else KF_E_STORAGE). */
int store_step(struct store_stmt *st, struct kf_err *err);

/* Columns of the current row, 0-based. A NULL reads as 0 / NULL. */
int store_col_count(struct store_stmt *st);
bool store_col_is_null(struct store_stmt *st, int col);
int64_t store_col_int64(struct store_stmt *st, int col);
const char *store_col_text(struct store_stmt *st, int col, size_t *len_r);
const void *store_col_blob(struct store_stmt *st, int col, size_t *len_r);

/* Rows changed by the last INSERT/UPDATE/DELETE that ran to STORE_DONE. */
int64_t store_changes(struct store_stmt *st);

/* Resets bindings and hands the statement back to its connection's cache; clears *st. */
void store_finalize(struct store_stmt **st);

/* Runs SQL without parameters or results (may hold several statements; for migrations). */
int store_exec(struct store_conn *c, const char *sql, struct kf_err *err);

/* Explicit transactions on a read connection (consistent multi-query reads). */
int store_begin(struct store_conn *c, struct kf_err *err);
int store_commit(struct store_conn *c, struct kf_err *err);
void store_rollback(struct store_conn *c);

/* A read snapshot for a run of statements on the read connection `c`, where the engine makes it
 * cheaper: on SQLite a BEGIN, so the run takes one read lock instead of one per statement (and sees
 * one snapshot); on PostgreSQL nothing (BEGIN and COMMIT would be two more round trips), nor when
 * `c` is already in a transaction. *began_r says whether one was begun; pass it to store_read_end,
 * which commits it. Never inside a write function (a no-op there). */
int store_read_begin(struct store_conn *c, bool *began_r, struct kf_err *err);
void store_read_end(struct store_conn *c, bool began);

/* --- writes ------------------------------------------------------------------------------- */

/* A unit of work: runs inside a transaction on `c`; returns 0 to keep its changes, or a negative
 * code (with `err` filled) to roll back exactly its own changes. Must not call store_write. */
typedef int (*store_write_fn)(struct store_conn *c, void *arg, struct kf_err *err);

/* Called once the write is durable (rc 0) or has failed (rc < 0, err filled). */
typedef void (*store_done_fn)(void *done_arg, int rc, const struct kf_err *err);

/* Runs `fn` in a write transaction and returns when it is durable (or failed). */
int store_write(struct store *s, store_write_fn fn, void *arg, struct kf_err *err);

/* Queues `fn`; `done` is called exactly once, from the writer thread, after the batch holding it
 * is durable or failed. Only for stores with STORE_CAP_GROUP_COMMIT; others: use store_write.
 * Returns KF_E_UNAVAILABLE (and does not call done) when the store is closing. */
int store_write_async(struct store *s, store_write_fn fn, void *arg, store_done_fn done, void *done_arg);

/* --- notifications ------------------------------------------------------------------------ */

#define STORE_CHANNEL_MAX 63        /* bytes of a channel name: [a-z_][a-z0-9_]* (a PostgreSQL identifier) */
#define STORE_PAYLOAD_MAX 1000      /* bytes of a payload (PostgreSQL allows 8000; ours are ids) */
#define STORE_NOTES_PER_WRITE 10000 /* notifications one write function may queue (bulk actions) */

/* A listener: called with each payload of its channel, after the commit that sent it, and with
 * payload NULL when notes may have been lost (PostgreSQL: the listening connection was re-opened
 * after a drop) — then whatever the listener keeps in step must be re-read. It runs on a
 * store thread (the SQLite writer, or the PostgreSQL listening thread) with the listener list
 * locked: it must be quick, must not block on a client, and must not call store_listen,
 * store_write or store_close. */
typedef void (*store_listen_fn)(void *arg, const char *payload);

/* Called inside a write function: sends `payload` on `channel` once the write's transaction commits
 * and never when it rolls back (the write failed, its savepoint was rolled back, or its batch did not
 * commit). PostgreSQL: `SELECT pg_notify($1, $2)` in the transaction, so PostgreSQL delivers it on
 * commit to every process listening on the database, this one included. SQLite: queued with the
 * write and handed to this process's listeners after the batch's COMMIT, before the writer tells
 * the write's caller (so a store_write that returned 0 has had its notifications delivered).
 * Returns 0, KF_E_INVALID (not in a write, bad channel name, payload too long or holding a NUL),
 * KF_E_LIMIT (more than STORE_NOTES_PER_WRITE), KF_E_NOMEM or the engine's error. */
int store_notify(struct store_conn *c, const char *channel, const char *payload);

/* Registers `cb` for `channel` until store_listen_stop or store_close. With STORE_CAP_LISTEN
 * (PostgreSQL) the first call starts one dedicated connection with a thread that LISTENs on every
 * registered channel and dispatches what arrives; it reconnects with back-off when the connection
 * drops (notifications sent while it was down are lost: once it listens again every listener is
 * called with payload NULL, so those that must not miss a change re-read). Returns once the channel is listened to (or after a few seconds, with a warning, while
 * the thread keeps trying). SQLite: in-process dispatch only. KF_E_INVALID for a bad channel. */
int store_listen(struct store *s, const char *channel, store_listen_fn cb, void *arg);

/* Stops the listening thread and forgets every listener (nothing is called after it returns).
 * Call it before freeing what listeners point to; store_close calls it too. */
void store_listen_stop(struct store *s);

/* --- schema --------------------------------------------------------------------------------- */

/* Applies every embedded migration not yet applied, each in its own transaction, recording it in
 * kefu_migrations (version, name, checksum, applied_at). Refuses (KF_E_MIGRATION) when an applied
 * migration's checksum differs from the embedded one: released migrations are never edited. */
int store_migrate(struct store *s, int64_t now_ms, struct kf_err *err);

/* The highest applied version and the highest embedded one. */
int store_schema_version(struct store *s, int *applied_r, int *latest_r, struct kf_err *err);

/* Writes an engine-neutral description of the schema (tables, columns with a type class, NOT NULL,
 * primary keys, indexes with their columns and uniqueness) sorted by name, one item per line, so
 * that the two engines' descriptions can be compared byte for byte. */
int store_describe_schema(struct store *s, struct buf *out, struct kf_err *err);

#endif
