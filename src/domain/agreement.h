/* Agreements, the governing object (issue 5; CONTRACT.md C1.1, C1.1.1, C1.3.1, C1.3.2, C2.1.1, C2.2.1,
 * C2.2.2, C10.1.1, C10.2.1, C10.3.2): the service catalogue, agreements with their parties, term,
 * services (personalised targets and fees), signatures, contract numbers, expiry, renewal reminders
 * and dissolution. Every function checks the policy first, scopes by client_id, writes through
 * store_write and audits in the same transaction. Results live in ctx->arena. docs/agreements.md. */
#ifndef KEFU_AGREEMENT_H
#define KEFU_AGREEMENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "domain/context.h"

struct store_conn;
struct store_stmt;
struct job_run;

#define AGREEMENT_PRIORITIES 4                     /* P1..P4 */
#define AGREEMENT_TERMS_MAX (64u * 1024u)          /* bytes of supplementary_terms */
#define AGREEMENT_SERVICES_MAX 32                  /* services in one agreement */
#define AGREEMENT_FEES_MAX 6                       /* fee items of one service (one per fee kind) */
#define AGREEMENT_TARGET_MAX (366LL * 24 * 60)     /* business minutes of one target */
#define AGREEMENT_PATTERN_MAX 64                   /* bytes of a contract-number pattern */
#define AGREEMENT_DEFAULT_PATTERN "KF-{yyyy}-{seq:4}"
#define AGREEMENT_DEFAULT_REMINDER_DAYS 30
#define AGREEMENT_DEFAULT_ACCEPTANCE_DAYS 7
#define AGREEMENT_LIST_MAX 200
#define AGREEMENT_KEY_MAX 64                       /* bytes of an idempotency key */

/* Fee kinds: "fixed_month", "fixed_quarter", "fixed_year", "per_hour", "per_visit", "per_training". */
struct agreement_fee {
    const char *kind;
    int64_t amount_fen;        /* >= 0 */
};

/* Targets per priority (index 0 = P1), in business minutes; 0 = not set (the catalogue's default). */
struct agreement_targets {
    int64_t response[AGREEMENT_PRIORITIES];
    int64_t resolution[AGREEMENT_PRIORITIES];
};

/* --- the catalogue (C2.1.1, C2.2.1) --------------------------------------------------------- */

struct service_kind {
    int64_t id;
    const char *code;
    const char *name_zh, *name_en;
    struct agreement_targets targets;   /* all set */
    struct agreement_fee *fees;
    size_t n_fees;
    bool builtin;
};

struct service_kind_input {
    const char *code;          /* [a-z][a-z0-9_]{0,31}, unique */
    const char *name_zh, *name_en;
    struct agreement_targets targets;   /* every target required, response <= resolution */
    const struct agreement_fee *fees;
    size_t n_fees;
};

/* Adds a kind to the catalogue (provider-wide). Needs ACT_SERVICE_KIND_MANAGE (admin). KF_E_INVALID
 * naming the field ("code", "name_zh", "name_en", "targets", "fees.kind", "fees.amount_fen");
 * KF_E_CONFLICT (field "code") for a code in use. Audited "service_kind.create" (provider chain). */
int agreement_service_kind_create(struct kf_ctx *ctx, const struct service_kind_input *in, int64_t *id_r,
                                  struct kf_err *err);

/* The whole catalogue, by id. Needs ACT_AGREEMENT_READ (any provider role, or a client user). */
int agreement_service_kinds(struct kf_ctx *ctx, struct service_kind **items_r, size_t *n_r, struct kf_err *err);

/* --- agreements (C1.1, C1.3.1, C1.3.2, C2.2.2) -------------------------------------------------- */

struct agreement_service_input {
    const char *kind;                   /* a catalogue code */
    struct agreement_targets targets;   /* 0 = the catalogue's default */
    const struct agreement_fee *fees;   /* NULL with n_fees 0: the catalogue's default fees, copied */
    size_t n_fees;
};

