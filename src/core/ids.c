/* Id generation: see ids.h. */
#include "core/ids.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sodium.h>

#include "core/err.h"

#define ID_EPOCH_MS 1577836800000LL /* 2020-01-01T00:00:00Z */
#define ID_RANDOM_BITS 20 /* below the milliseconds: ID_NODE_BITS of process, then a sequence */
#define ID_NODE_BITS 8
#define ID_SEQ_BITS (ID_RANDOM_BITS - ID_NODE_BITS)
#define ID_SEQ_START (1u << (ID_SEQ_BITS - 1)) /* a fresh millisecond starts in the lower half */

static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t id_last;
static int64_t id_node = -1; /* this process's node bits, drawn once */

/* Several kefu processes may share one PostgreSQL database and make ids in the same millisecond
 * (always, under test mode's frozen clock): each process keeps its own random node bits, so two
 * processes collide only if they drew the same node (1 in 256) and then the same sequence. */
int64_t id_new(int64_t now_ms)
{
    int64_t ms = now_ms - ID_EPOCH_MS;
    if (ms < 0) ms = 0;
    pthread_mutex_lock(&id_lock);
    if (id_node < 0) id_node = (int64_t)randombytes_uniform(1u << ID_NODE_BITS);
    int64_t node = id_node << ID_SEQ_BITS;
    int64_t id = (ms << ID_RANDOM_BITS) | node | (int64_t)randombytes_uniform(ID_SEQ_START);
    if (id <= id_last) {
        /* same millisecond (or a clock that stepped back): stay ordered, skip a small random gap */
        id = id_last + 1 + (int64_t)randombytes_uniform(16);
        if ((id & ~(((int64_t)1 << ID_SEQ_BITS) - 1) & (((int64_t)1 << ID_RANDOM_BITS) - 1)) != node) {
            /* the sequence ran past this millisecond's room: go on in the next one, same node */
            id = ((((id_last >> ID_RANDOM_BITS) + 1) << ID_RANDOM_BITS)) | node;
        }
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
