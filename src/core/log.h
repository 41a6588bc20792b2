/* Logging. Lines go to stderr (or a file) through one buffer that a flusher thread writes out, so
 * the request path never waits on a write(2). Never log secrets or personal data: log ids. */
#ifndef KEFU_LOG_H
#define KEFU_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Starts the flusher; lines logged before log_start are written directly. `path` NULL: stderr. */
int log_start(const char *path, enum log_level min_level);

/* Flushes everything and stops the flusher. */
void log_stop(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One access-log line (already formatted, without newline). */
void log_access_line(const char *line, int len);

/* Whether the access log is on (`--access-log off` turns it off for benchmarks of the bare path). */
extern int log_access_enabled;

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
