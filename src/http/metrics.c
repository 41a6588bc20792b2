/* Metrics: fixed-size atomic counters, so counting costs no allocation or lock on the hot path. */
#include "http/metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "http/router.h"
#include "store/store.h"

#define MAX_ROUTES 256
#define MAX_JOB_KINDS 64

static const int status_codes[] = {0, 200, 201, 204, 301, 302, 303, 304, 400, 401, 403, 404, 405,
                                   409, 413, 414, 415, 422, 429, 500, 503};
#define N_STATUS (sizeof status_codes / sizeof status_codes[0])
#define STATUS_OTHER N_STATUS

/* upper bounds in microseconds */
static const int64_t latency_bounds_us[] = {100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
                                            500000, 1000000, 2500000};
#define N_BUCKETS (sizeof latency_bounds_us / sizeof latency_bounds_us[0])

static atomic_uint_fast64_t requests[MAX_ROUTES + 1][N_STATUS + 1];
static atomic_uint_fast64_t latency_buckets[N_BUCKETS + 1];
static atomic_uint_fast64_t latency_sum_us;
static atomic_uint_fast64_t latency_count;

static struct {
    _Atomic(const char *) kind;
    atomic_uint_fast64_t ok, failed;
} jobs[MAX_JOB_KINDS];

static size_t status_slot(int status)
{
    for (size_t i = 0; i < N_STATUS; i++) {
        if (status_codes[i] == status) return i;
    }
    return STATUS_OTHER;
}

void metrics_observe_request(int route, int status, int64_t us)
{
    size_t r = (route < 0 || route >= MAX_ROUTES) ? MAX_ROUTES : (size_t)route;
    atomic_fetch_add_explicit(&requests[r][status_slot(status)], 1, memory_order_relaxed);
    size_t b = 0;
    while (b < N_BUCKETS && us > latency_bounds_us[b]) b++;
    atomic_fetch_add_explicit(&latency_buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&latency_sum_us, (uint64_t)(us > 0 ? us : 0), memory_order_relaxed);
    atomic_fetch_add_explicit(&latency_count, 1, memory_order_relaxed);
}

void metrics_observe_job(const char *kind, int ok)
{
    for (size_t i = 0; i < MAX_JOB_KINDS; i++) {
        const char *k = atomic_load(&jobs[i].kind);
        if (!k) {
            const char *expected = NULL;
            if (!atomic_compare_exchange_strong(&jobs[i].kind, &expected, kind)) k = expected;
            else k = kind;
        }
        if (k == kind || strcmp(k, kind) == 0) {
            atomic_fetch_add(ok ? &jobs[i].ok : &jobs[i].failed, 1);
            return;
        }
    }
}

static int render_requests(struct buf *out)
{
    int rc = buf_puts(out, "# HELP kefu_http_requests_total HTTP requests by route and status.\n"
                           "# TYPE kefu_http_requests_total counter\n");
    for (size_t r = 0; r <= MAX_ROUTES && rc == 0; r++) {
        if (r < MAX_ROUTES && r >= routes_count) continue;
        const char *method = r < routes_count ? routes[r].method : "";
        const char *pattern = r < routes_count ? routes[r].pattern : "unmatched";
        for (size_t s = 0; s <= N_STATUS && rc == 0; s++) {
            uint64_t n = atomic_load_explicit(&requests[r][s], memory_order_relaxed);
            if (!n) continue;
            char status[8];
            if (s < N_STATUS) snprintf(status, sizeof status, "%d", status_codes[s]);
            else snprintf(status, sizeof status, "other");
            rc = buf_printf(out, "kefu_http_requests_total{method=\"%s\",route=\"%s\",status=\"%s\"} %llu\n", method,
                            pattern, status, (unsigned long long)n);
        }
    }
    return rc;
}

static int render_latency(struct buf *out)
{
    int rc = buf_puts(out, "# HELP kefu_http_request_duration_seconds Time from the request line to the reply being queued.\n"
                           "# TYPE kefu_http_request_duration_seconds histogram\n");
    uint64_t cumulative = 0;
    for (size_t b = 0; b < N_BUCKETS && rc == 0; b++) {
        cumulative += atomic_load_explicit(&latency_buckets[b], memory_order_relaxed);
        rc = buf_printf(out, "kefu_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                        (double)latency_bounds_us[b] / 1e6, (unsigned long long)cumulative);
    }
    cumulative += atomic_load_explicit(&latency_buckets[N_BUCKETS], memory_order_relaxed);
    if (rc == 0)
        rc = buf_printf(out,
                        "kefu_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                        "kefu_http_request_duration_seconds_sum %.6f\n"
                        "kefu_http_request_duration_seconds_count %llu\n",
                        (unsigned long long)cumulative, (double)atomic_load(&latency_sum_us) / 1e6,
                        (unsigned long long)atomic_load(&latency_count));
    return rc;
}

static int render_store(struct buf *out, struct store *store)
{
    struct store_stats st;
    store_get_stats(store, &st);
    return buf_printf(out,
                      "# TYPE kefu_store_write_batches_total counter\nkefu_store_write_batches_total %llu\n"
                      "# TYPE kefu_store_writes_total counter\nkefu_store_writes_total %llu\n"
                      "# TYPE kefu_store_write_failures_total counter\nkefu_store_write_failures_total %llu\n"
                      "# TYPE kefu_store_commit_failures_total counter\nkefu_store_commit_failures_total %llu\n"
                      "# TYPE kefu_store_commit_seconds_total counter\nkefu_store_commit_seconds_total %.6f\n"
                      "# TYPE kefu_store_write_batch_max gauge\nkefu_store_write_batch_max %llu\n"
                      "# TYPE kefu_store_write_queue_depth gauge\nkefu_store_write_queue_depth %llu\n"
                      "# TYPE kefu_store_connections gauge\nkefu_store_connections %llu\n",
                      (unsigned long long)st.write_batches, (unsigned long long)st.writes,
                      (unsigned long long)st.write_failures, (unsigned long long)st.commit_failures,
                      (double)st.commit_us_total / 1e6, (unsigned long long)st.batch_max,
                      (unsigned long long)st.queue_depth, (unsigned long long)st.connections);
}

static int render_jobs(struct buf *out)
{
    int rc = buf_puts(out, "# HELP kefu_job_runs_total Scheduled job runs by kind and result.\n"
                           "# TYPE kefu_job_runs_total counter\n");
    for (size_t i = 0; i < MAX_JOB_KINDS && rc == 0; i++) {
        const char *k = atomic_load(&jobs[i].kind);
        if (!k) break;
        rc = buf_printf(out,
                        "kefu_job_runs_total{kind=\"%s\",result=\"ok\"} %llu\n"
                        "kefu_job_runs_total{kind=\"%s\",result=\"failed\"} %llu\n",
                        k, (unsigned long long)atomic_load(&jobs[i].ok), k,
                        (unsigned long long)atomic_load(&jobs[i].failed));
    }
    return rc;
}

int metrics_render(struct buf *out, struct store *store)
{
    int rc = render_requests(out);
    if (rc == 0) rc = render_latency(out);
    if (rc == 0) rc = render_store(out, store);
    if (rc == 0) rc = render_jobs(out);
    return rc;
}
