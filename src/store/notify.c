/* Notifications after commit (store_notify / store_listen): how one write tells listeners — in this
 * process, and with PostgreSQL in every process on the same database — that it changed something.
 *
 * DESIGN — invariants:
 *  1. Nothing is delivered for work that did not commit. PostgreSQL: pg_notify runs inside the write's
 *     transaction and the server discards it on rollback (also of a savepoint). SQLite: the note is
 *     queued on the writer's connection while the write function runs; writer.c moves it to the
 *     write's request when the write's savepoint is released, drops it when the savepoint is rolled
 *     back, and delivers only the notes of writes that are still successful after COMMIT returned.
 *  2. Each committed note is delivered once to each listener of its channel, in commit order.
 *  3. PostgreSQL listens on one dedicated connection per store, owned by one thread that alone
 *     touches it. The thread waits in poll() on that connection's socket and on a pipe: the pipe says
 *     "a channel was added" or "stop". A dropped connection is reopened with a growing pause
 *     (LISTEN_BACKOFF_MIN_MS .. LISTEN_BACKOFF_MAX_MS), and every channel is listened to again;
 *     then every listener is called once with payload NULL ("notes may have been lost: re-read"),
 *     since what was sent while the connection was down is gone.
 *  4. LISTEN takes an identifier, not a parameter, so it is the one statement not bound: the channel
 *     comes from kefu's code, is checked against [a-z_][a-z0-9_]* and quoted with PQescapeIdentifier.
 *  5. Listeners are called with listen_lock held, so store_listen_stop returning means no listener
 *     runs or will run. */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "store/store.h"
#include "store/store_driver.h"
#include "store/store_internal.h"

#define LISTEN_BACKOFF_MIN_MS 100
#define LISTEN_BACKOFF_MAX_MS 5000
#define LISTEN_ACK_WAIT_MS 5000 /* store_listen waits this long for the LISTEN to be in place */

struct store_listener {
    struct store_listener *next;
    char channel[STORE_CHANNEL_MAX + 1];
    store_listen_fn cb;
    void *arg;
};

struct store_pg_listen {
    struct store *s;
    pthread_t thread;
    int pipe_fd[2];            /* [1]: written to wake the thread; [0]: drained by it */
    pthread_mutex_t lock;      /* the fields below */
    pthread_cond_t acked;
    bool stop;
    unsigned want_gen;         /* raised by every store_listen */
    unsigned have_gen;         /* the generation whose channels are all listened to */
};