struct agreement_input {
    /* Parties. Empty legal names and addresses default to the organisations' own; contact names and
     * phones are personal data of employees (masked in the audit trail). */
    const char *provider_legal_name, *provider_address, *provider_contact_name, *provider_contact_phone;
    const char *client_legal_name, *client_address, *client_contact_name, *client_contact_phone;
    int term_years;                     /* 1..10 */
    int notice_days;                    /* notice for service changes, 0..365 */
    const char *acceptance_by;          /* "client" or "customer" */
    int acceptance_days;                /* 1..90; 0: AGREEMENT_DEFAULT_ACCEPTANCE_DAYS */
    int reminder_days;                  /* 1..365; 0: AGREEMENT_DEFAULT_REMINDER_DAYS */
    const char *calendar_zone;          /* IANA zone; NULL/"": the calendar's zone, else Asia/Shanghai */
    int64_t calendar_id;                /* a persisted calendar (calendar_store.h); 0: the default one */
    const char *supplementary_terms;    /* Markdown, at most AGREEMENT_TERMS_MAX bytes; may be NULL */
    const char *number_pattern;         /* NULL/"": AGREEMENT_DEFAULT_PATTERN */
    const struct agreement_service_input *services;   /* 1..AGREEMENT_SERVICES_MAX, distinct kinds */
    size_t n_services;
    const char *idempotency_key;        /* create only: NULL/"": none; else 1..AGREEMENT_KEY_MAX of [A-Za-z0-9_-] */
};

struct agreement_service {
    int64_t id;
    int64_t kind_id;
    const char *kind;                   /* code */
    struct agreement_targets targets;   /* effective: personalised, else the catalogue's */
    struct agreement_targets personal;  /* as stored: 0 where the catalogue's default applies */
    struct agreement_fee *fees;
    size_t n_fees;
};

struct agreement {
    int64_t id, client_id;
    const char *draft_ref;              /* DRAFT-<id> */
    const char *contract_number;        /* "" until active */
    const char *number_pattern;
    const char *provider_legal_name, *provider_address, *provider_contact_name, *provider_contact_phone;
    const char *client_legal_name, *client_address, *client_contact_name, *client_contact_phone;
    int term_years, notice_days, acceptance_days, reminder_days;
    const char *acceptance_by;
    const char *calendar_zone;
    int64_t calendar_id;                /* in force now (agreement_get; lists: as of the last applied change); 0: the default */
    const char *supplementary_terms;
    const char *status;                 /* draft, provider_signed, active, expired, dissolved */
    int64_t provider_signed_by, provider_signed_at, client_signed_by, client_signed_at;
    int64_t start_at, expires_at, reminder_sent_at, ended_at;   /* 0 when not yet */
    const char *dissolution_ground;     /* "" when none */
    int64_t dissolution_invoked_by, dissolution_invoked_at, dissolution_effective_at;
    int64_t dissolution_provider_by, dissolution_provider_at, dissolution_client_by, dissolution_client_at;
    const char *dissolution_evidence;   /* JSON array of file ids as strings, "" when none */
    int64_t created_by, created, updated;
    struct agreement_service *services; /* agreement_get only: the versions in force now */
    size_t n_services;
};

/* The terms in force at one instant (C8.1.1 term history): what SLA clocks and billing use. */
struct agreement_terms {
    int64_t agreement_id, client_id, at;
    int64_t calendar_id;                /* the calendar in force at `at`; CALENDAR_STORE_DEFAULT_ID for the default */
    const char *calendar_zone;          /* the agreement's zone (a service change does not move it) */
    int notice_days, acceptance_days;
    const char *acceptance_by;
    int64_t change_id;                  /* the last service change in force at `at`; 0: the terms as signed */
    struct agreement_service *services; /* the versions valid at `at`, effective targets and fees */
    size_t n_services;
};

/* Creates a draft for client `client_id`. Needs ACT_AGREEMENT_MANAGE (account_manager or admin, in
 * the provider scope). KF_E_INVALID naming the field: "term_years", "notice_days", "acceptance_by",
 * "acceptance_days", "reminder_days", "calendar_zone", "calendar_id" (no such persisted calendar),
 * "supplementary_terms", "number_pattern", "services", "services.kind" (unknown or repeated),
 * "services.targets", "services.fees.kind", "services.fees.amount_fen", a party field; KF_E_NOT_FOUND
 * (field "client_id") for no such client. Without calendar_zone the zone is the calendar's.
 * Audited "agreement.create". */
int agreement_create(struct kf_ctx *ctx, int64_t client_id, const struct agreement_input *in, int64_t *id_r,
                     struct kf_err *err);

/* As agreement_create, with duplicate submission: when in->idempotency_key names a draft created
 * earlier for the same client with that key, nothing is written and *id_r is that draft's id with
 * *existing_r true (the first answer is repeated, whatever else the input holds). The check runs
 * inside the write, backed by the unique index (client_id, idempotency_key); a key of another client
 * is independent. A malformed key is KF_E_INVALID field "idempotency_key". existing_r may be NULL. */
int agreement_create_once(struct kf_ctx *ctx, int64_t client_id, const struct agreement_input *in, int64_t *id_r,
                          bool *existing_r, struct kf_err *err);

