/* The group-commit writer (engines with STORE_CAP_GROUP_COMMIT, i.e. SQLite): one thread runs
 * every write function of the process on its own connection and commits them in batches, so a
 * burst of N writes costs one fsync instead of N.
 *
 * DESIGN — invariants:
 *  1. One thread, one connection: only the writer writes; read connections are query_only.
 *  2. Producers append requests to one FIFO under `lock`; the writer takes up to WRITER_MAX_BATCH
 *     of them at once. The writer never holds `lock` while running SQL, a write function or a done
 *     callback (a callback may queue more writes).
 *  3. A batch is one transaction: BEGIN IMMEDIATE, then each write inside `SAVEPOINT w` … `RELEASE w`;
 *     a write that fails is rolled back with `ROLLBACK TO w; RELEASE w`, removing exactly its own
 *     changes while its batch-mates stay. Then one COMMIT (the one fsync of the batch).
 *  4. Nobody hears of success before COMMIT has returned: waiting callers are woken and done
 *     callbacks run only after it. If COMMIT fails, every write of the batch fails (KF_E_STORAGE).
 *  5. If SQLite abandons the whole transaction under a write (I/O error, disk full, out of memory),
 *     the writes of that transaction which had succeeded are failed too, and the rest of the batch
 *     continues in a new transaction: success is never reported for work that was rolled back.
 *  6. Stopping refuses new writes (KF_E_UNAVAILABLE) and drains the queue: every write queued before
 *     is committed and told before the thread exits.
 *  7. Each request is told exactly once. A blocking request lives on its caller's stack: after it is
 *     marked finished (under `lock`) the writer never touches it again.
 *  8. store_notify's notes (notify.c) follow their write: queued on the connection while the function
 *     runs, moved to the request when its savepoint is released, dropped when it is rolled back, and
 *     delivered after COMMIT only for requests still successful — before any request of the batch is
 *     told, so a caller that heard "done" knows the listeners have heard too. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "store/store_driver.h"
#include "store/store_internal.h"

#define WRITER_MAX_BATCH 1024u
#define WRITER_MAX_SPARE 1024u /* recycled async requests kept to avoid a malloc per write */

struct writer_req {
    struct writer_req *next;
    store_write_fn fn;
    void *arg;
    store_done_fn done;     /* async: called after the batch */
    void *done_arg;
    pthread_cond_t *wake;   /* blocking: the caller waits on it; NULL for async */
    bool finished;
    int rc;
    struct kf_err err;
    struct store_note *notes; /* store_notify of this write, kept until the batch commits */
};

struct store_writer {
    struct store *s;
    struct store_conn *conn;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;    /* work arrived, or stopping */
    struct writer_req *head, *tail;
    unsigned depth;
    bool stopping;
    struct writer_req *spare;
    unsigned n_spare;
};

/* --- running a batch (writer thread, no lock held) ------------------------------------------ */

static void writer_fail_req(struct writer_req *r, int code, const char *why)
{
    r->rc = code;
    kf_fail(&r->err, code, NULL, "%s", why);
}

/* Fails every request from `from` up to (not including) `to` that had succeeded. */
static void writer_fail_succeeded(struct writer_req *from, struct writer_req *to, const char *why)
{
    for (struct writer_req *r = from; r != to; r = r->next) {
        if (r->rc == 0) writer_fail_req(r, KF_E_STORAGE, why);
    }
}

/* Runs one write function inside its own savepoint. */
static void writer_run_one(struct store_writer *w, struct writer_req *r)
{
    struct store_conn *c = w->conn;
    kf_err_clear(&r->err);
    r->rc = store_run(c, "SAVEPOINT w", &r->err);
    if (r->rc) return;
    c->in_write = true;
    store_set_in_write_fn(true);
    int rc = r->fn(c, r->arg, &r->err);
    store_set_in_write_fn(false);
    c->in_write = false;
    /* A statement left mid-step would make RELEASE or COMMIT fail for the whole batch. */
    store_conn_reset_stmts(c);
    if (rc == 0) rc = store_run(c, "RELEASE w", &r->err);
    r->notes = c->notes; /* invariant 8; dropped below when the write failed */
    c->notes = NULL;
    c->n_notes = 0;
    if (rc != 0) store_notes_free(&r->notes);
    if (rc != 0) {
        if (r->err.code == KF_OK) kf_fail(&r->err, rc, NULL, NULL);
        struct kf_err ignored;
        if (c->drv->in_transaction(c) &&
            (store_run(c, "ROLLBACK TO w", &ignored) != 0 || store_run(c, "RELEASE w", &ignored) != 0)) {
            /* The failed write's changes could not be undone alone: abandon the whole transaction
             * rather than let them be committed (the batch then follows invariant 5). */
            log_error("store: cannot roll back a failed write: %s", ignored.detail);
            c->drv->rollback(c);
        }
        atomic_fetch_add(&w->s->st_write_failures, 1);
    }
    r->rc = rc;
    atomic_fetch_add(&w->s->st_writes, 1);
}

