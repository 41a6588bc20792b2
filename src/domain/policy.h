/* Access control: one function decides whether an actor may take an action on an object (issue 3,
 * C5.2). Every domain function calls policy_check before it touches data; routes name the actions
 * by policy_action_name. The rules are a table in policy.c; tests/unit/test_policy.c walks it all. */
#ifndef KEFU_POLICY_H
#define KEFU_POLICY_H
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"

/* Append-only in spirit: routes and tests refer to actions by their names. */
enum action {
    ACT_LOGIN = 0,            /* verify credentials: the one action open to anonymous actors */
    ACT_ORG_READ,
    ACT_ORG_CREATE,           /* the provider (system only) and client organisations */
    ACT_ORG_UPDATE,           /* edit, disable */
    ACT_USER_READ,
    ACT_USER_CREATE,
    ACT_USER_UPDATE,          /* disable, set roles, reset password */
    ACT_USER_PASSWORD,        /* change one's own password (obj->owner_id is the user) */
    ACT_TEAM_READ,
    ACT_TEAM_MANAGE,          /* create, add and remove members */
    ACT_CUSTOMER_READ,        /* get, list, find, search */
    ACT_CUSTOMER_CREATE,
    ACT_CUSTOMER_UPDATE,
    ACT_CUSTOMER_DELETE,
    ACT_CONSENT_READ,
    ACT_CONSENT_RECORD,       /* give and withdraw on a customer's behalf (C7.2.1) */
    ACT_AUDIT_READ,           /* read a tenant's audit trail (a client's chain, or the provider's) */
    ACT_TOKEN_MANAGE,         /* create, list and revoke one's own API tokens (obj->owner_id is the user) */
    ACT_NOTIFICATION_READ,    /* read and mark one's own notifications (obj->owner_id is the user) */
    ACT_FILE_READ,            /* a stored file's record and bytes (file.h) */
    ACT_FILE_UPLOAD,          /* store a file attached to a record (file.h) */
    ACT_USER_PREFERENCES,     /* one's own language and time zone (obj->owner_id is the user) */
    ACT_AGREEMENT_READ,       /* agreements, their services and the catalogue (issue 5) */
    ACT_AGREEMENT_MANAGE,     /* create and edit drafts, sign for the provider (party A) */
    ACT_AGREEMENT_SIGN_CLIENT, /* sign for the client (party B): its client_admin */
    ACT_AGREEMENT_DISSOLVE,   /* invoke or confirm a dissolution (C10.2.1), either party */
    ACT_SERVICE_KIND_MANAGE,  /* add kinds to the provider-wide service catalogue (C2.1.1) */
    ACT_CALENDAR_READ,        /* business calendars (C3.1.1): provider-wide objects, client_id 0 */
    ACT_CALENDAR_MANAGE,      /* create calendars, set their hours, import holidays */
    ACT_NOTICE_READ,          /* the register of formal notices of a client (C11.1.1) */
    ACT_NOTICE_SEND,          /* send a notice or a correction for one's side, record its delivery */
    ACT_NOTICE_ACKNOWLEDGE,   /* acknowledge a notice to one's side (the domain checks the side) */
    ACT_ANNOUNCEMENT_SEND,    /* service update announcements to clients (C8.2.1) */
    ACT_REQUEST_READ,         /* service requests and their public conversation (issue 6) */
    ACT_REQUEST_CREATE,       /* raise a request under the client's active agreement */
    ACT_REQUEST_UPDATE,       /* edit a request's fields, change its status (provider staff) */
    ACT_REQUEST_ASSIGN,       /* set a request's assignee and team */
    ACT_REQUEST_REPLY,        /* a public reply, seen by the client and the customer */
    ACT_REQUEST_NOTE,         /* internal notes: written and read by provider staff only */
    ACT_REQUEST_LOG,          /* log calls, remote sessions (C9.2.1) and time entries on a request */
    ACT_REQUEST_ACCEPT,       /* accept or reject a resolution for the client (C5.1.2; request_accept.h) */
    ACT_REQUEST_ACCEPT_CUSTOMER, /* the same for the request's customer: no role holds it, the tracking
                                  * link's handler acts as kefu after proving the link (system actor) */
    ACT_CANNED_READ,          /* a team's canned replies (provider objects; canned.h) */
    ACT_CANNED_MANAGE,        /* create, change, delete them (the domain checks team membership) */
    ACT_REQUEST_INTAKE,       /* make or rotate a client's public request form link (C3.2.2) */
    ACT_REQUEST_VIEW_READ,    /* the queue's saved views: one's own and the shared ones (provider objects) */
    ACT_REQUEST_VIEW_MANAGE,  /* save, change, delete views (the domain checks owner or admin) */
    ACTION__COUNT
};

/* What is acted on: the tenant that owns it (client_id; 0 = the provider's own objects, such as
 * provider users, teams, the provider organisation, or the act of creating a client) and, for
 * actions on one's own record, the user it belongs to. */
struct object_ref {
    int64_t client_id;
    int64_t owner_id;         /* ACT_USER_PASSWORD, ACT_TOKEN_MANAGE, ACT_NOTIFICATION_READ: the user; else 0 */
};

/* Decides (actor, action, object). Returns 0 when allowed;
 *   KF_E_UNAUTHENTICATED for a NULL or anonymous actor (except ACT_LOGIN),
 *   KF_E_NOT_FOUND when the object belongs to a tenant outside the actor's scope (a client user and
 *     anything not of their own client), so a route answers 404 and reveals not even existence,
 *   KF_E_FORBIDDEN when the object is in scope but no role of the actor grants the action.
 * System actors (jobs, the CLI) may do everything. Pure: no I/O, thread-safe. */
int policy_check(const struct actor *a, enum action act, const struct object_ref *obj);

/* The stable name of an action ("customer.read"), or "unknown". */
const char *policy_action_name(enum action act);

/* Parses a comma-separated list of role names ("agent,supervisor") into enum role bits.
 * KF_E_INVALID (field "roles") on an unknown or empty name. */
int role_parse_list(const char *list, unsigned *roles_r, struct kf_err *err);

/* The name of one role bit ("account_manager"), or NULL. */
const char *role_name(unsigned role);

#endif
