/* A growable byte buffer with a hard maximum: every growable buffer in kefu has one, so no input
 * can make the process allocate without bound. Always NUL-terminated for convenience. */
#ifndef KEFU_BUF_H
#define KEFU_BUF_H
#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;   /* NUL-terminated; NULL until the first append */
    size_t len;
    size_t cap;
    size_t max;   /* appends that would exceed this fail with KF_E_TOO_LARGE */
};

/* Initialises an empty buffer that may grow to `max` bytes. */
void buf_init(struct buf *b, size_t max);

/* Appends bytes; returns 0 or KF_E_TOO_LARGE / KF_E_NOMEM, leaving the buffer unchanged. */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Forgets the content, keeps the memory. */
void buf_reset(struct buf *b);

/* Releases the memory. */
void buf_free(struct buf *b);

/* Hands the data to the caller (who frees it with free()) and empties the buffer. */
char *buf_take(struct buf *b, size_t *len_r);

#endif