/* Commits the open transaction holding requests [first, end); on failure they all fail. */
static void writer_commit(struct store_writer *w, struct writer_req *first, struct writer_req *end)
{
    struct store_conn *c = w->conn;
    struct kf_err err;
    int64_t t0 = clock_monotonic_us();
    int rc = store_conn_commit(c, &err);
    atomic_fetch_add(&w->s->st_commit_us_total, (uint64_t)(clock_monotonic_us() - t0));
    atomic_fetch_add(&w->s->st_write_batches, 1);
    if (rc == 0) return;
    log_error("store: group commit failed: %s", err.detail);
    atomic_fetch_add(&w->s->st_commit_failures, 1);
    for (struct writer_req *r = first; r != end; r = r->next) {
        writer_fail_req(r, KF_E_STORAGE, "the batch holding this write could not be committed");
    }
    if (c->drv->in_transaction(c)) c->drv->rollback(c);
}

static void writer_run_batch(struct store_writer *w, struct writer_req *batch)
{
    struct store_conn *c = w->conn;
    struct writer_req *first = NULL; /* first request of the open transaction; NULL: none open */
    for (struct writer_req *r = batch; r; r = r->next) {
        if (!first) {
            struct kf_err err;
            int rc = store_run(c, "BEGIN IMMEDIATE", &err);
            if (rc) {
                log_error("store: writer cannot begin a transaction: %s", err.detail);
                for (struct writer_req *q = r; q; q = q->next) {
                    q->rc = rc;
                    q->err = err;
                }
                return;
            }
            first = r;
        }
        writer_run_one(w, r);
        if (!c->drv->in_transaction(c)) {
            /* SQLite rolled back the whole transaction under this write (invariant 5). */
            writer_fail_succeeded(first, r->next, "the database rolled back the batch holding this write");
            first = NULL;
        }
    }
    if (first) writer_commit(w, first, NULL);
}

/* --- telling the requests (writer thread) ------------------------------------------------- */

/* Delivers the notes of the batch's successful writes and frees the rest (invariant 8). */
static void writer_deliver_notes(struct store_writer *w, struct writer_req *batch)
{
    for (struct writer_req *r = batch; r; r = r->next) {
        if (!r->notes) continue;
        if (r->rc == 0) store_notes_deliver(w->s, &r->notes);
        else store_notes_free(&r->notes);
    }
}

static void writer_finish_batch(struct store_writer *w, struct writer_req *batch)
{
    struct writer_req *async_head = NULL, **async_tail = &async_head;
    struct writer_req *blocking = NULL;
    /* Split first: a blocking request's links die with its caller's stack once it is woken. */
    for (struct writer_req *r = batch, *next; r; r = next) {
        next = r->next;
        if (r->wake) {
            r->next = blocking;
            blocking = r;
        } else {
            *async_tail = r;
            async_tail = &r->next;
        }
    }
    *async_tail = NULL;
    if (blocking) {
        pthread_mutex_lock(&w->lock);
        for (struct writer_req *r = blocking, *next; r; r = next) {
            next = r->next;
            r->finished = true;
            pthread_cond_signal(r->wake);
        }
        pthread_mutex_unlock(&w->lock);
    }
    if (!async_head) return;
    struct writer_req *last = NULL;
    unsigned n = 0;
    for (struct writer_req *r = async_head; r; r = r->next) {
        r->done(r->done_arg, r->rc, &r->err);
        last = r;
        n++;
    }
    pthread_mutex_lock(&w->lock);
    last->next = w->spare;
    w->spare = async_head;
    w->n_spare += n;
    while (w->n_spare > WRITER_MAX_SPARE) {
        struct writer_req *r = w->spare;
        w->spare = r->next;
        w->n_spare--;
        free(r);
    }
    pthread_mutex_unlock(&w->lock);
}