/* Replaces a draft's terms and services. Only while "draft": otherwise KF_E_CONFLICT (field "status";
 * an active agreement changes only through a service change). Audited "agreement.update_draft". */
int agreement_update_draft(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id,
                           const struct agreement_input *in, struct kf_err *err);

/* Party A signs (account_manager or admin; ACT_AGREEMENT_MANAGE): draft → provider_signed.
 * KF_E_CONFLICT (field "status") in any other status, so signing twice is refused.
 * Audited "agreement.sign_provider". */
int agreement_sign_provider(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id, struct kf_err *err);

/* Party B signs (a client_admin of that client; ACT_AGREEMENT_SIGN_CLIENT): provider_signed → active,
 * start = now, expires = start + term_years in the agreement's zone, and the contract number drawn
 * from its pattern — all in the one write, so numbers are unique and gap-free per pattern and year.
 * Another client's agreement is KF_E_NOT_FOUND; any other status KF_E_CONFLICT (field "status").
 * Audited "agreement.sign_client" and "agreement.activate". */
int agreement_sign_client(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id, struct kf_err *err);

/* Dissolution grounds (C10.2.1). */
#define AGREEMENT_MATERIAL_BREACH "material_breach"
#define AGREEMENT_FORCE_MAJEURE "force_majeure"
#define AGREEMENT_MUTUAL_CONSENT "mutual_consent"

struct agreement_dissolution {
    const char *ground;                 /* required: one of the three above */
    int64_t effective_at;               /* 0: now; else >= now (a later instant: applied by the job) */
    const int64_t *evidence;            /* file ids attached to the agreement (file.h owner "agreement") */
    size_t n_evidence;                  /* at most 20 */
};

/* Dissolves an active agreement, invoked by party A (account_manager or admin) or party B
 * (client_admin) — ACT_AGREEMENT_DISSOLVE. material_breach and force_majeure take effect at
 * effective_at; mutual_consent needs both parties: the first call records one side's confirmation
 * (the agreement stays active), the other side's call makes it effective. KF_E_INVALID (field
 * "ground", "effective_at", "evidence"); KF_E_CONFLICT (field "status") when not active, (field
 * "ground") when a dissolution is already under way with another ground or the same side confirms
 * twice. *effective_r (may be NULL) tells whether it is now dissolved. Audited "agreement.dissolve"
 * (each call), "agreement.dissolved" when it takes effect. */
int agreement_dissolve(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id,
                       const struct agreement_dissolution *in, bool *effective_r, struct kf_err *err);

/* One agreement with its services (effective targets and fees). Reads work in every status (C10.3.2).
 * A client user reaches only their own client's (else KF_E_NOT_FOUND). Needs ACT_AGREEMENT_READ. */
int agreement_get(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id, struct agreement *out,
                  struct kf_err *err);

/* Agreements newest first, without services: of client `client_id` (0: every client, provider staff
 * only; a client user always lists only their own), optionally only of `status` (NULL: all), id <
 * after_id (0: from the newest), at most `limit` (1..AGREEMENT_LIST_MAX). *next_r: the next page's
 * after_id, 0 on the last. */
int agreement_list(struct kf_ctx *ctx, int64_t client_id, const char *status, int64_t after_id, int limit,
                   struct agreement **items_r, size_t *n_r, int64_t *next_r, struct kf_err *err);

/* What agreement_list_where lists (zero-initialised: every agreement the actor may read). */
struct agreement_list_filter {
    int64_t client_id;                  /* 0: every client (provider staff); a client user: their own, always */
    const char *status;                 /* NULL/"": any; else one of the five statuses */
    int expiring_days;                  /* 0: no bound; 1..AGREEMENT_EXPIRING_MAX: active and expiring after
                                           now and at most that many days from now (the clock's now) */
    int64_t after_id;                   /* 0: from the newest */
    int limit;                          /* 1..AGREEMENT_LIST_MAX */
};
#define AGREEMENT_EXPIRING_MAX 366

/* agreement_list with the expiry filter of the pages ("expiring within 30/60/90 days"), newest first.
 * KF_E_INVALID field "status" (unknown) or "expiring_days" (out of range). Needs ACT_AGREEMENT_READ. */
int agreement_list_where(struct kf_ctx *ctx, const struct agreement_list_filter *f, struct agreement **items_r,
                         size_t *n_r, int64_t *next_r, struct kf_err *err);

/* Records the disclosure of agreement `agreement_id` of client `client_id` by an export (C10.3.2, C5.2):
 * an audit record "agreement.export" on the client's chain naming the agreement and `n_files` file ids
 * handed out (ids only). Works in every status. Needs ACT_AGREEMENT_READ; another client's agreement is
 * KF_E_NOT_FOUND. kefu itself (system actors) leaves no record. */
