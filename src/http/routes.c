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

    {"GET", "/api/v1/orgs", 0, "org.read", api_org_list, "Client organisations, newest first (keyset)."},
    {"POST", "/api/v1/orgs", ROUTE_JSON_BODY, "org.create", api_org_create, "Create a client organisation."},
    {"GET", "/api/v1/orgs/{id}", 0, "org.read", api_org_get, "One organisation."},
    {"GET", "/api/v1/orgs/{id}/users", 0, "user.read", api_org_users,
     "Users of a client organisation ({id} = 0: the provider's staff), newest first (keyset)."},
    {"POST", "/api/v1/users", ROUTE_JSON_BODY, "user.create", api_user_create, "Create a user."},
    {"GET", "/api/v1/users/{id}", 0, "user.read", api_user_get, "One user (?client_id=, default the caller's own)."},
    {"POST", "/api/v1/users/{id}/disable", 0, "user.update", api_user_disable,
     "Disable a user: their sessions end and their API tokens are revoked."},
    {"GET", "/api/v1/customers", 0, "customer.read", api_customer_list,
     "Customers of a client (keyset), or a search by phone, email or name."},
    {"POST", "/api/v1/customers", ROUTE_JSON_BODY, "customer.create", api_customer_create, "Create a customer."},
    {"GET", "/api/v1/customers/{id}", 0, "customer.read", api_customer_get, "One customer."},
    {"GET", "/api/v1/customers/{id}/consents", 0, "consent.read", api_consent_list,
     "A customer's consent records, withdrawn ones included."},
    {"POST", "/api/v1/customers/{id}/consents", ROUTE_JSON_BODY, "consent.record", api_consent_give,
     "Record a customer's consent to a purpose."},
    {"POST", "/api/v1/customers/{id}/consents/withdraw", ROUTE_JSON_BODY, "consent.record", api_consent_withdraw,
     "Withdraw a customer's consent to a purpose."},

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
};

const size_t routes_count = sizeof routes / sizeof routes[0];
