/* The one access-control decision (issue 3 "Access control", C5.2): a table of which roles grant
 * which action, in which scope. Routes, the CLI and jobs reach data only through domain functions,
 * and each of those calls policy_check first.
 *
 * DESIGN — invariants:
 *  - Scope before role. A client user's scope is their own client_id and nothing else: an object of
 *    any other tenant (another client, or the provider's own objects) is KF_E_NOT_FOUND, the same
 *    answer as an id that does not exist, so no byte — not even existence — crosses tenants.
 *  - Provider staff (actor client_id 0) reach clients only through the provider scope their roles
 *    grant: each grant below names its scope (client objects or the provider's own), so there is no
 *    blanket bypass. In scope but not granted is KF_E_FORBIDDEN.
 *  - Roles count only in their own kind of organisation: client role bits on a provider actor (or the
 *    reverse) grant nothing, whatever the database holds.
 *  - Anonymous actors may only log in; system actors (jobs, CLI) may do everything.
 *  - The domain function still scopes every query by client_id: this check decides the request,
 *    the query guarantees the answer. */
#include <string.h>
#include "domain/policy.h"

#include <stddef.h>

#include "core/err.h"

#define P_ALL ROLES_PROVIDER
#define P_ADM ROLE_ADMIN
#define P_AM ROLE_ACCOUNT_MANAGER
#define P_STAFF_READ (ROLE_ADMIN | ROLE_ACCOUNT_MANAGER | ROLE_AGENT | ROLE_TECHNICIAN | ROLE_TRAINER | ROLE_SUPERVISOR)
#define P_WORK (ROLE_ADMIN | ROLE_AGENT | ROLE_TECHNICIAN | ROLE_SUPERVISOR)
#define C_ALL ROLES_CLIENT
#define C_ADM ROLE_CLIENT_ADMIN
#define C_STAFF ROLE_CLIENT_STAFF

struct grant {
    const char *name;
    unsigned provider_on_client;   /* provider roles, object of a client (the provider scope) */
    unsigned provider_on_provider; /* provider roles, object of the provider itself */
    unsigned client_on_own;        /* client roles, object of the actor's own client */
    int owner_only;                /* granted to the object's owner, whatever the roles */
};

