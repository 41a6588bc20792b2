/* A chunked bump allocator. Large requests get a chunk of their own so one big body does not
 * waste the rest of a chunk. */
#include "core/arena.h"

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

struct arena *arena_new(size_t first_chunk)
{
    struct arena *a = calloc(1, sizeof *a);
    if (!a) {
        fputs("kefu: out of memory in arena\n", stderr);
        abort();
    }
    a->chunk_size = first_chunk ? first_chunk : ARENA_DEFAULT_CHUNK;
    a->head = chunk_new(a->chunk_size);
    return a;
}

void arena_free(struct arena **ap)
{
    if (!ap || !*ap) return;
    struct chunk *c = (*ap)->head;
    while (c) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
    free(*ap);
    *ap = NULL;
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
