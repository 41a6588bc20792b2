/* store_notify / store_listen, once per engine (PostgreSQL when KEFU_TEST_PG_URL is set): a
 * notification is delivered after its write commits, exactly once, and never for a write that rolled
 * back; plus the request-change payload and the audience rule built on it (request_events_pub.h). */
#include "harness.h"

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "domain/context.h"
#include "domain/request_events_pub.h"
#include "store/store.h"

#define T_NOW_MS 1700000000000LL
#define T_MAX_SEEN 64

static int t_setup_sqlite(void **state)
{
    *state = (void *)"sqlite";
    return 0;
}

static int t_setup_postgres(void **state)
{
    const char *url = getenv("KEFU_TEST_PG_URL");
    *state = url && *url ? (void *)"postgres" : NULL;
    return 0;
}

/* What a listener heard. */
struct t_heard {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char seen[T_MAX_SEEN][64];
    int n;
};

static void t_listener(void *arg, const char *payload)
{
    struct t_heard *h = arg;
    pthread_mutex_lock(&h->lock);
    if (h->n < T_MAX_SEEN) snprintf(h->seen[h->n++], sizeof h->seen[0], "%s", payload ? payload : "(resync)");
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

/* Waits until `payload` was heard (PostgreSQL delivers on another thread); SQLite has delivered
 * before store_write returned, so there this returns at once. The wait is a safety net against a
 * hang, not a timing assertion: the test asserts on what was heard, not on how fast. */
static bool t_wait_for(struct t_heard *h, const char *payload)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    pthread_mutex_lock(&h->lock);
    bool found = false;
    for (;;) {
        for (int i = 0; i < h->n && !found; i++) found = strcmp(h->seen[i], payload) == 0;
        if (found || pthread_cond_timedwait(&h->cond, &h->lock, &until) != 0) break;
    }
    pthread_mutex_unlock(&h->lock);
    return found;
}

static int t_count(struct t_heard *h, const char *payload)
{
    pthread_mutex_lock(&h->lock);
    int k = 0;
    for (int i = 0; i < h->n; i++) k += strcmp(h->seen[i], payload) == 0;
    pthread_mutex_unlock(&h->lock);
    return k;
}

struct t_note {
    const char *channel, *payload;
    int fail_code; /* notify, then fail with this code (0: commit) */
};

static int t_note_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    const struct t_note *n = arg;
    int rc = store_notify(c, n->channel, n->payload);
    if (rc) return kf_fail(err, rc, NULL, "notify");
    /* a change of state next to the note, as in kefu's writes */
    if ((rc = store_exec(c, "UPDATE kefu_migrations SET name = name WHERE version = 1", err)) != 0) return rc;
    if (n->fail_code) return kf_fail(err, n->fail_code, "probe", "failing on purpose");
    return 0;
}

static struct store *t_open(void **state, struct t_heard *h)
{
    const char *engine = *state;
    if (!engine) skip();
    struct store *s = NULL;
    struct kf_err err;
    if (harness_store_open(engine, T_NOW_MS, &s, &err) != 0) fail_msg("cannot open the %s store", engine);
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    h->n = 0;
    assert_int_equal(store_listen(s, "kefu_test", t_listener, h), 0);
    return s;
}

static void t_close(struct store **s, struct t_heard *h)
{
    store_close(s);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
}

/* A committed write's notification arrives once; a rolled-back write's never does. The committed
 * marker is sent after the rolled-back one, and notifications arrive in commit order, so once the
 * marker is heard the rolled-back one would have been heard before it. */
static void test_notify_after_commit_only(void **state)
{
    struct t_heard h;
    struct store *s = t_open(state, &h);
    struct kf_err err;
    struct t_note bad = {"kefu_test", "rolled-back", KF_E_CONFLICT};
    assert_int_equal(store_write(s, t_note_fn, &bad, &err), KF_E_CONFLICT);
    struct t_note good = {"kefu_test", "committed", 0};
    assert_int_equal(store_write(s, t_note_fn, &good, &err), 0);
    assert_true(t_wait_for(&h, "committed"));
    assert_int_equal(t_count(&h, "committed"), 1);
    assert_int_equal(t_count(&h, "rolled-back"), 0);
    /* a second committed write is a second notification, heard once; the first is not repeated */
    struct t_note again = {"kefu_test", "committed-2", 0};
    assert_int_equal(store_write(s, t_note_fn, &again, &err), 0);
    assert_true(t_wait_for(&h, "committed-2"));
    assert_int_equal(t_count(&h, "committed"), 1);
    assert_int_equal(t_count(&h, "committed-2"), 1);
    /* another channel is not this listener's */
    struct t_note other = {"kefu_other", "elsewhere", 0};
    assert_int_equal(store_write(s, t_note_fn, &other, &err), 0);
    struct t_note last = {"kefu_test", "last", 0};
    assert_int_equal(store_write(s, t_note_fn, &last, &err), 0);
    assert_true(t_wait_for(&h, "last"));
    assert_int_equal(t_count(&h, "elsewhere"), 0);
    t_close(&s, &h);
}

