/* What agreement.c and agreement_change.c share and nothing else may call: the services' checks and
 * their versioned insert, the row lock, and the calendar in force at an instant. No policy checks
 * here: the public functions of agreement.h and agreement_change.h have made theirs. */
#ifndef KEFU_AGREEMENT_INTERNAL_H
#define KEFU_AGREEMENT_INTERNAL_H
#include <jansson.h>
#include <stdint.h>

#include "domain/agreement.h"

/* Checks a full set of services as agreement_create does: 1..AGREEMENT_SERVICES_MAX, distinct
 * kinds, targets and fees in range (KF_E_INVALID, fields "services", "services.kind", …). */
int agreement_check_services(const struct agreement_service_input *s, size_t n, struct kf_err *err);

/* Inserts services s[0..n) of the agreement with their fees (the given ones, else the catalogue's
 * default fees), as versions valid from `valid_from` (0: from the start, NULL in the row) written by
 * change `change_id` (0: the agreement's own terms), appending a summary of each to `summary`. */
int agreement_insert_services(struct store_conn *c, struct kf_ctx *ctx, int64_t client_id, int64_t agreement_id,
                              const struct agreement_service_input *s, size_t n, int64_t valid_from, int64_t change_id,
                              json_t *summary, struct kf_err *err);

/* The agreement's row lock inside a write (PostgreSQL); KF_E_NOT_FOUND when the client has no such one. */
int agreement_lock(struct store_conn *c, int64_t client_id, int64_t agreement_id, struct kf_err *err);

/* The calendar in force at `at` (0: the default calendar) and the last change that set it before
 * `at` (0: none), from the changes' calendar_before/calendar_after, else agreements.calendar_id.
 * Defined in agreement_change.c. */
int agreement_calendar_at(struct store_conn *c, int64_t client_id, int64_t agreement_id, int64_t at,
                          int64_t *calendar_r, struct kf_err *err);

/* The last change (not withdrawn) whose effective_at <= at; 0 when none. Defined in agreement_change.c. */
int agreement_change_in_force(struct store_conn *c, int64_t client_id, int64_t agreement_id, int64_t at,
                              int64_t *change_r, struct kf_err *err);

#endif
