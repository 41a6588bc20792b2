/* A chunked bump allocator. Large requests get a chunk of their own so one big body does not
 * waste the rest of a chunk. */
#include "core/arena.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16
#define ARENA_DEFAULT_CHUNK 4096

struct chunk {
    struct chunk *next;
    size_t size;
    size_t used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

struct arena {
    struct chunk *head;
    size_t chunk_size;
    size_t handed_out;
};

static struct chunk *chunk_new(size_t size)
{
    struct chunk *c = malloc(sizeof *c + size);
    if (!c) {
        fputs("kefu: out of memory in arena\n", stderr);
        abort();
    }
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

/* Each thread keeps the last freed single-chunk arena: a request then costs no malloc for its
 * first chunk (the HTTP threads create and free one arena per request). A thread-specific key
 * frees the spare when its thread ends. */
static _Thread_local struct arena *arena_spare;
static pthread_key_t arena_spare_key;
static pthread_once_t arena_spare_once = PTHREAD_ONCE_INIT;

static void arena_spare_destroy(void *p)
{
    struct arena *a = p;
    if (a == arena_spare) arena_spare = NULL;
    free(a->head);
    free(a);
}

static void arena_spare_key_make(void)
{
    pthread_key_create(&arena_spare_key, arena_spare_destroy);
}

struct arena *arena_new(size_t first_chunk)
{
    size_t size = first_chunk ? first_chunk : ARENA_DEFAULT_CHUNK;
    struct arena *a = arena_spare;
    if (a && a->head->size == size) {
        arena_spare = NULL;
        pthread_setspecific(arena_spare_key, NULL);
        a->head->used = 0;
        a->chunk_size = size;
        a->handed_out = 0;
        return a;
    }
    a = calloc(1, sizeof *a);
    if (!a) {
        fputs("kefu: out of memory in arena\n", stderr);
        abort();
    }
    a->chunk_size = size;
    a->head = chunk_new(size);
    return a;
}

void arena_free(struct arena **ap)
{
    if (!ap || !*ap) return;
    struct arena *a = *ap;
    *ap = NULL;
    if (!arena_spare && !a->head->next) {
        /* a single-chunk arena is kept for this thread's next request */
        pthread_once(&arena_spare_once, arena_spare_key_make);
        arena_spare = a;
        pthread_setspecific(arena_spare_key, a);
        return;
    }
    struct chunk *c = a->head;
    while (c) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
    free(a);
}

void *arena_alloc(struct arena *a, size_t n)
{
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < n) abort(); /* overflow */
    struct chunk *c = a->head;
    if (c->size - c->used < need) {
        if (need > a->chunk_size / 2) {
            /* a big allocation gets its own chunk behind the current one */
            struct chunk *big = chunk_new(need);
            big->next = c->next;
            c->next = big;
            big->used = need;
            a->handed_out += need;
            return big->data;
        }
        if (a->chunk_size < 65536) a->chunk_size *= 2;
        c = chunk_new(a->chunk_size);
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += need;
    a->handed_out += need;
    return p;
}

void *arena_zalloc(struct arena *a, size_t n)
{
    void *p = arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t len)
{
    char *p = arena_alloc(a, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) n = 0;
    char *p = arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

size_t arena_used(const struct arena *a)
{
    return a->handed_out;
}
