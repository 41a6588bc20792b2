/* Per-request memory (the h2o model): everything a request or a job run allocates comes from its
 * arena and is freed at once when it ends. Allocation failure aborts: a half-built request is
 * worse than a restart, and the limits on bodies and headers keep arenas small. */
#ifndef KEFU_ARENA_H
#define KEFU_ARENA_H
#include <stdarg.h>
#include <stddef.h>

struct arena;

/* Creates an arena whose first chunk holds `first_chunk` bytes (0: a default). */
struct arena *arena_new(size_t first_chunk);

/* Frees the arena and everything allocated from it; clears the caller's pointer. */
void arena_free(struct arena **a);

/* Returns `n` bytes aligned for any type; never NULL. */
void *arena_alloc(struct arena *a, size_t n);

/* Like arena_alloc, zero-filled. */
void *arena_zalloc(struct arena *a, size_t n);

/* Copies `len` bytes of `s` and a NUL. */
char *arena_strndup(struct arena *a, const char *s, size_t len);
char *arena_strdup(struct arena *a, const char *s);

/* printf into the arena. */
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Bytes handed out so far (for metrics and tests). */
size_t arena_used(const struct arena *a);

#endif