int agreement_export_disclosed(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id, const int64_t *file_ids,
                               size_t n_files, struct kf_err *err);

/* As agreement_export_disclosed, for an export that also hands out notices (C11.1.1): the record names
 * their ids too ("notice_ids"; notice_ids NULL: none are part of the export). */
int agreement_export_disclosed_notices(struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id,
                                       const int64_t *file_ids, size_t n_files, const int64_t *notice_ids,
                                       size_t n_notices, struct kf_err *err);

/* The terms of agreement `agreement_id` of client `client_id` in force at instant `at` (UTC ms):
 * the service versions valid then (with effective targets and fees), the calendar then, and the
 * notice and acceptance terms; before the start, the terms as signed. On `c` (inside the caller's
 * write or read; NULL: a read connection of its own). Needs ACT_AGREEMENT_READ (the job actor has
 * it); another client's agreement is KF_E_NOT_FOUND. Results in ctx->arena. */
int agreement_terms_at(struct store_conn *c, struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id, int64_t at,
                       struct agreement_terms *out, struct kf_err *err);

/* The interval [*lo_r, *hi_r) around `at` over which agreement_terms_at of this agreement gives the
 * same terms (but for their `at`), as seen on `c`: every instant where they can change — a service
 * version's valid_from or valid_to, a change's effective_at (not withdrawn) — is outside it
 * (INT64_MIN / INT64_MAX: none before / after). The terms are read with `boundary <= at` and
 * `boundary > at` tests only, so none of them changes inside. Holds only while nothing is written
 * in between: within one read transaction. No policy check: the caller has made its own. */
int agreement_terms_window(struct store_conn *c, int64_t client_id, int64_t agreement_id, int64_t at, int64_t *lo_r,
                           int64_t *hi_r, struct kf_err *err);

/* The columns of an agreement row (alias `a`) that agreement_in_force_row judges, for a caller
 * whose own query selects them beside what it needs (request creation: one statement). */
#define AGREEMENT_FORCE_COLS                                                                     \
    "a.status, a.start_at, a.expires_at, a.dissolution_ground, a.dissolution_effective_at, " \
    "a.dissolution_provider_at, a.dissolution_client_at"

/* agreement_check_active's verdict on a row of st whose AGREEMENT_FORCE_COLS start at column `col`:
 * 0 when in force at `at`, else its KF_E_CONFLICT. */
int agreement_in_force_row(struct store_stmt *st, int col, int64_t at, struct kf_err *err);

/* For later capabilities, inside their own write (or read) on `c`: 0 when agreement `agreement_id`
 * of client `client_id` is active at `at` (signed by both, not expired, not dissolved); else
 * KF_E_CONFLICT (field "agreement") with a detail naming why ("agreement is expired: read-only", …),
 * or KF_E_NOT_FOUND. No policy check: the caller has made its own. */
int agreement_check_active(struct store_conn *c, int64_t client_id, int64_t agreement_id, int64_t at,
                           struct kf_err *err);

/* The job's work at `now` (C10.1.1): sends the renewal reminder (once) of every active agreement
 * within its reminder_days of expiry to the provider's account managers and admins (notify_enqueue),
 * applies dissolutions whose effective instant has come, and expires every active agreement whose
 * expires_at <= now. Each agreement in its own write; idempotent. Counts may be NULL. */
int agreement_expire_due(struct kf_ctx *ctx, int64_t now, int *reminded_r, int *expired_r, int *dissolved_r,
                         struct kf_err *err);

/* The job function behind "agreement.expire" (calls agreement_expire_due at the clock's now). */
int agreement_expire_job(struct kf_ctx *ctx, const struct job_run *run, struct kf_err *err);

/* Registers "agreement.expire" as an hourly periodic job (like audit_jobs_schedule). */
int agreement_jobs_schedule(const struct kf_env *env, struct kf_err *err);

/* expires = start + years in IANA `zone` (ICU): the same wall-clock time N years on; 29 February
 * becomes 28 February in a common year. Exposed for tests and later capabilities. */
int agreement_add_years(const char *zone, int64_t start_ms, int years, int64_t *r_ms, struct kf_err *err);

/* Formats a contract number from `pattern` ({yyyy}, {yy}, {seq}, {seq:N}) into buf. KF_E_INVALID
 * (field "number_pattern") for a bad pattern: one {seq} token and a year token are required. */
int agreement_format_number(const char *pattern, int year, int64_t seq, char *buf, size_t cap, struct kf_err *err);

#endif
