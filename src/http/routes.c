/* The route table. Add a route here, its handler in an api_*.c or page_*.c file, and its entry in
 * docs/openapi.yaml (tests/unit/test_openapi.c fails until both agree). Hot routes first. */
#include "http/handlers.h"
#include "http/router.h"

const struct route routes[] = {
    {"GET", "/healthz", ROUTE_NO_LOG, NULL, api_healthz, "Liveness: the process answers."},
    {"GET", "/readyz", ROUTE_NO_LOG, NULL, api_readyz, "Readiness: database reachable and schema current."},
    {"GET", "/metrics", ROUTE_NO_LOG, NULL, api_metrics, "Prometheus metrics."},
    {"GET", "/api/v1/version", 0, NULL, api_version, "The server's name and version."},
    {"POST", "/api/v1/auth/login", ROUTE_JSON_BODY, NULL, api_auth_login,
     "Log in with user name and password: a session cookie and its anti-forgery token."},
    {"POST", "/api/v1/auth/logout", 0, "session", api_auth_logout, "End this session."},
    {"GET", "/api/v1/auth/me", 0, "session", api_auth_me, "The logged-in user and the anti-forgery token."},
    {"POST", "/api/v1/auth/totp/begin", 0, "session", api_auth_totp_begin,
     "Start enrolling a second factor: an otpauth URI and its QR code."},
    {"POST", "/api/v1/auth/totp/confirm", ROUTE_JSON_BODY, "session", api_auth_totp_confirm,
     "Put the second factor in force with a code from the app."},
    {"POST", "/api/v1/auth/password", ROUTE_JSON_BODY, "session", api_auth_password,
     "Change one's own password: every session ends, this one is replaced by a fresh one."},
    {"GET", "/api/v1/auth/tokens", 0, "session", api_token_list_mine, "One's own API tokens (never their values)."},
    {"POST", "/api/v1/auth/tokens", ROUTE_JSON_BODY, "session", api_token_create_mine,
     "Make an API token scoped to some of one's roles; its value is shown once."},
    {"POST", "/api/v1/auth/tokens/{id}/revoke", 0, "session", api_token_revoke_mine, "Revoke one of one's own API tokens."},

    {"GET", "/api/v1/orgs", 0, "org.read", api_org_list, "Client organisations, newest first (keyset)."},
    {"POST", "/api/v1/orgs", ROUTE_JSON_BODY, "org.create", api_org_create, "Create a client organisation."},
    {"GET", "/api/v1/orgs/{id}", 0, "org.read", api_org_get, "One organisation."},
    {"PATCH", "/api/v1/orgs/{id}", ROUTE_JSON_BODY, "org.update", api_org_update,
     "Change a client organisation's fields (\"\" clears one; the name stays required)."},
    {"POST", "/api/v1/orgs/{id}/disable", 0, "org.update", api_org_disable,
     "Disable a client organisation: its users can no longer log in."},
    {"POST", "/api/v1/orgs/{id}/enable", 0, "org.update", api_org_enable, "Enable a disabled client organisation again."},
    {"GET", "/api/v1/orgs/{id}/users", 0, "user.read", api_org_users,
     "Users of a client organisation ({id} = 0: the provider's staff), newest first (keyset)."},
    {"POST", "/api/v1/users", ROUTE_JSON_BODY, "user.create", api_user_create, "Create a user."},
    {"GET", "/api/v1/users/{id}", 0, "user.read", api_user_get, "One user (?client_id=, default the caller's own)."},
    {"POST", "/api/v1/users/{id}/disable", 0, "user.update", api_user_disable,
     "Disable a user: their sessions end and their API tokens are revoked."},
    {"PUT", "/api/v1/users/{id}/roles", ROUTE_JSON_BODY, "user.update", api_user_set_roles,
     "Replace a user's roles (nobody adds a role to themselves)."},
    {"POST", "/api/v1/users/{id}/password", ROUTE_JSON_BODY, "user.update", api_user_reset_password,
     "Set a user's password (an administrator's reset): their sessions end."},
    {"GET", "/api/v1/teams", 0, "team.read", api_team_list, "The provider's teams."},
    {"POST", "/api/v1/teams", ROUTE_JSON_BODY, "team.manage", api_team_create, "Create a team."},
    {"GET", "/api/v1/teams/{id}/members", 0, "team.read", api_team_members, "A team's members (user ids)."},
    {"POST", "/api/v1/teams/{id}/members", ROUTE_JSON_BODY, "team.manage", api_team_add_member,
     "Add a provider user to a team."},
    {"DELETE", "/api/v1/teams/{id}/members/{user_id}", 0, "team.manage", api_team_remove_member,
     "Remove a member from a team."},
    {"GET", "/api/v1/customers", 0, "customer.read", api_customer_list,
     "Customers of a client (keyset), or a search by phone, email or name."},
    {"POST", "/api/v1/customers", ROUTE_JSON_BODY, "customer.create", api_customer_create, "Create a customer."},
    {"GET", "/api/v1/customers/{id}", 0, "customer.read", api_customer_get, "One customer."},
    {"PATCH", "/api/v1/customers/{id}", ROUTE_JSON_BODY, "customer.update", api_customer_update,
     "Change a customer's fields (\"\" clears one; the name stays required)."},
    {"DELETE", "/api/v1/customers/{id}", 0, "customer.delete", api_customer_delete,
     "Delete a customer: their personal data is erased, the record stays for what refers to it."},
    {"GET", "/api/v1/customers/{id}/consents", 0, "consent.read", api_consent_list,
     "A customer's consent records, withdrawn ones included."},
    {"POST", "/api/v1/customers/{id}/consents", ROUTE_JSON_BODY, "consent.record", api_consent_give,
     "Record a customer's consent to a purpose."},
    {"POST", "/api/v1/customers/{id}/consents/withdraw", ROUTE_JSON_BODY, "consent.record", api_consent_withdraw,
     "Withdraw a customer's consent to a purpose."},
    {"GET", "/api/v1/notifications", 0, "session", api_notification_list,
     "One's own notifications, newest first (keyset), with the unread count."},
    {"POST", "/api/v1/notifications/{id}/read", 0, "session", api_notification_read, "Mark one notification read."},
    {"POST", "/api/v1/notifications/read-all", 0, "session", api_notification_read_all, "Mark every notification read."},
    {"GET", "/api/v1/events", ROUTE_NO_LOG, "session", api_events,
     "Server-sent events: the unread count now and whenever it changes."},
    {"GET", "/api/v1/audit", 0, "audit.read", api_audit_list,
     "The audit trail of one tenant (or, for the provider, of all), filtered by object, actor and time (keyset)."},

    /* pages (HTML; docs/openapi.yaml tag pages) */
    {"GET", "/", ROUTE_PAGE, "session", page_home, "Page: home — what the person's roles may use."},
    {"GET", "/login", ROUTE_PAGE, NULL, page_login, "Page: the log-in form."},
    {"POST", "/login", ROUTE_PAGE | ROUTE_FORM_BODY, NULL, page_login_submit,
     "Page: log in (user name, password, one-time code); on to ?next=."},
    {"POST", "/logout", ROUTE_PAGE | ROUTE_FORM_BODY, "session", page_logout, "Page: log out."},
    {"GET", "/static/{name}", ROUTE_NO_LOG, NULL, page_static, "The style sheet, script and icons."},

    /* pages: account and notifications (page_account.c, page_notifications.c) */

    /* ---- */

    /* pages: organisations, users, teams and files (page_orgs.c, page_users.c, page_teams.c, page_files.c) */

    /* ---- */

    /* pages: customers and consent, the audit trail (page_customers.c, page_audit.c) */
    {"GET", "/customers", ROUTE_PAGE, "customer.read", page_customers,
     "Page: a client's customers (keyset), or a search by part of a name, a phone number or an e-mail."},
    {"GET", "/customers/new", ROUTE_PAGE, "customer.create", page_customer_new, "Page: the form for a new customer."},
    {"POST", "/customers", ROUTE_PAGE | ROUTE_FORM_BODY, "customer.create", page_customer_create,
     "Page: create a customer; on to their page."},
    {"GET", "/customers/{id}", ROUTE_PAGE, "customer.read", page_customer_show,
     "Page: one customer, the edit form and their consent records."},
    {"POST", "/customers/{id}", ROUTE_PAGE | ROUTE_FORM_BODY, "customer.update", page_customer_update,
     "Page: change a customer's fields (an empty field clears it; the name stays required)."},
    {"GET", "/customers/{id}/delete", ROUTE_PAGE, "customer.delete", page_customer_delete_confirm,
     "Page: confirm deleting a customer."},
    {"POST", "/customers/{id}/delete", ROUTE_PAGE | ROUTE_FORM_BODY, "customer.delete", page_customer_delete,
     "Page: delete a customer (their personal data is erased); back to the list."},
    {"POST", "/customers/{id}/consents", ROUTE_PAGE | ROUTE_FORM_BODY, "consent.record", page_consent_give,
     "Page: record a customer's consent to a purpose."},
    {"POST", "/customers/{id}/consents/withdraw", ROUTE_PAGE | ROUTE_FORM_BODY, "consent.record", page_consent_withdraw,
     "Page: withdraw a customer's consent to a purpose."},
    {"GET", "/audit", ROUTE_PAGE, "audit.read", page_audit,
     "Page: the audit trail, filtered by client, object, actor and dates (keyset)."},

    /* ---- */

    {"POST", "/api/v1/test/probe-writes", ROUTE_TEST_ONLY | ROUTE_JSON_BODY, NULL, api_test_probe_create,
     "Test mode: write one row durably through the writer."},
    {"GET", "/api/v1/test/probe-writes", ROUTE_TEST_ONLY, NULL, api_test_probe_list, "Test mode: list probe rows by tag."},
    {"GET", "/api/v1/test/probe-writes/{id}", ROUTE_TEST_ONLY, NULL, api_test_probe_get, "Test mode: read one probe row."},
    {"GET", "/api/v1/test/clock", ROUTE_TEST_ONLY, NULL, api_test_clock_get, "Test mode: the fake clock's now."},
    {"POST", "/api/v1/test/clock", ROUTE_TEST_ONLY | ROUTE_JSON_BODY, NULL, api_test_clock_move,
     "Test mode: move the fake clock, firing the jobs due in between."},
    {"POST", "/api/v1/test/jobs", ROUTE_TEST_ONLY | ROUTE_JSON_BODY, NULL, api_test_job_create,
     "Test mode: schedule a test.record job."},
    {"GET", "/api/v1/test/jobs/{id}", ROUTE_TEST_ONLY, NULL, api_test_job_get, "Test mode: a job and its runs."},
    {"POST", "/api/v1/test/notify", ROUTE_TEST_ONLY | ROUTE_JSON_BODY, NULL, api_test_notify,
     "Test mode: send a user a notification (message key, parameters, link)."},
};

const size_t routes_count = sizeof routes / sizeof routes[0];
