/* What the store's own files share and nobody else sees: the store struct (pool, stats, writer
 * handle) and the group-commit writer's entry points (writer.c). */
#ifndef KEFU_STORE_INTERNAL_H
#define KEFU_STORE_INTERNAL_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "store/store_driver.h"

/* The pool never holds more connections than this; acquire waits (then fails busy) beyond it. */
#define STORE_POOL_MAX 256u

struct store_writer;
struct store_listener;
struct store_pg_listen;

/* One queued notification (engines without LISTEN): delivered after its write commits. */
struct store_note {
    struct store_note *next;
    char channel[STORE_CHANNEL_MAX + 1];
    char payload[]; /* NUL-terminated */
};

struct store {
    const struct store_driver *drv;
    char *target; /* driver target: SQLite path or PostgreSQL URL */

    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;       /* a connection came back */
    struct store_conn *free_list;
    unsigned n_conns;               /* pooled connections open (idle or lent out) */

    struct store_writer *writer;    /* NULL unless STORE_CAP_GROUP_COMMIT */

    pthread_mutex_t listen_lock;    /* the listener list; held while a listener runs */
    struct store_listener *listeners;
    struct store_pg_listen *pg_listen; /* STORE_CAP_LISTEN: the listening thread; NULL until needed */

    _Atomic uint64_t st_write_batches;
    _Atomic uint64_t st_writes;
    _Atomic uint64_t st_write_failures;
    _Atomic uint64_t st_commit_failures;
    _Atomic uint64_t st_commit_us_total;
    _Atomic uint64_t st_batch_max;
    _Atomic uint64_t st_queue_depth;
    _Atomic uint64_t st_connections;
};

/* Raises a statistics maximum. */
static inline void store_stat_max(_Atomic uint64_t *slot, uint64_t v)
{
    uint64_t cur = atomic_load(slot);
    while (v > cur && !atomic_compare_exchange_weak(slot, &cur, v)) {
    }
}

/* Opens one connection with this store's driver and checks its durability settings. */
int store_conn_open(struct store *s, enum store_conn_role role, struct store_conn **conn_r, struct kf_err *err);

/* Closes a connection and every cached statement of it; clears *c. */
void store_conn_close(struct store_conn **c);

/* Resets (and logs) statements a caller left unfinalized, so the connection can be reused. */
void store_conn_reset_stmts(struct store_conn *c);

/* Runs a one-shot constant statement through the connection's statement cache. */
int store_run(struct store_conn *c, const char *sql, struct kf_err *err);

/* Commits c's open transaction: the driver's before_commit work (SQLite: the batch's waiting FTS5
 * inserts), then COMMIT. On failure the transaction is still open; the caller rolls it back. */
int store_conn_commit(struct store_conn *c, struct kf_err *err);

/* True on the thread currently running a write function (store_write must not nest). */
bool store_in_write_fn(void);
void store_set_in_write_fn(bool on);

/* Hands a write's queued notifications (in the order queued) to this process's listeners, then
 * frees them; clears *notes. Call only after the write's transaction committed. */
void store_notes_deliver(struct store *s, struct store_note **notes);

/* Frees queued notifications of a write that did not commit; clears *notes. */
void store_notes_free(struct store_note **notes);

/* Starts the writer on its own connection (taken over by the writer). */
int writer_start(struct store *s, struct store_conn *conn, struct store_writer **w_r, struct kf_err *err);

/* Drains the queue (every queued write is committed and its done called), stops the thread,
 * closes its connection; clears *w. */
void writer_stop(struct store_writer **w);

/* Queues a write; KF_E_UNAVAILABLE when stopping. */
int writer_submit_async(struct store_writer *w, store_write_fn fn, void *arg, store_done_fn done, void *done_arg);

/* Queues a write and waits until its batch is durable or failed. */
int writer_submit_wait(struct store_writer *w, store_write_fn fn, void *arg, struct kf_err *err);

#endif
