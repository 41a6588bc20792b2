/* The second factor of a user (issue 3): enrolment by QR code and its confirmation, and the check
 * at login. The secret is stored encrypted by the vault (it must be readable to compute codes);
 * each code works once (the last used time step is kept and advanced conditionally). */
#ifndef KEFU_USER_TOTP_H
#define KEFU_USER_TOTP_H
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "domain/context.h"
#include "domain/totp.h"

/* Starts enrolment for the acting user (ACTOR_USER, about themself): a new secret replaces any
 * pending one and is stored encrypted, not yet in force. Fills `uri` with the otpauth:// URI and
 * `svg` with its QR code. KF_E_CONFLICT when a second factor is in force already. Audited
 * "user.totp_begin". */
int user_totp_begin(struct kf_ctx *ctx, struct buf *uri, struct buf *svg, struct kf_err *err);

/* Puts the pending secret in force once the user proves their app has it (`code`), and replaces the
 * user's recovery codes with RECOVERY_CODE_COUNT fresh ones, written to `recovery` to be shown once
 * (only keyed hashes are stored). KF_E_CONFLICT when nothing is pending; KF_E_UNAUTHENTICATED
 * (field "code") for a wrong code. Audited "user.totp_enable". */
int user_totp_confirm(struct kf_ctx *ctx, const char *code, char recovery[RECOVERY_CODE_COUNT][RECOVERY_CODE_TEXT],
                      struct kf_err *err);

/* At login, for a user with a second factor in force: checks `code` — the app's six digits, or one
 * of the recovery codes — and uses it up (a replayed code is refused; a recovery code is deleted).
 * KF_E_UNAUTHENTICATED (field "totp_code") when missing or wrong. */
int user_totp_check(struct kf_ctx *ctx, int64_t client_id, int64_t user_id, const char *code, struct kf_err *err);

#endif
