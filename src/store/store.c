/* The engine-neutral half of store.h: URL dispatch to a driver, the connection pool, the
 * per-connection statement cache, bind-error bookkeeping and the write entry points (group commit
 * through writer.c where the driver has it, else an ordinary transaction with retries here). */
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "store/store_driver.h"
#include "store/store_internal.h"

/* Beyond this many cached statements a connection evicts an idle one before preparing. SQL is
 * written in code, so the number of distinct texts is small; the cap only guards against misuse. */
#define STORE_STMT_MAX 1024u

/* How long store_acquire waits for a connection when the pool is at STORE_POOL_MAX. */
#define STORE_ACQUIRE_WAIT_MS 5000

/* Write retries after a serialization failure or deadlock (engines without group commit). */
#define STORE_WRITE_RETRIES 3

static _Thread_local bool tl_in_write_fn;

bool store_in_write_fn(void)
{
    return tl_in_write_fn;
}

void store_set_in_write_fn(bool on)
{
    tl_in_write_fn = on;
}

/* --- opening and closing ------------------------------------------------------------------ */

/* Picks the driver for `url` and returns the target string it should be given. */
static int store_parse_url(const char *url, const struct store_driver **drv_r, const char **target_r,
                           struct kf_err *err)
{
    if (!url) return kf_fail(err, KF_E_CONFIG, "database", "no database URL");
    if (strncmp(url, "sqlite:", 7) == 0) {
        if (url[7] == '\0') return kf_fail(err, KF_E_CONFIG, "database", "sqlite: URL without a path");
        *drv_r = &store_driver_sqlite;
        *target_r = url + 7;
        return 0;
    }
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) {
        *drv_r = &store_driver_postgres;
        *target_r = url; /* libpq takes the URI as it is */
        return 0;
    }
    return kf_fail(err, KF_E_CONFIG, "database", "unknown database URL scheme (use sqlite: or postgres://)");
}

int store_conn_open(struct store *s, enum store_conn_role role, struct store_conn **conn_r, struct kf_err *err)
{
    struct store_conn *c = NULL;
    int rc = s->drv->conn_open(s->target, role, &c, err);
    if (rc) return rc;
    c->store = s;
    c->drv = s->drv;
    c->is_writer = role == STORE_ROLE_WRITE;
    atomic_fetch_add(&s->st_connections, 1);
    rc = s->drv->check_durability(c, err);
    if (rc) {
        store_conn_close(&c);
        return rc;
    }
    *conn_r = c;
    return 0;
}

static void store_stmt_destroy(struct store_stmt *st)
{
    free(st->sql);
    st->sql = NULL;
    st->conn->drv->destroy(st);
}

void store_conn_close(struct store_conn **cp)
{
    if (!cp || !*cp) return;
    struct store_conn *c = *cp;
    *cp = NULL;
    c->closing = true;
    for (unsigned b = 0; b < STORE_STMT_BUCKETS; b++) {
        struct store_stmt *st = c->buckets[b];
        while (st) {
            struct store_stmt *next = st->next;
            store_stmt_destroy(st);
            st = next;
        }
        c->buckets[b] = NULL;
    }
    struct store *s = c->store;
    c->drv->conn_close(c);
    if (s) atomic_fetch_sub(&s->st_connections, 1);
}

static void store_free_struct(struct store *s)
{
    pthread_mutex_destroy(&s->pool_lock);
    pthread_cond_destroy(&s->pool_cond);
    pthread_mutex_destroy(&s->listen_lock);
    free(s->target);
    free(s);
}

