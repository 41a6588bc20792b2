/* DESIGN: server-sent events on libmicrohttpd without a thread per stream.
 * - A stream is an MHD callback response. Its content reader runs on an MHD worker thread: it
 *   copies out what is queued, or — when nothing is — suspends the connection and returns 0 (the
 *   pattern microhttpd.h prescribes; returning 0 without suspending would spin).
 * - Publishers (any thread, after their commit) append to the queues of the user's streams and
 *   resume the suspended ones. Queue and `suspended` change only under the stream's mutex, so a
 *   publish between "queue empty" and "suspend" cannot be lost: the reader suspends holding the
 *   lock, and the publisher, holding it next, sees `suspended` and resumes.
 * - A suspended connection cannot be closed by MHD, so the stream outlives every pointer the hub
 *   holds to it: the response's free callback unlinks it from the hub under the hub's lock.
 * - Lock order: hub, then stream. MHD's own locks are taken inside suspend/resume, after ours.
 * - A heartbeat thread queues a comment line on every stream now and then; a dead client then
 *   fails the write and MHD closes the connection. Closing the hub ends every stream. */
#include "http/events.h"

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"

struct event_stream {
    struct events_hub *hub;
    struct MHD_Connection *conn;
    int64_t user_id;
    int64_t audience;          /* request changes: -1 none, 0 every client, > 0 one client */
    pthread_mutex_t lock;
    struct buf queue;          /* SSE text not yet sent */
    size_t sent;               /* bytes of queue already handed to MHD */
    bool suspended;
    bool closed;               /* end the stream when the queue is sent */
    struct event_stream *next, *prev;
};

struct events_hub {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct event_stream *streams;
    int count;
    bool closing;
    bool stop_thread;
    int64_t heartbeat_ms;
    pthread_t thread;
    bool thread_started;
};

/* --- the stream ---------------------------------------------------------------------------------- */