static const struct grant grants[ACTION__COUNT] = {
    [ACT_LOGIN] = {"session.login", 0, 0, 0, 0},
    [ACT_ORG_READ] = {"org.read", P_ADM | P_AM | ROLE_FINANCE, P_ALL, C_ALL, 0},
    [ACT_ORG_CREATE] = {"org.create", P_ADM | P_AM, P_ADM | P_AM, 0, 0},
    [ACT_ORG_UPDATE] = {"org.update", P_ADM | P_AM, P_ADM, 0, 0},
    [ACT_USER_READ] = {"user.read", P_ADM | P_AM, P_ADM | ROLE_SUPERVISOR, C_ADM | ROLE_CLIENT_SUPERVISOR, 0},
    [ACT_USER_CREATE] = {"user.create", P_ADM | P_AM, P_ADM, C_ADM, 0},
    [ACT_USER_UPDATE] = {"user.update", P_ADM | P_AM, P_ADM, C_ADM, 0},
    [ACT_USER_PASSWORD] = {"user.password", 0, 0, 0, 1},
    [ACT_TEAM_READ] = {"team.read", 0, P_ALL, 0, 0},
    [ACT_TEAM_MANAGE] = {"team.manage", 0, P_ADM | ROLE_SUPERVISOR, 0, 0},
    [ACT_CUSTOMER_READ] = {"customer.read", P_STAFF_READ, 0, C_ALL, 0},
    [ACT_CUSTOMER_CREATE] = {"customer.create", P_ADM | P_AM, 0, C_ADM | C_STAFF, 0},
    [ACT_CUSTOMER_UPDATE] = {"customer.update", P_ADM | P_AM, 0, C_ADM, 0},
    [ACT_CUSTOMER_DELETE] = {"customer.delete", P_ADM | P_AM, 0, C_ADM, 0},
    [ACT_CONSENT_READ] = {"consent.read", P_STAFF_READ, 0, C_ALL, 0},
    /* agents take the calls in which customers give or withdraw consent (C7.2.1) */
    [ACT_CONSENT_RECORD] = {"consent.record", P_ADM | P_AM | ROLE_AGENT, 0, C_ADM | C_STAFF, 0},
    /* the trail names people and what they did: administrators and the supervisors of each side */
    [ACT_AUDIT_READ] = {"audit.read", P_ADM | ROLE_SUPERVISOR, P_ADM | ROLE_SUPERVISOR, C_ADM | ROLE_CLIENT_SUPERVISOR, 0},
    [ACT_TOKEN_MANAGE] = {"token.manage", 0, 0, 0, 1},
    [ACT_NOTIFICATION_READ] = {"notification.read", 0, 0, 0, 1},
    /* files belong to requests, agreements, receipts and evidence, which every provider role works on;
     * the capability owning the record decides further (file.h) */
    [ACT_FILE_READ] = {"file.read", P_ALL, P_ALL, C_ALL, 0},
    [ACT_USER_PREFERENCES] = {"user.preferences", 0, 0, 0, 1},
    [ACT_FILE_UPLOAD] = {"file.upload", P_ALL, P_ADM | P_AM, C_ADM | C_STAFF, 0},
    /* the agreement governs every request: every provider role and the client's people read it */
    [ACT_AGREEMENT_READ] = {"agreement.read", P_ALL, P_ALL, C_ALL, 0},
    [ACT_AGREEMENT_MANAGE] = {"agreement.manage", P_ADM | P_AM, 0, 0, 0},
    [ACT_AGREEMENT_SIGN_CLIENT] = {"agreement.sign_client", 0, 0, C_ADM, 0},
    [ACT_AGREEMENT_DISSOLVE] = {"agreement.dissolve", P_ADM | P_AM, 0, C_ADM, 0},
    [ACT_SERVICE_KIND_MANAGE] = {"service_kind.manage", 0, P_ADM, 0, 0},
    /* calendars are the provider's: every provider role reads them (SLA clocks run on them); client
     * users will read their agreements' calendars through the agreement, not this action */
    [ACT_CALENDAR_READ] = {"calendar.read", 0, P_ALL, 0, 0},
    [ACT_CALENDAR_MANAGE] = {"calendar.manage", 0, P_ADM, 0, 0},
    /* formal notices are the contract's business: the console roles that handle agreements, money and
     * quality read them; agents, technicians and trainers work requests, not correspondence. Every
     * person of the client reads their client's notices (DESIGN.md: client staff read notices). */
    [ACT_NOTICE_READ] = {"notice.read", P_ADM | P_AM | ROLE_FINANCE | ROLE_SUPERVISOR, 0, C_ALL, 0},
    [ACT_NOTICE_SEND] = {"notice.send", P_ADM | P_AM, 0, C_ADM, 0},
    [ACT_NOTICE_ACKNOWLEDGE] = {"notice.acknowledge", P_ADM | P_AM, 0, C_ADM, 0},
    [ACT_ANNOUNCEMENT_SEND] = {"announcement.send", P_ADM | P_AM, 0, 0, 0},
    /* requests (issue 6): the people who work them act across clients in the provider scope; finance
     * bills from time entries later, not from conversations. A client's people raise, read and reply
     * to their own client's requests; internal notes are the provider's alone (C5.2) */
    [ACT_REQUEST_READ] = {"request.read", P_STAFF_READ, 0, C_ALL, 0},
    [ACT_REQUEST_CREATE] = {"request.create", P_WORK, 0, C_ALL, 0},
    [ACT_REQUEST_UPDATE] = {"request.update", P_WORK, 0, 0, 0},
    [ACT_REQUEST_ASSIGN] = {"request.assign", P_ADM | ROLE_SUPERVISOR | ROLE_AGENT, 0, 0, 0},
    [ACT_REQUEST_REPLY] = {"request.reply", P_WORK, 0, C_ALL, 0},
    [ACT_REQUEST_NOTE] = {"request.note", P_WORK, 0, 0, 0},
    [ACT_REQUEST_LOG] = {"request.log", P_WORK, 0, 0, 0},
    /* C5.1.2: the client's people decide on a resolution, never the provider who resolved it */
    [ACT_REQUEST_ACCEPT] = {"request.accept", 0, 0, C_ADM | C_STAFF, 0},
    [ACT_REQUEST_ACCEPT_CUSTOMER] = {"request.accept_customer", 0, 0, 0, 0},
    [ACT_CANNED_READ] = {"canned.read", 0, P_WORK, 0, 0},
    [ACT_CANNED_MANAGE] = {"canned.manage", 0, P_WORK, 0, 0},
    [ACT_REQUEST_INTAKE] = {"request.intake", P_ADM, 0, C_ADM, 0},
    /* the queue is provider staff's: the views are provider objects, like teams and canned replies */
    [ACT_REQUEST_VIEW_READ] = {"request_view.read", 0, P_STAFF_READ, 0, 0},
    [ACT_REQUEST_VIEW_MANAGE] = {"request_view.manage", 0, P_STAFF_READ, 0, 0},
};