struct t_done {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int left;
    int rc[2];
};

static void t_done_fn(void *arg, int rc, const struct kf_err *err)
{
    (void)err;
    struct t_done *d = arg;
    pthread_mutex_lock(&d->lock);
    d->rc[2 - d->left] = rc;
    d->left--;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

/* SQLite's group commit: two writes queued together usually share one batch; the failing one's
 * savepoint is rolled back and its note dropped while its batch-mate's note is delivered. */
static void test_notify_dropped_with_its_savepoint(void **state)
{
    struct t_heard h;
    struct store *s = t_open(state, &h);
    if (!(store_caps(s) & STORE_CAP_GROUP_COMMIT)) {
        t_close(&s, &h);
        skip();
    }
    struct t_done d = {.left = 2};
    pthread_mutex_init(&d.lock, NULL);
    pthread_cond_init(&d.cond, NULL);
    struct t_note bad = {"kefu_test", "savepoint-rolled-back", KF_E_INVALID};
    struct t_note good = {"kefu_test", "batch-mate", 0};
    assert_int_equal(store_write_async(s, t_note_fn, &bad, t_done_fn, &d), 0);
    assert_int_equal(store_write_async(s, t_note_fn, &good, t_done_fn, &d), 0);
    pthread_mutex_lock(&d.lock);
    while (d.left > 0) pthread_cond_wait(&d.cond, &d.lock);
    pthread_mutex_unlock(&d.lock);
    assert_int_equal(t_count(&h, "batch-mate"), 1);
    assert_int_equal(t_count(&h, "savepoint-rolled-back"), 0);
    pthread_mutex_destroy(&d.lock);
    pthread_cond_destroy(&d.cond);
    t_close(&s, &h);
}

static int t_outside_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    (void)arg;
    (void)err;
    /* bad channel names and oversized payloads are refused inside a write too */
    if (store_notify(c, "Bad-Channel", "x") != KF_E_INVALID) return KF_E_INTERNAL;
    static char big[STORE_PAYLOAD_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    if (store_notify(c, "kefu_test", big) != KF_E_INVALID) return KF_E_INTERNAL;
    return 0;
}

/* Outside a write there is no transaction to tie a notification to: refused. */
static void test_notify_refused_outside_a_write(void **state)
{
    struct t_heard h;
    struct store *s = t_open(state, &h);
    struct kf_err err;
    struct store_conn *c = NULL;
    assert_int_equal(store_acquire(s, &c, &err), 0);
    assert_int_equal(store_notify(c, "kefu_test", "read"), KF_E_INVALID);
    store_release(&c);
    assert_int_equal(store_write(s, t_outside_fn, NULL, &err), 0);
    assert_int_equal(store_listen(s, "no spaces", t_listener, &h), KF_E_INVALID);
    t_close(&s, &h);
}

/* PostgreSQL: when the listening connection is killed, the thread reconnects and listens again.
 * Notes committed while it is away are lost (store.h says so), so the test sends numbered notes
 * until one is heard instead of guessing when the reconnect is done; before that first one, every
 * listener has been told to re-read (payload NULL), exactly once. */
static void test_listener_reconnects(void **state)
{
    struct t_heard h;
    struct store *s = t_open(state, &h);
    if (!(store_caps(s) & STORE_CAP_LISTEN)) {
        t_close(&s, &h);
        skip();
    }
    struct kf_err err;
    struct store_conn *c = NULL;
    assert_int_equal(store_acquire(s, &c, &err), 0);
    struct store_stmt *st;
    assert_int_equal(store_prepare(c, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                      "WHERE query LIKE 'LISTEN %' AND datname = current_database() AND pid <> pg_backend_pid()", &st, &err), 0);
    assert_int_equal(store_step(st, &err), STORE_ROW);
    assert_true(store_col_int64(st, 0) >= 1);
    store_finalize(&st);
    store_release(&c);
    bool heard = false;
    for (int i = 0; i < 200 && !heard; i++) {
        char p[32];
        snprintf(p, sizeof p, "after-%d", i);
        struct t_note n = {"kefu_test", p, 0};
        assert_int_equal(store_write(s, t_note_fn, &n, &err), 0);
        struct timespec pause = {0, 50 * 1000000L};
        nanosleep(&pause, NULL);
        heard = t_count(&h, p) == 1;
    }
    assert_true(heard);
    assert_int_equal(t_count(&h, "(resync)"), 1);
    t_close(&s, &h);
}

/* request_changed writes "<client>:<id>:<what>", and request_change_parse reads exactly that. */
static int t_changed_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    (void)arg;
    int rc = request_changed(c, 7, 42, "status", err);
    if (rc) return rc;
    if (request_changed(c, 7, 42, "Status!", err) != KF_E_INVALID) return KF_E_INTERNAL;
    return request_changed(c, 7, 43, "note", err);
}