int store_open(const char *url, struct store **store_r, struct kf_err *err)
{
    const struct store_driver *drv = NULL;
    const char *target = NULL;
    int rc = store_parse_url(url, &drv, &target, err);
    if (rc) return rc;
    struct store *s = calloc(1, sizeof *s);
    if (!s) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    s->drv = drv;
    s->target = strdup(target);
    pthread_mutex_init(&s->pool_lock, NULL);
    pthread_cond_init(&s->pool_cond, NULL);
    pthread_mutex_init(&s->listen_lock, NULL);
    if (!s->target) {
        store_free_struct(s);
        return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    }
    if (drv->caps & STORE_CAP_GROUP_COMMIT) {
        /* The writer's connection first: it creates the file and switches it to WAL, which read
         * connections (query_only) may not do. */
        struct store_conn *wc = NULL;
        rc = store_conn_open(s, STORE_ROLE_WRITE, &wc, err);
        if (rc == 0) rc = writer_start(s, wc, &s->writer, err);
        if (rc) {
            store_free_struct(s);
            return rc;
        }
    }
    /* One pooled connection now, so that a bad URL or unsafe server settings fail here. */
    struct store_conn *c = NULL;
    rc = store_acquire(s, &c, err);
    if (rc) {
        store_close(&s);
        return rc;
    }
    store_release(&c);
    *store_r = s;
    return 0;
}

void store_close(struct store **sp)
{
    if (!sp || !*sp) return;
    struct store *s = *sp;
    *sp = NULL;
    writer_stop(&s->writer); /* first: its last batches still deliver to the listeners */
    store_listen_stop(s);
    pthread_mutex_lock(&s->pool_lock);
    unsigned idle = 0;
    while (s->free_list) {
        struct store_conn *c = s->free_list;
        s->free_list = c->next_free;
        store_conn_close(&c);
        idle++;
    }
    if (idle != s->n_conns) {
        log_error("store: closing with %u connection(s) still acquired", s->n_conns - idle);
    }
    pthread_mutex_unlock(&s->pool_lock);
    store_free_struct(s);
}

const char *store_engine(const struct store *s)
{
    return s->drv->name;
}

unsigned store_caps(const struct store *s)
{
    return s->drv->caps;
}

void store_get_stats(struct store *s, struct store_stats *out)
{
    out->write_batches = atomic_load(&s->st_write_batches);
    out->writes = atomic_load(&s->st_writes);
    out->write_failures = atomic_load(&s->st_write_failures);
    out->commit_failures = atomic_load(&s->st_commit_failures);
    out->commit_us_total = atomic_load(&s->st_commit_us_total);
    out->batch_max = atomic_load(&s->st_batch_max);
    out->queue_depth = atomic_load(&s->st_queue_depth);
    out->connections = atomic_load(&s->st_connections);
}

/* --- the pool ------------------------------------------------------------------------------ */

