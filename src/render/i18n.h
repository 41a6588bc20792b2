/* Translations: one catalogue per locale (locale/zh-CN.json, locale/en.json and the files under
 * locale/zh-CN/ and locale/en/ merged: flat JSON objects of
 * dotted key → string), compiled into the binary; choosing the viewer's locale from their setting
 * and Accept-Language. Simplified Chinese is the default. Catalogues are loaded once and read-only
 * after (thread-safe); render_set_dev_dir() makes the template engine reload them from disk. */
#ifndef KEFU_RENDER_I18N_H
#define KEFU_RENDER_I18N_H
#include <jansson.h>
#include <stdbool.h>

#include "core/err.h"

#define I18N_DEFAULT "zh-CN"

/* The supported locales, default first, NULL-terminated. */
extern const char *const i18n_locales[];

/* Loads and checks the embedded catalogues (idempotent; also done on first use). Returns 0 or
 * KF_E_TEMPLATE (a catalogue missing, not a flat object of strings, or keys differ). */
int i18n_init(struct kf_err *err);

/* Returns the embedded catalogue string of `key` for `locale` (NULL or unsupported: the default),
 * or NULL when the key is missing. The string lives as long as the process. */
const char *i18n_lookup(const char *locale, const char *key);

/* Returns the supported locale `tag` names (case-insensitive, "zh-cn" → "zh-CN"; "en-US" → "en";
 * any zh-* → "zh-CN" as the nearest), or NULL. The result is one of i18n_locales. */
const char *i18n_match(const char *tag);

/* Picks the best supported locale from an Accept-Language value (q-values honoured, q=0 refused,
 * ties in order of appearance, "*" is the default); NULL, empty or garbage gives I18N_DEFAULT. */
const char *i18n_negotiate(const char *accept_language);

/* The viewer's locale: their own setting if supported, else Accept-Language, else the default. */
const char *i18n_choose(const char *user_setting, const char *accept_language);

/* Loads the catalogue of `locale` from `root`/locale/<locale>.json (root NULL: the embedded one) into
 * *cat_r (a new reference; json_decref it). Returns 0 or KF_E_TEMPLATE. */
int i18n_catalogue_load(const char *root, const char *locale, json_t **cat_r, struct kf_err *err);

/* Checks that the catalogues under `root` (NULL: the embedded ones) are flat objects of strings
 * with the same keys. Returns 0 or KF_E_TEMPLATE naming the first key found in one only. */
int i18n_check_parity(const char *root, struct kf_err *err);

#endif