/* Appends text to a stream and wakes it (stream lock held by the caller). */
static void stream_push_locked(struct event_stream *s, const char *text, size_t len)
{
    if (s->closed) return;
    if (s->queue.len - s->sent + len > EVENTS_QUEUE_MAX || buf_append(&s->queue, text, len) != 0) {
        s->closed = true; /* a client this far behind reconnects and reloads */
    }
    if (s->suspended) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    struct event_stream *s = cls;
    pthread_mutex_lock(&s->lock);
    size_t avail = s->queue.len - s->sent;
    if (avail > 0) {
        size_t n = avail < max ? avail : max;
        memcpy(out, s->queue.data + s->sent, n);
        s->sent += n;
        if (s->sent == s->queue.len) s->sent = 0, s->queue.len = 0; /* reuse the buffer */
        pthread_mutex_unlock(&s->lock);
        return (ssize_t)n;
    }
    if (s->closed) {
        pthread_mutex_unlock(&s->lock);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    s->suspended = true;
    MHD_suspend_connection(s->conn);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static void stream_free(void *cls)
{
    struct event_stream *s = cls;
    struct events_hub *h = s->hub;
    pthread_mutex_lock(&h->lock);
    if (s->prev) s->prev->next = s->next;
    else h->streams = s->next;
    if (s->next) s->next->prev = s->prev;
    h->count--;
    pthread_mutex_unlock(&h->lock);
    buf_free(&s->queue);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* A suspended connection is not watched, so a tab that closed is noticed only at the next heartbeat:
 * a person opening and closing pages quickly would pile up streams (and connections, which count
 * against the per-address limit). Keep each person's newest EVENTS_PER_USER_MAX - 1 streams and end
 * the older ones; a page whose stream ended reconnects by itself (EventSource retry). Hub lock held. */
static void hub_limit_user(struct events_hub *h, int64_t user_id)
{
    int seen = 0;
    for (struct event_stream *s = h->streams; s; s = s->next) { /* newest first */
        if (s->user_id != user_id || s->closed) continue;
        if (++seen < EVENTS_PER_USER_MAX) continue;
        pthread_mutex_lock(&s->lock);
        s->closed = true;
        if (s->suspended) s->suspended = false, MHD_resume_connection(s->conn);
        pthread_mutex_unlock(&s->lock);
    }
}

struct MHD_Response *events_stream_response(struct events_hub *h, struct MHD_Connection *conn, int64_t user_id,
                                            int64_t audience, const char *first)
{
    struct event_stream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->hub = h;
    s->conn = conn;
    s->user_id = user_id;
    s->audience = audience;
    pthread_mutex_init(&s->lock, NULL);
    buf_init(&s->queue, EVENTS_QUEUE_MAX + 4096);
    if (first) buf_append(&s->queue, first, strlen(first));
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s, stream_free);
    if (!resp) {
        buf_free(&s->queue);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return NULL;
    }
    pthread_mutex_lock(&h->lock);
    if (h->closing) s->closed = true; /* ends after `first` */
    hub_limit_user(h, user_id);
    s->next = h->streams;
    if (h->streams) h->streams->prev = s;
    h->streams = s;
    h->count++;
    pthread_mutex_unlock(&h->lock);
    return resp;
}

/* --- the hub ------------------------------------------------------------------------------------- */

void events_publish(void *hub, int64_t user_id, const char *event, const char *data)
{
    struct events_hub *h = hub;
    if (!h || !event || !data || strchr(event, '\n') || strchr(data, '\n')) return;
    char text[1024];
    int n = snprintf(text, sizeof text, "event: %s\ndata: %s\n\n", event, data);
    if (n < 0 || (size_t)n >= sizeof text) return;
    pthread_mutex_lock(&h->lock);
    for (struct event_stream *s = h->streams; s; s = s->next) {
        if (s->user_id != user_id) continue;
        pthread_mutex_lock(&s->lock);
        stream_push_locked(s, text, (size_t)n);
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&h->lock);
}

void events_publish_client(struct events_hub *h, int64_t client_id, bool staff_only, const char *event,
                           const char *data)
{
    if (!h || client_id < 0 || !event || !data || strchr(event, '\n') || strchr(data, '\n')) return;
    char text[1024];
    int n = snprintf(text, sizeof text, "event: %s\ndata: %s\n\n", event, data);
    if (n < 0 || (size_t)n >= sizeof text) return;
    pthread_mutex_lock(&h->lock);
    for (struct event_stream *s = h->streams; s; s = s->next) {
        bool hears = client_id == 0 ? s->audience >= 0 : s->audience == 0 || (s->audience == client_id && !staff_only);
        if (!hears) continue;
        pthread_mutex_lock(&s->lock);
        stream_push_locked(s, text, (size_t)n);
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&h->lock);
}

static void hub_each(struct events_hub *h, const char *text, bool close)
{
    for (struct event_stream *s = h->streams; s; s = s->next) {
        pthread_mutex_lock(&s->lock);
        if (text) stream_push_locked(s, text, strlen(text));
        if (close) {
            s->closed = true;
            if (s->suspended) s->suspended = false, MHD_resume_connection(s->conn);
        }
        pthread_mutex_unlock(&s->lock);
    }
}

static void *hub_heartbeat(void *arg)
{
    struct events_hub *h = arg;
    pthread_mutex_lock(&h->lock);
    while (!h->stop_thread) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (h->heartbeat_ms % 1000) * 1000000;
        ts.tv_sec += h->heartbeat_ms / 1000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        int rc = pthread_cond_timedwait(&h->wake, &h->lock, &ts);
        if (rc == ETIMEDOUT && !h->stop_thread) hub_each(h, ": ping\n\n", false);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

int events_hub_new(int64_t heartbeat_ms, struct events_hub **hub_r, struct kf_err *err)
{
    struct events_hub *h = calloc(1, sizeof *h);
    if (!h) return kf_fail(err, KF_E_NOMEM, NULL, NULL);
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->wake, NULL);
    h->heartbeat_ms = heartbeat_ms > 0 ? heartbeat_ms : 25000;
    if (pthread_create(&h->thread, NULL, hub_heartbeat, h) != 0) {
        pthread_cond_destroy(&h->wake);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return kf_fail(err, KF_E_INTERNAL, NULL, "cannot start the event heartbeat");
    }
    h->thread_started = true;
    *hub_r = h;
    return 0;
}

void events_hub_close_all(struct events_hub *h)
{
    if (!h) return;
    pthread_mutex_lock(&h->lock);
    h->closing = true;
    hub_each(h, NULL, true);
    pthread_mutex_unlock(&h->lock);
}

int events_stream_count(struct events_hub *h)
{
    if (!h) return 0;
    pthread_mutex_lock(&h->lock);
    int n = h->count;
    pthread_mutex_unlock(&h->lock);
    return n;
}

void events_hub_free(struct events_hub **hp)
{
    struct events_hub *h = *hp;
    if (!h) return;
    pthread_mutex_lock(&h->lock);
    h->stop_thread = true;
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->lock);
    if (h->thread_started) pthread_join(h->thread, NULL);
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
    free(h);
    *hp = NULL;
}