static void test_request_changed_payload(void **state)
{
    struct t_heard h;
    struct store *s = t_open(state, &h);
    assert_int_equal(store_listen(s, REQUEST_CHANNEL, t_listener, &h), 0);
    struct kf_err err;
    assert_int_equal(store_write(s, t_changed_fn, NULL, &err), 0);
    assert_true(t_wait_for(&h, "7:43:note"));
    assert_int_equal(t_count(&h, "7:42:status"), 1);
    t_close(&s, &h);
}

static void test_request_change_parse(void **state)
{
    (void)state;
    struct request_change_note n;
    assert_int_equal(request_change_parse("12:34:status", &n), 0);
    assert_int_equal(n.client_id, 12);
    assert_int_equal(n.request_id, 34);
    assert_string_equal(n.what, "status");
    assert_false(n.staff_only);
    assert_int_equal(request_change_parse("12:35:note", &n), 0);
    assert_true(n.staff_only);
    static const char *const bad[] = {"", "12", "12:34", "12:34:", "0:34:x", "12:-3:x", "12:34:X", "a:34:x",
                                      "12:34:status:more", "12:34:st atus", "99999999999999999999:1:x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(request_change_parse(bad[i], &n), KF_E_INVALID);
}

/* Who hears request changes (C5.2: nothing of one client reaches another's streams). */
static void test_request_events_audience_C5_2(void **state)
{
    (void)state;
    struct actor agent = {.kind = ACTOR_USER, .user_id = 1, .roles = ROLE_AGENT};
    struct actor finance = {.kind = ACTOR_USER, .user_id = 2, .roles = ROLE_FINANCE};
    struct actor client = {.kind = ACTOR_USER, .user_id = 3, .client_id = 9, .roles = ROLE_CLIENT_STAFF};
    struct actor anon = {.kind = ACTOR_ANONYMOUS};
    struct actor token = {.kind = ACTOR_TOKEN, .user_id = 1, .roles = ROLE_AGENT};
    assert_int_equal(request_events_audience(&agent), REQUEST_AUDIENCE_ALL);
    assert_int_equal(request_events_audience(&client), 9);
    assert_int_equal(request_events_audience(&finance), REQUEST_AUDIENCE_NONE);
    assert_int_equal(request_events_audience(&anon), REQUEST_AUDIENCE_NONE);
    assert_int_equal(request_events_audience(&token), REQUEST_AUDIENCE_NONE);
    assert_int_equal(request_events_audience(NULL), REQUEST_AUDIENCE_NONE);
}

#define T_BOTH(fn) {#fn "[sqlite]", fn, t_setup_sqlite, NULL, NULL}, {#fn "[postgres]", fn, t_setup_postgres, NULL, NULL}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T_BOTH(test_notify_after_commit_only),
        T_BOTH(test_notify_dropped_with_its_savepoint),
        T_BOTH(test_notify_refused_outside_a_write),
        T_BOTH(test_request_changed_payload),
        T_BOTH(test_listener_reconnects),
        cmocka_unit_test(test_request_change_parse),
        cmocka_unit_test(test_request_events_audience_C5_2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