const char *policy_action_name(enum action act)
{
    if ((int)act < 0 || act >= ACTION__COUNT) return "unknown";
    return grants[act].name;
}

/* The role bits this actor's organisation kind lets count. */
static unsigned policy_effective_roles(const struct actor *a)
{
    return a->roles & (a->client_id == 0 ? (unsigned)ROLES_PROVIDER : (unsigned)ROLES_CLIENT);
}

static unsigned policy_granting_roles(const struct grant *g, const struct actor *a, int64_t obj_client)
{
    if (a->client_id != 0) return g->client_on_own;
    return obj_client != 0 ? g->provider_on_client : g->provider_on_provider;
}

int policy_check(const struct actor *a, enum action act, const struct object_ref *obj)
{
    if ((int)act < 0 || act >= ACTION__COUNT) return KF_E_FORBIDDEN;
    if (act == ACT_LOGIN) return 0;
    if (!a || a->kind == ACTOR_ANONYMOUS) return KF_E_UNAUTHENTICATED;
    if (a->kind == ACTOR_SYSTEM) return 0;
    int64_t obj_client = obj ? obj->client_id : 0;
    /* scope: a client user sees only their own client */
    if (a->client_id != 0 && obj_client != a->client_id) return KF_E_NOT_FOUND;
    const struct grant *g = &grants[act];
    if (g->owner_only) return obj && a->user_id != 0 && obj->owner_id == a->user_id ? 0 : KF_E_FORBIDDEN;
    return (policy_effective_roles(a) & policy_granting_roles(g, a, obj_client)) ? 0 : KF_E_FORBIDDEN;
}

static const struct {
    unsigned role;
    const char *name;
} role_names[] = {
    {ROLE_ADMIN, "admin"},
    {ROLE_ACCOUNT_MANAGER, "account_manager"},
    {ROLE_AGENT, "agent"},
    {ROLE_TECHNICIAN, "technician"},
    {ROLE_TRAINER, "trainer"},
    {ROLE_FINANCE, "finance"},
    {ROLE_SUPERVISOR, "supervisor"},
    {ROLE_CLIENT_ADMIN, "client_admin"},
    {ROLE_CLIENT_STAFF, "client_staff"},
    {ROLE_CLIENT_SUPERVISOR, "client_supervisor"},
};

const char *role_name(unsigned role)
{
    for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++) {
        if (role_names[i].role == role) return role_names[i].name;
    }
    return NULL;
}

int role_parse_list(const char *list, unsigned *roles_r, struct kf_err *err)
{
    unsigned roles = 0;
    const char *p = list ? list : "";
    for (;;) {
        size_t len = strcspn(p, ",");
        unsigned found = 0;
        for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++) {
            if (strlen(role_names[i].name) == len && strncmp(role_names[i].name, p, len) == 0) found = role_names[i].role;
        }
        if (!found) return kf_fail(err, KF_E_INVALID, "roles", "unknown role %.*s", (int)(len < 40 ? len : 40), p);
        roles |= found;
        if (p[len] == '\0') break;
        p += len + 1;
    }
    *roles_r = roles;
    return 0;
}
