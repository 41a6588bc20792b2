/* DESIGN: log lines are appended under a mutex to a fixed buffer; a flusher thread writes it out
 * every 50 ms, or at once when half full. If the buffer is full (the disk is stuck), lines are
 * dropped and counted rather than blocking requests; the count is logged when writing resumes. */
#include "core/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"

#define LOG_BUF_SIZE (1 << 20)

int log_access_enabled = 1;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t log_cond = PTHREAD_COND_INITIALIZER;
static char log_buf[LOG_BUF_SIZE];
static size_t log_len;
static unsigned long log_dropped;
static int log_fd = 2;
static bool log_running;
static bool log_stopping;
static pthread_t log_thread;
static enum log_level log_min = LOG_INFO;

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) return;
        p += w;
        n -= (size_t)w;
    }
}

static void *flusher_main(void *unused)
{
    static char out[LOG_BUF_SIZE];
    pthread_mutex_lock(&log_lock);
    for (;;) {
        if (log_len == 0 && !log_stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 50 * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&log_cond, &log_lock, &ts);
        }
        size_t n = log_len;
        unsigned long dropped = log_dropped;
        memcpy(out, log_buf, n);
        log_len = 0;
        log_dropped = 0;
        bool stop = log_stopping;
        pthread_mutex_unlock(&log_lock);
        if (dropped) {
            char note[80];
            int k = snprintf(note, sizeof note, "log: %lu lines dropped (log output too slow)\n", dropped);
            write_all(log_fd, note, (size_t)k);
        }
        write_all(log_fd, out, n);
        pthread_mutex_lock(&log_lock);
        if (stop && log_len == 0) break;
    }
    pthread_mutex_unlock(&log_lock);
    return NULL;
}

int log_start(const char *path, enum log_level min_level)
{
    log_min = min_level;
    if (path && *path && strcmp(path, "-") != 0 && strcmp(path, "stderr") != 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (fd < 0) return -1;
        log_fd = fd;
    }
    log_stopping = false;
    if (pthread_create(&log_thread, NULL, flusher_main, NULL) != 0) return -1;
    log_running = true;
    return 0;
}

void log_stop(void)
{
    if (!log_running) return;
    pthread_mutex_lock(&log_lock);
    log_stopping = true;
    pthread_cond_signal(&log_cond);
    pthread_mutex_unlock(&log_lock);
    pthread_join(log_thread, NULL);
    log_running = false;
    if (log_fd != 2) close(log_fd);
    log_fd = 2;
}

static void log_append(const char *line, size_t n)
{
    if (!log_running) {
        write_all(log_fd, line, n);
        return;
    }
    pthread_mutex_lock(&log_lock);
    if (LOG_BUF_SIZE - log_len < n) {
        log_dropped++;
    } else {
        memcpy(log_buf + log_len, line, n);
        log_len += n;
        if (log_len > LOG_BUF_SIZE / 2) pthread_cond_signal(&log_cond);
    }
    pthread_mutex_unlock(&log_lock);
}

/* Writes "2026-11-24T07:16:43.252Z " into out (at least 32 bytes); returns its length. */
static int log_timestamp(char *out, size_t size)
{
    /* the access log asks once per request: format each second once per thread */
    static _Thread_local time_t cached_secs = -1;
    static _Thread_local char cached[64];
    int64_t ms = clock_real_ms();
    time_t secs = (time_t)(ms / 1000);
    if (secs != cached_secs) {
        struct tm tm;
        gmtime_r(&secs, &tm);
        snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached_secs = secs;
    }
    return snprintf(out, size, "%s.%03dZ ", cached, (int)(ms % 1000));
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level < log_min) return;
    static const char *names[] = {"debug", "info", "warn", "error"};
    char line[1024];
    int n = log_timestamp(line, sizeof line);
    n += snprintf(line + n, sizeof line - (size_t)n, "%s ", names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof line - 2) len = sizeof line - 2;
    line[len++] = '\n';
    log_append(line, len);
}

void log_access_line(const char *line, int len)
{
    if (!log_access_enabled || len <= 0) return;
    char tmp[2048];
    size_t n = (size_t)log_timestamp(tmp, sizeof tmp);
    size_t room = sizeof tmp - n - 1;
    size_t k = (size_t)len < room ? (size_t)len : room;
    memcpy(tmp + n, line, k);
    n += k;
    tmp[n++] = '\n';
    log_append(tmp, n);
}
