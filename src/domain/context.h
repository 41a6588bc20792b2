/* What every domain call gets: the process environment (store, clock, settings) and the per-call
 * context (arena, request id; the actor and scope arrive with identity). Domain code takes time
 * only from ctx->env->clock. */
#ifndef KEFU_CONTEXT_H
#define KEFU_CONTEXT_H
#include <stdbool.h>

struct store;
struct kf_clock;
struct kf_config;
struct scheduler;
struct arena;

/* Process-wide, built once by `kefu serve` (or a test) and read-only afterwards. */
struct kf_env {
    struct store *store;
    struct kf_clock *clock;
    const struct kf_config *cfg;
    struct scheduler *sched;
    bool test_mode;
};

/* One request or job run. */
struct kf_ctx {
    const struct kf_env *env;
    struct arena *arena;
    const char *request_id;
};

#endif
