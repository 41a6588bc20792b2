/* Id generation: see ids.h. */
#include "core/ids.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sodium.h>

#include "core/err.h"

#define ID_EPOCH_MS 1577836800000LL /* 2020-01-01T00:00:00Z */
#define ID_RANDOM_BITS 20

static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t id_last;

int64_t id_new(int64_t now_ms)
{
    int64_t ms = now_ms - ID_EPOCH_MS;
    if (ms < 0) ms = 0;
    int64_t id = (ms << ID_RANDOM_BITS) | (int64_t)randombytes_uniform(1u << ID_RANDOM_BITS);
    pthread_mutex_lock(&id_lock);
    if (id <= id_last) {
        /* same millisecond (or a clock that stepped back): stay ordered, skip a random gap */
        id = id_last + 1 + (int64_t)randombytes_uniform(256);
    }
    id_last = id;
    pthread_mutex_unlock(&id_lock);
    return id;
}

int64_t id_time_ms(int64_t id)
{
    return (id >> ID_RANDOM_BITS) + ID_EPOCH_MS;
}

int id_parse(const char *s, int64_t *id_r)
{
    if (!s || *s < '1' || *s > '9') return KF_E_INVALID;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno || *end != '\0' || v <= 0) return KF_E_INVALID;
    *id_r = v;
    return 0;
}
