/* Request changes published (request_events_pub.h): the payload format and the audience rule, kept
 * in one place so that the writers, the listener in `kefu serve` and the tests agree. */
#include "domain/request_events_pub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/policy.h"
#include "store/store.h"

static bool what_ok(const char *what)
{
    size_t n = what ? strlen(what) : 0;
    if (n == 0 || n > REQUEST_WHAT_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!((what[i] >= 'a' && what[i] <= 'z') || what[i] == '_')) return false;
    return true;
}

int request_changed(struct store_conn *c, int64_t client_id, int64_t request_id, const char *what,
                    struct kf_err *err)
{
    if (client_id <= 0 || request_id <= 0 || !what_ok(what))
        return kf_fail(err, KF_E_INVALID, NULL, "bad request change notification");
    char payload[80];
    snprintf(payload, sizeof payload, "%lld:%lld:%s", (long long)client_id, (long long)request_id, what);
    int rc = store_notify(c, REQUEST_CHANNEL, payload);
    if (rc) return kf_fail(err, rc, NULL, "cannot publish the request change");
    return 0;
}

/* Parses a positive decimal int64 ending at `stop`; advances *p past it. */
static bool parse_id(const char **p, char stop, int64_t *out)
{
    const char *s = *p;
    if (*s < '1' || *s > '9') return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end != stop || v <= 0) return false;
    *out = v;
    *p = end + 1;
    return true;
}

int request_change_parse(const char *payload, struct request_change_note *out)
{
    memset(out, 0, sizeof *out);
    if (!payload) return KF_E_INVALID;
    const char *p = payload;
    if (!parse_id(&p, ':', &out->client_id) || !parse_id(&p, ':', &out->request_id) || !what_ok(p))
        return KF_E_INVALID;
    memcpy(out->what, p, strlen(p) + 1);
    out->staff_only = strcmp(out->what, "note") == 0;
    return 0;
}

int64_t request_events_audience(const struct actor *a)
{
    if (!a || a->kind != ACTOR_USER) return REQUEST_AUDIENCE_NONE;
    /* provider staff: any client object (-1 stands for "a client", which selects the provider scope) */
    struct object_ref obj = {.client_id = a->client_id ? a->client_id : -1};
    if (policy_check(a, ACT_REQUEST_READ, &obj) != 0) return REQUEST_AUDIENCE_NONE;
    return a->client_id ? a->client_id : REQUEST_AUDIENCE_ALL;
}