/* Takes up to WRITER_MAX_BATCH requests off the queue (lock held). */
static struct writer_req *writer_take_batch(struct store_writer *w, unsigned *n_r)
{
    struct writer_req *batch = w->head, *last = w->head;
    unsigned n = 1;
    while (last->next && n < WRITER_MAX_BATCH) {
        last = last->next;
        n++;
    }
    w->head = last->next;
    if (!w->head) w->tail = NULL;
    last->next = NULL;
    w->depth -= n;
    atomic_store(&w->s->st_queue_depth, w->depth);
    *n_r = n;
    return batch;
}

static void *writer_main(void *arg)
{
    struct store_writer *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->head && !w->stopping) pthread_cond_wait(&w->cond, &w->lock);
        if (!w->head) break; /* stopping and drained */
        unsigned n;
        struct writer_req *batch = writer_take_batch(w, &n);
        pthread_mutex_unlock(&w->lock);
        store_stat_max(&w->s->st_batch_max, n);
        writer_run_batch(w, batch);
        writer_deliver_notes(w, batch);
        writer_finish_batch(w, batch);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* --- producers ------------------------------------------------------------------------------ */

/* Appends a request (lock held). */
static void writer_enqueue(struct store_writer *w, struct writer_req *r)
{
    r->next = NULL;
    if (w->tail) w->tail->next = r;
    else w->head = r;
    w->tail = r;
    w->depth++;
    atomic_store(&w->s->st_queue_depth, w->depth);
    pthread_cond_signal(&w->cond);
}

int writer_submit_async(struct store_writer *w, store_write_fn fn, void *arg, store_done_fn done, void *done_arg)
{
    if (!done) return KF_E_INVALID;
    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        pthread_mutex_unlock(&w->lock);
        return KF_E_UNAVAILABLE;
    }
    struct writer_req *r = w->spare;
    if (r) {
        w->spare = r->next;
        w->n_spare--;
    } else {
        /* Rare after warm-up: allocate outside the lock, then check again. */
        pthread_mutex_unlock(&w->lock);
        r = malloc(sizeof *r);
        if (!r) return KF_E_NOMEM;
        pthread_mutex_lock(&w->lock);
        if (w->stopping) {
            pthread_mutex_unlock(&w->lock);
            free(r);
            return KF_E_UNAVAILABLE;
        }
    }
    r->fn = fn;
    r->arg = arg;
    r->done = done;
    r->done_arg = done_arg;
    r->wake = NULL;
    r->finished = false;
    r->rc = 0;
    r->notes = NULL;
    writer_enqueue(w, r);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

int writer_submit_wait(struct store_writer *w, store_write_fn fn, void *arg, struct kf_err *err)
{
    if (pthread_equal(pthread_self(), w->thread)) {
        /* A done callback waiting for a batch only it could run would wait forever. */
        return kf_fail(err, KF_E_INVALID, NULL, "store_write called on the writer thread");
    }
    pthread_cond_t wake;
    pthread_cond_init(&wake, NULL);
    struct writer_req r = {.fn = fn, .arg = arg, .wake = &wake};
    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        pthread_mutex_unlock(&w->lock);
        pthread_cond_destroy(&wake);
        return kf_fail(err, KF_E_UNAVAILABLE, NULL, "the store is closing");
    }
    writer_enqueue(w, &r);
    while (!r.finished) pthread_cond_wait(&wake, &w->lock);
    pthread_mutex_unlock(&w->lock);
    pthread_cond_destroy(&wake);
    if (r.rc) *err = r.err;
    return r.rc;
}

/* --- life cycle ----------------------------------------------------------------------------- */

int writer_start(struct store *s, struct store_conn *conn, struct store_writer **w_r, struct kf_err *err)
{
    struct store_writer *w = calloc(1, sizeof *w);
    if (!w) {
        store_conn_close(&conn);
        return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    }
    w->s = s;
    w->conn = conn;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        store_conn_close(&w->conn);
        free(w);
        return kf_fail(err, KF_E_INTERNAL, NULL, "cannot start the writer thread");
    }
    *w_r = w;
    return 0;
}

void writer_stop(struct store_writer **wp)
{
    if (!wp || !*wp) return;
    struct store_writer *w = *wp;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    /* Cleared only now: until the queue is drained, late submitters must reach the writer and
     * hear KF_E_UNAVAILABLE rather than find no writer at all. */
    *wp = NULL;
    store_conn_close(&w->conn);
    while (w->spare) {
        struct writer_req *r = w->spare;
        w->spare = r->next;
        free(r);
    }
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
}
