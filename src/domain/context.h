/* What every domain call gets: the process environment (store, clock, settings, vault) and the
 * per-call context (arena, request id, the actor and where they came from). Domain code takes time
 * only from ctx->env->clock and decides access only from ctx->actor (policy.h). */
#ifndef KEFU_CONTEXT_H
#define KEFU_CONTEXT_H
#include <stdbool.h>
#include <stdint.h>

struct store;
struct kf_clock;
struct kf_config;
struct scheduler;
struct arena;
struct vault;

/* Process-wide, built once by `kefu serve` (or a test) and read-only afterwards. */
struct events_hub;

struct kf_env {
    struct store *store;
    struct kf_clock *clock;
    const struct kf_config *cfg;
    struct scheduler *sched;
    struct vault *vault;       /* personal-data keys; NULL until identity is initialised */
    bool test_mode;
    /* Tells live listeners (the HTTP event streams) that something of `user_id`'s changed: called
     * after the commit that changed it, `data` a JSON object text. NULL: nobody listens (CLI, tests). */
    void (*publish)(void *arg, int64_t user_id, const char *event, const char *data);
    void *publish_arg;
    struct events_hub *events; /* the HTTP layer's event streams (http/events.h); NULL outside `serve` */
};

/* Roles (CONTRACT.md: provider staff and client staff). A user holds a set of them. */
enum role {
    ROLE_ADMIN = 1u << 0,
    ROLE_ACCOUNT_MANAGER = 1u << 1,
    ROLE_AGENT = 1u << 2,
    ROLE_TECHNICIAN = 1u << 3,
    ROLE_TRAINER = 1u << 4,
    ROLE_FINANCE = 1u << 5,
    ROLE_SUPERVISOR = 1u << 6,
    ROLE_CLIENT_ADMIN = 1u << 7,
    ROLE_CLIENT_STAFF = 1u << 8,
    ROLE_CLIENT_SUPERVISOR = 1u << 9,
};
#define ROLES_PROVIDER (ROLE_ADMIN | ROLE_ACCOUNT_MANAGER | ROLE_AGENT | ROLE_TECHNICIAN | ROLE_TRAINER | \
                        ROLE_FINANCE | ROLE_SUPERVISOR)
#define ROLES_CLIENT (ROLE_CLIENT_ADMIN | ROLE_CLIENT_STAFF | ROLE_CLIENT_SUPERVISOR)

enum actor_kind {
    ACTOR_ANONYMOUS = 0,  /* no session, no token (public pages) */
    ACTOR_USER,           /* a logged-in person */
    ACTOR_TOKEN,          /* an API token; roles limited to the token's scope */
    ACTOR_SYSTEM,         /* kefu itself: jobs, the CLI */
};

/* Who is acting. client_id is 0 for provider staff (who reach clients only through the explicit
 * provider scope their roles grant) and the user's client for client staff. */
struct actor {
    enum actor_kind kind;
    int64_t user_id;      /* 0 for anonymous and system */
    int64_t org_id;
    int64_t client_id;
    unsigned roles;       /* enum role bits */
    int64_t token_id;     /* ACTOR_TOKEN */
    int64_t session_id;   /* ACTOR_USER */
};

/* One request or job run. */
struct kf_ctx {
    const struct kf_env *env;
    struct arena *arena;
    const char *request_id;
    const struct actor *actor;  /* never NULL once a request is resolved; jobs: a system actor */
    const char *source_addr;    /* client address, for the audit trail and throttling */
};

#endif