static void store_deadline_after_ms(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int store_acquire(struct store *s, struct store_conn **conn_r, struct kf_err *err)
{
    struct timespec deadline;
    bool have_deadline = false;
    pthread_mutex_lock(&s->pool_lock);
    for (;;) {
        if (s->free_list) {
            struct store_conn *c = s->free_list;
            s->free_list = c->next_free;
            c->next_free = NULL;
            pthread_mutex_unlock(&s->pool_lock);
            *conn_r = c;
            return 0;
        }
        if (s->n_conns < STORE_POOL_MAX) break;
        if (!have_deadline) {
            store_deadline_after_ms(&deadline, STORE_ACQUIRE_WAIT_MS);
            have_deadline = true;
        }
        if (pthread_cond_timedwait(&s->pool_cond, &s->pool_lock, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&s->pool_lock);
            return kf_fail(err, KF_E_BUSY, NULL, "every database connection is in use");
        }
    }
    /* Reserve the slot, then open outside the lock: connecting can take a while. */
    s->n_conns++;
    pthread_mutex_unlock(&s->pool_lock);
    struct store_conn *c = NULL;
    int rc = store_conn_open(s, STORE_ROLE_READ, &c, err);
    if (rc) {
        pthread_mutex_lock(&s->pool_lock);
        s->n_conns--;
        pthread_cond_signal(&s->pool_cond);
        pthread_mutex_unlock(&s->pool_lock);
        return rc;
    }
    *conn_r = c;
    return 0;
}

int store_acquire_scan(struct store *s, struct store_conn **conn_r, struct kf_err *err)
{
    struct store_conn *c;
    int rc = store_acquire(s, &c, err);
    if (rc) return rc;
    if (c->drv->set_scan) {
        if ((rc = c->drv->set_scan(c, true, err)) != 0) {
            store_release(&c);
            return rc;
        }
        c->scanning = true;
    }
    *conn_r = c;
    return 0;
}

void store_conn_reset_stmts(struct store_conn *c)
{
    if (c->n_in_use == 0) return;
    log_warn("store: %u statement(s) not finalized; resetting them", c->n_in_use);
    for (unsigned b = 0; b < STORE_STMT_BUCKETS; b++) {
        for (struct store_stmt *st = c->buckets[b]; st; st = st->next) {
            if (!st->in_use) continue;
            c->drv->reset(st);
            st->in_use = false;
            st->bind_rc = 0;
        }
    }
    c->n_in_use = 0;
}

void store_release(struct store_conn **cp)
{
    if (!cp || !*cp) return;
    struct store_conn *c = *cp;
    *cp = NULL;
    if (c->is_writer || c->in_write) {
        log_error("store: a write function released its own connection; ignored");
        return;
    }
    struct store *s = c->store;
    store_conn_reset_stmts(c);
    if (c->drv->in_transaction(c)) c->drv->rollback(c);
    bool scan_stuck = false;
    if (c->scanning) {
        struct kf_err e = {0};
        c->scanning = false;
        scan_stuck = c->drv->set_scan(c, false, &e) != 0; /* not pooled half-changed */
        if (scan_stuck) log_warn("store: %s", e.detail);
    }
    if (scan_stuck || c->drv->conn_broken(c)) {
        store_conn_close(&c);
        pthread_mutex_lock(&s->pool_lock);
        s->n_conns--;
    } else {
        pthread_mutex_lock(&s->pool_lock);
        c->next_free = s->free_list;
        s->free_list = c;
    }
    pthread_cond_signal(&s->pool_cond);
    pthread_mutex_unlock(&s->pool_lock);
}

/* --- statements ---------------------------------------------------------------------------- */

/* Eight bytes at a time (a multiply-xorshift per word): every store_prepare hashes its SQL, and the
 * byte-at-a-time FNV-1a over texts of a few hundred bytes was a tenth of an SLA computation. Only
 * bucket choice depends on it; a match is always confirmed by comparing the text. */
static uint64_t store_sql_hash(const char *s)
{
    size_t n = strlen(s);
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;
    for (; n >= 8; s += 8, n -= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
}

/* Drops one idle statement to keep the cache bounded. */
static void store_cache_evict_one(struct store_conn *c)
{
    for (unsigned b = 0; b < STORE_STMT_BUCKETS; b++) {
        for (struct store_stmt **pp = &c->buckets[b]; *pp; pp = &(*pp)->next) {
            struct store_stmt *st = *pp;
            if (st->in_use) continue;
            *pp = st->next;
            c->n_stmts--;
            store_stmt_destroy(st);
            return;
        }
    }
}

static struct store_stmt *store_cache_find(struct store_conn *c, const char *sql, uint64_t h)
{
    for (struct store_stmt *st = c->buckets[h & (STORE_STMT_BUCKETS - 1)]; st; st = st->next) {
        if (!st->in_use && st->hash == h && (st->sql == sql || strcmp(st->sql, sql) == 0)) return st;
    }
    return NULL;
}

int store_prepare(struct store_conn *c, const char *sql, struct store_stmt **stmt_r, struct kf_err *err)
{
    uint64_t h = store_sql_hash(sql);
    struct store_stmt *st = store_cache_find(c, sql, h);
    if (!st) {
        /* Not cached, or every cached copy is in use (nested use of the same SQL): a fresh one. */
        if (c->n_stmts >= STORE_STMT_MAX) store_cache_evict_one(c);
        int rc = c->drv->prepare(c, sql, &st, err);
        if (rc) return rc;
        st->conn = c;
        st->hash = h;
        st->sql = strdup(sql);
        if (!st->sql) {
            c->drv->destroy(st);
            return kf_fail(err, KF_E_NOMEM, NULL, NULL);
        }
        struct store_stmt **bucket = &c->buckets[h & (STORE_STMT_BUCKETS - 1)];
        st->next = *bucket;
        *bucket = st;
        c->n_stmts++;
    }
    st->in_use = true;
    st->bind_rc = 0;
    c->n_in_use++;
    *stmt_r = st;
    return 0;
}

static void store_note_bind(struct store_stmt *st, int idx, int rc)
{
    if (rc && !st->bind_rc) {
        st->bind_rc = rc;
        st->bind_idx = idx;
    }
}

void store_bind_int64(struct store_stmt *st, int idx, int64_t v)
{
    store_note_bind(st, idx, st->conn->drv->bind_int64(st, idx, v));
}

void store_bind_text(struct store_stmt *st, int idx, const char *s, size_t len)
{
    if (!s) {
        store_bind_null(st, idx);
        return;
    }
    if (len == (size_t)-1) len = strlen(s);
    store_note_bind(st, idx, st->conn->drv->bind_text(st, idx, s, len));
}

void store_bind_blob(struct store_stmt *st, int idx, const void *data, size_t len)
{
    store_note_bind(st, idx, st->conn->drv->bind_blob(st, idx, data, len));
}

void store_bind_null(struct store_stmt *st, int idx)
{
    store_note_bind(st, idx, st->conn->drv->bind_null(st, idx));
}

int store_step(struct store_stmt *st, struct kf_err *err)
{
    if (st->bind_rc) return kf_fail(err, st->bind_rc, NULL, "binding parameter $%d failed", st->bind_idx);
    return st->conn->drv->step(st, err);
}

int store_col_count(struct store_stmt *st)
{
    return st->conn->drv->col_count(st);
}

bool store_col_is_null(struct store_stmt *st, int col)
{
    return st->conn->drv->col_is_null(st, col);
}

int64_t store_col_int64(struct store_stmt *st, int col)
{
    return st->conn->drv->col_int64(st, col);
}

const char *store_col_text(struct store_stmt *st, int col, size_t *len_r)
{
    return st->conn->drv->col_text(st, col, len_r);
}

const void *store_col_blob(struct store_stmt *st, int col, size_t *len_r)
{
    return st->conn->drv->col_blob(st, col, len_r);
}

int64_t store_changes(struct store_stmt *st)
{
    return st->conn->drv->changes(st);
}

void store_finalize(struct store_stmt **stp)
{
    if (!stp || !*stp) return;
    struct store_stmt *st = *stp;
    *stp = NULL;
    if (!st->in_use) return;
    st->conn->drv->reset(st);
    st->in_use = false;
    st->bind_rc = 0;
    st->conn->n_in_use--;
}

int store_run(struct store_conn *c, const char *sql, struct kf_err *err)
{
    struct store_stmt *st;
    int rc = store_prepare(c, sql, &st, err);
    if (rc) return rc;
    rc = store_step(st, err);
    store_finalize(&st);
    return rc < 0 ? rc : 0;
}

/* --- transactions -------------------------------------------------------------------------- */

int store_exec(struct store_conn *c, const char *sql, struct kf_err *err)
{
    return c->drv->exec(c, sql, err);
}

int store_begin(struct store_conn *c, struct kf_err *err)
{
    if (c->in_write) return kf_fail(err, KF_E_INVALID, NULL, "a write function is already in a transaction");
    return c->drv->begin(c, err);
}

int store_conn_commit(struct store_conn *c, struct kf_err *err)
{
    int rc = c->drv->before_commit ? c->drv->before_commit(c, err) : 0;
    return rc ? rc : c->drv->commit(c, err);
}

int store_commit(struct store_conn *c, struct kf_err *err)
{
    if (c->in_write) return kf_fail(err, KF_E_INVALID, NULL, "a write function may not commit");
    return store_conn_commit(c, err);
}

void store_rollback(struct store_conn *c)
{
    if (c->in_write) {
        log_error("store: a write function tried to roll back its transaction; ignored");
        return;
    }
    c->drv->rollback(c);
}

int store_read_begin(struct store_conn *c, bool *began_r, struct kf_err *err)
{
    *began_r = false;
    if (c->in_write || c->is_writer || strcmp(c->drv->name, "sqlite") != 0 || c->drv->in_transaction(c)) return 0;
    int rc = c->drv->begin(c, err);
    if (rc == 0) *began_r = true;
    return rc;
}

void store_read_end(struct store_conn *c, bool began)
{
    if (!began) return;
    struct kf_err ignore;
    if (c->drv->commit(c, &ignore) != 0) c->drv->rollback(c); /* read only: nothing to lose */
}

/* --- writes -------------------------------------------------------------------------------- */

/* One write transaction on a pooled connection (engines without group commit). */
static int store_write_once(struct store *s, store_write_fn fn, void *arg, struct kf_err *err)
{
    struct store_conn *c;
    int rc = store_acquire(s, &c, err);
    if (rc) return rc;
    rc = c->drv->begin(c, err);
    if (rc) {
        store_release(&c);
        return rc;
    }
    kf_err_clear(err);
    c->in_write = true;
    store_set_in_write_fn(true);
    rc = fn(c, arg, err);
    store_set_in_write_fn(false);
    c->in_write = false;
    store_conn_reset_stmts(c);
    struct store_note *notes = c->notes; /* queued only by engines without LISTEN (notify.c) */
    c->notes = NULL;
    c->n_notes = 0;
    atomic_fetch_add(&s->st_writes, 1);
    atomic_fetch_add(&s->st_write_batches, 1);
    store_stat_max(&s->st_batch_max, 1);
    if (rc == 0) {
        int64_t t0 = clock_monotonic_us();
        rc = store_conn_commit(c, err);
        atomic_fetch_add(&s->st_commit_us_total, (uint64_t)(clock_monotonic_us() - t0));
        if (rc) atomic_fetch_add(&s->st_commit_failures, 1);
        if (rc && c->drv->in_transaction(c)) c->drv->rollback(c); /* before_commit failed: nothing half-done */
        else if (rc == 0) store_notes_deliver(s, &notes);
    } else {
        if (err->code == KF_OK) kf_fail(err, rc, NULL, NULL);
        atomic_fetch_add(&s->st_write_failures, 1);
        c->drv->rollback(c);
    }
    store_notes_free(&notes);
    store_release(&c);
    return rc;
}

/* Ordinary transactions with retries on serialization failures and deadlocks. */
static int store_write_direct(struct store *s, store_write_fn fn, void *arg, struct kf_err *err)
{
    for (int attempt = 0;; attempt++) {
        int rc = store_write_once(s, fn, arg, err);
        if (rc != KF_E_BUSY || attempt == STORE_WRITE_RETRIES) return rc;
        /* Short, growing pause so the transaction that won can finish. */
        struct timespec ts = {0, (long)(2 << attempt) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int store_write(struct store *s, store_write_fn fn, void *arg, struct kf_err *err)
{
    struct kf_err local;
    if (!err) err = &local;
    kf_err_clear(err);
    if (store_in_write_fn()) {
        return kf_fail(err, KF_E_INVALID, NULL, "store_write called from inside a write function");
    }
    if (s->writer) return writer_submit_wait(s->writer, fn, arg, err);
    return store_write_direct(s, fn, arg, err);
}

int store_write_async(struct store *s, store_write_fn fn, void *arg, store_done_fn done, void *done_arg)
{
    if (!s->writer) return KF_E_INVALID;
    return writer_submit_async(s->writer, fn, arg, done, done_arg);
}