/* True for a channel name PostgreSQL takes as an unquoted identifier. */
static bool notify_channel_ok(const char *ch)
{
    if (!ch || !*ch) return false;
    size_t n = strlen(ch);
    if (n > STORE_CHANNEL_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = ch[i];
        bool ok = (c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return true;
}

/* --- sending ---------------------------------------------------------------------------------- */

int store_notify(struct store_conn *c, const char *channel, const char *payload)
{
    if (!c || !c->in_write || !notify_channel_ok(channel) || !payload) return KF_E_INVALID;
    size_t len = strlen(payload);
    if (len > STORE_PAYLOAD_MAX) return KF_E_INVALID;
    if (c->drv->caps & STORE_CAP_LISTEN) {
        struct kf_err err;
        struct store_stmt *st;
        int rc = store_prepare(c, "SELECT pg_notify($1, $2)", &st, &err);
        if (rc) return rc;
        store_bind_text(st, 1, channel, (size_t)-1);
        store_bind_text(st, 2, payload, len);
        rc = store_step(st, &err);
        store_finalize(&st);
        if (rc < 0) log_error("store: pg_notify failed: %s", err.detail);
        return rc < 0 ? rc : 0;
    }
    if (c->n_notes >= STORE_NOTES_PER_WRITE) return KF_E_LIMIT;
    struct store_note *n = malloc(sizeof *n + len + 1);
    if (!n) return KF_E_NOMEM;
    memcpy(n->channel, channel, strlen(channel) + 1);
    memcpy(n->payload, payload, len + 1);
    n->next = c->notes; /* newest first; store_notes_deliver reverses */
    c->notes = n;
    c->n_notes++;
    return 0;
}

void store_notes_free(struct store_note **notes)
{
    struct store_note *n = *notes;
    *notes = NULL;
    while (n) {
        struct store_note *next = n->next;
        free(n);
        n = next;
    }
}

/* Calls every listener of `channel` (listen_lock held). */
static void notify_dispatch_locked(struct store *s, const char *channel, const char *payload)
{
    for (struct store_listener *l = s->listeners; l; l = l->next) {
        if (strcmp(l->channel, channel) == 0) l->cb(l->arg, payload);
    }
}

void store_notes_deliver(struct store *s, struct store_note **notes)
{
    struct store_note *rev = NULL;
    for (struct store_note *n = *notes, *next; n; n = next) { /* back to the order they were sent */
        next = n->next;
        n->next = rev;
        rev = n;
    }
    *notes = NULL;
    pthread_mutex_lock(&s->listen_lock);
    for (struct store_note *n = rev; n; n = n->next) notify_dispatch_locked(s, n->channel, n->payload);
    pthread_mutex_unlock(&s->listen_lock);
    store_notes_free(&rev);
}

/* --- the PostgreSQL listening thread ------------------------------------------------------------ */

/* Waits up to `ms` for the pipe (or forever when ms < 0); drains it. True when asked to stop. */
static bool listen_wait_pipe(struct store_pg_listen *pl, int ms)
{
    struct pollfd p = {.fd = pl->pipe_fd[0], .events = POLLIN};
    if (poll(&p, 1, ms) > 0) {
        char junk[64];
        while (read(pl->pipe_fd[0], junk, sizeof junk) > 0) {
        }
    }
    pthread_mutex_lock(&pl->lock);
    bool stop = pl->stop;
    pthread_mutex_unlock(&pl->lock);
    return stop;
}

/* Server notices go to the log as warnings elsewhere; here they would only repeat "reconnecting". */
static void listen_notice_ignore(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static PGconn *listen_connect(const char *target)
{
    /* connect_timeout after the URL overrides one in it: a hanging connect would hold up shutdown */
    const char *keys[] = {"dbname", "connect_timeout", NULL};
    const char *vals[] = {target, "5", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (pg && PQstatus(pg) == CONNECTION_OK) {
        PQsetNoticeProcessor(pg, listen_notice_ignore, NULL);
        return pg;
    }
    log_warn("store: the notification listener cannot connect: %s", pg ? PQerrorMessage(pg) : "out of memory");
    PQfinish(pg);
    return NULL;
}

/* LISTENs on every registered channel; returns the generation now covered, or 0 on failure. */
static unsigned listen_all(struct store_pg_listen *pl, PGconn *pg)
{
    struct store *s = pl->s;
    pthread_mutex_lock(&pl->lock);
    unsigned gen = pl->want_gen;
    pthread_mutex_unlock(&pl->lock);
    bool ok = true;
    pthread_mutex_lock(&s->listen_lock);
    for (struct store_listener *l = s->listeners; l && ok; l = l->next) {
        char *ident = PQescapeIdentifier(pg, l->channel, strlen(l->channel));
        if (!ident) {
            ok = false;
            break;
        }
        char sql[STORE_CHANNEL_MAX * 2 + 16];
        snprintf(sql, sizeof sql, "LISTEN %s", ident); /* invariant 4: a checked identifier */
        PQfreemem(ident);
        PGresult *r = PQexec(pg, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) log_warn("store: LISTEN failed: %s", PQerrorMessage(pg));
        PQclear(r);
    }
    pthread_mutex_unlock(&s->listen_lock);
    return ok ? gen : 0;
}

/* Tells every listener that notes may have been lost (payload NULL; store.h). */
static void listen_resync(struct store_pg_listen *pl)
{
    pthread_mutex_lock(&pl->s->listen_lock);
    for (struct store_listener *l = pl->s->listeners; l; l = l->next) l->cb(l->arg, NULL);
    pthread_mutex_unlock(&pl->s->listen_lock);
}

/* Dispatches every notification libpq has read. */
static void listen_drain(struct store_pg_listen *pl, PGconn *pg)
{
    PGnotify *n;
    while ((n = PQnotifies(pg)) != NULL) {
        pthread_mutex_lock(&pl->s->listen_lock);
        notify_dispatch_locked(pl->s, n->relname, n->extra ? n->extra : "");
        pthread_mutex_unlock(&pl->s->listen_lock);
        PQfreemem(n);
    }
}

static void *listen_main(void *arg)
{
    struct store_pg_listen *pl = arg;
    PGconn *pg = NULL;
    unsigned listened = 0;
    int backoff = LISTEN_BACKOFF_MIN_MS;
    bool fresh = false, ever = false; /* a new connection; one that listened before it */
    for (;;) {
        pthread_mutex_lock(&pl->lock);
        bool stop = pl->stop;
        unsigned want = pl->want_gen;
        pthread_mutex_unlock(&pl->lock);
        if (stop) break;
        if (!pg) {
            pg = listen_connect(pl->s->target);
            if (!pg) {
                if (listen_wait_pipe(pl, backoff)) break;
                backoff = backoff * 2 > LISTEN_BACKOFF_MAX_MS ? LISTEN_BACKOFF_MAX_MS : backoff * 2;
                continue;
            }
            listened = 0;
            fresh = true;
        }
        if (listened != want) {
            unsigned got = listen_all(pl, pg);
            if (!got) {
                PQfinish(pg);
                pg = NULL;
                continue;
            }
            listened = got;
            backoff = LISTEN_BACKOFF_MIN_MS;
            pthread_mutex_lock(&pl->lock);
            pl->have_gen = got;
            pthread_cond_broadcast(&pl->acked);
            pthread_mutex_unlock(&pl->lock);
            if (fresh && ever) listen_resync(pl); /* invariant 3: what was sent meanwhile is gone */
            fresh = false;
            ever = true;
            listen_drain(pl, pg); /* LISTEN's reply may have carried some */
        }
        struct pollfd p[2] = {{.fd = PQsocket(pg), .events = POLLIN}, {.fd = pl->pipe_fd[0], .events = POLLIN}};
        int n = poll(p, 2, -1);
        if (n < 0 && errno != EINTR) {
            log_error("store: the notification listener cannot poll");
            if (listen_wait_pipe(pl, LISTEN_BACKOFF_MAX_MS)) break;
            continue;
        }
        if (p[1].revents) {
            if (listen_wait_pipe(pl, 0)) break;
        }
        if (p[0].revents) {
            if (!PQconsumeInput(pg) || PQstatus(pg) != CONNECTION_OK) {
                log_warn("store: the notification listener lost its connection; reconnecting");
                PQfinish(pg);
                pg = NULL;
                if (listen_wait_pipe(pl, backoff)) break;
                continue;
            }
            listen_drain(pl, pg);
        }
    }
    PQfinish(pg);
    return NULL;
}

/* Starts the listening thread (listen_lock held by the caller). */
static int listen_start_locked(struct store *s)
{
    struct store_pg_listen *pl = calloc(1, sizeof *pl);
    if (!pl) return KF_E_NOMEM;
    pl->s = s;
    if (pipe(pl->pipe_fd) != 0) {
        free(pl);
        return KF_E_INTERNAL;
    }
    for (int i = 0; i < 2; i++) {
        int fl = fcntl(pl->pipe_fd[i], F_GETFL);
        if (fl >= 0) fcntl(pl->pipe_fd[i], F_SETFL, fl | O_NONBLOCK);
        fcntl(pl->pipe_fd[i], F_SETFD, FD_CLOEXEC);
    }
    pthread_mutex_init(&pl->lock, NULL);
    pthread_cond_init(&pl->acked, NULL);
    if (pthread_create(&pl->thread, NULL, listen_main, pl) != 0) {
        close(pl->pipe_fd[0]);
        close(pl->pipe_fd[1]);
        pthread_mutex_destroy(&pl->lock);
        pthread_cond_destroy(&pl->acked);
        free(pl);
        return KF_E_INTERNAL;
    }
    s->pg_listen = pl;
    return 0;
}

static void listen_poke(struct store_pg_listen *pl)
{
    char one = 1;
    ssize_t w = write(pl->pipe_fd[1], &one, 1); /* a full pipe already says "wake up" */
    (void)w;
}

int store_listen(struct store *s, const char *channel, store_listen_fn cb, void *arg)
{
    if (!s || !cb || !notify_channel_ok(channel)) return KF_E_INVALID;
    struct store_listener *l = calloc(1, sizeof *l);
    if (!l) return KF_E_NOMEM;
    memcpy(l->channel, channel, strlen(channel) + 1);
    l->cb = cb;
    l->arg = arg;
    pthread_mutex_lock(&s->listen_lock);
    l->next = s->listeners;
    s->listeners = l;
    int rc = 0;
    if ((s->drv->caps & STORE_CAP_LISTEN) && !s->pg_listen) rc = listen_start_locked(s);
    struct store_pg_listen *pl = s->pg_listen;
    pthread_mutex_unlock(&s->listen_lock);
    if (rc || !pl) return rc; /* the listener stays registered: SQLite dispatches in-process */
    pthread_mutex_lock(&pl->lock);
    unsigned gen = ++pl->want_gen;
    pthread_mutex_unlock(&pl->lock);
    listen_poke(pl);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += LISTEN_ACK_WAIT_MS / 1000;
    pthread_mutex_lock(&pl->lock);
    int wrc = 0;
    while ((int)(pl->have_gen - gen) < 0 && wrc != ETIMEDOUT) wrc = pthread_cond_timedwait(&pl->acked, &pl->lock, &until);
    bool ok = (int)(pl->have_gen - gen) >= 0;
    pthread_mutex_unlock(&pl->lock);
    if (!ok) log_warn("store: not yet listening on %s; the listener keeps trying", channel);
    return 0;
}

void store_listen_stop(struct store *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->listen_lock);
    struct store_pg_listen *pl = s->pg_listen;
    s->pg_listen = NULL;
    pthread_mutex_unlock(&s->listen_lock);
    if (pl) {
        pthread_mutex_lock(&pl->lock);
        pl->stop = true;
        pthread_mutex_unlock(&pl->lock);
        listen_poke(pl);
        pthread_join(pl->thread, NULL);
        close(pl->pipe_fd[0]);
        close(pl->pipe_fd[1]);
        pthread_mutex_destroy(&pl->lock);
        pthread_cond_destroy(&pl->acked);
        free(pl);
    }
    pthread_mutex_lock(&s->listen_lock);
    struct store_listener *l = s->listeners;
    s->listeners = NULL;
    pthread_mutex_unlock(&s->listen_lock);
    while (l) {
        struct store_listener *next = l->next;
        free(l);
        l = next;
    }
}
