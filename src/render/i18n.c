/* Catalogues and locale negotiation. The supported set is small and fixed (zh-CN, en), so the
 * Accept-Language matcher is a short parser here rather than ICU's uloc_acceptLanguage, whose
 * fallback would not map zh-TW or zh-Hant to zh-CN, our nearest. */
#include "render/i18n.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/embedded.h"

const char *const i18n_locales[] = {"zh-CN", "en", NULL};
#define N_LOCALES 2

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static json_t *catalogues[N_LOCALES];
static struct kf_err init_err;
static int init_rc;

static int locale_index(const char *locale)
{
    for (int i = 0; i < N_LOCALES; i++) {
        if (locale && strcmp(locale, i18n_locales[i]) == 0) return i;
    }
    return -1;
}

static int check_flat(json_t *cat, const char *what, struct kf_err *err)
{
    if (!json_is_object(cat)) return kf_fail(err, KF_E_TEMPLATE, NULL, "%s: not a JSON object", what);
    const char *key;
    json_t *v;
    json_object_foreach(cat, key, v) {
        if (!json_is_string(v)) return kf_fail(err, KF_E_TEMPLATE, NULL, "%s: key '%s' is not a string", what, key);
    }
    return 0;
}

/* Adds every key of `part` (from `what`) to `cat`; a key defined twice is an error. */
static int catalogue_merge(json_t *cat, json_t *part, const char *what, struct kf_err *err)
{
    int rc = check_flat(part, what, err);
    const char *key;
    json_t *v;
    json_object_foreach(part, key, v) {
        if (rc) break;
        if (json_object_get(cat, key)) rc = kf_fail(err, KF_E_TEMPLATE, NULL, "%s: key '%s' is defined twice", what, key);
        else json_object_set(cat, key, v);
    }
    json_decref(part);
    return rc;
}

static int catalogue_part_file(json_t *cat, const char *path, struct kf_err *err)
{
    json_error_t je;
    json_t *part = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!part) return kf_fail(err, KF_E_TEMPLATE, NULL, "%s:%d: %s", path, je.line, je.text);
    return catalogue_merge(cat, part, path, err);
}

static int catalogue_part_embedded(json_t *cat, const struct embedded_file *f, struct kf_err *err)
{
    json_error_t je;
    json_t *part = json_loadb(f->data, f->size, JSON_REJECT_DUPLICATES, &je);
    if (!part) return kf_fail(err, KF_E_TEMPLATE, NULL, "%s:%d: %s", f->path, je.line, je.text);
    return catalogue_merge(cat, part, f->path, err);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The .json files of root/locale/<locale>/, in name order. */
static int catalogue_dir_parts(json_t *cat, const char *root, const char *locale, struct kf_err *err)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/locale/%s", root, locale);
    DIR *d = opendir(dir);
    if (!d) return 0; /* the one-file catalogue alone */
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < sizeof names / sizeof names[0]) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], name_cmp);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (rc == 0 && names[i]) rc = catalogue_part_file(cat, path, err);
        free(names[i]);
    }
    return rc;
}

/* A locale's catalogue is locale/<locale>.json plus every .json file under locale/<locale>/ (one per group
 * of pages, so that work on different pages does not edit one file); a key may be defined once. */
int i18n_catalogue_load(const char *root, const char *locale, json_t **cat_r, struct kf_err *err)
{
    *cat_r = NULL;
    if (locale_index(locale) < 0) return kf_fail(err, KF_E_TEMPLATE, NULL, "unsupported locale");
    char path[1024];
    json_t *cat = json_object();
    int rc;
    if (root) {
        snprintf(path, sizeof path, "%s/locale/%s.json", root, locale);
        rc = catalogue_part_file(cat, path, err);
        if (rc == 0) rc = catalogue_dir_parts(cat, root, locale, err);
    } else {
        snprintf(path, sizeof path, "locale/%s.json", locale);
        const struct embedded_file *f = embedded_find(path);
        rc = f ? catalogue_part_embedded(cat, f, err) : kf_fail(err, KF_E_TEMPLATE, NULL, "%s is not embedded", path);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "locale/%s/", locale);
        for (const struct embedded_file *e = embedded_files; rc == 0 && e->path; e++) {
            size_t len = strlen(e->path);
            if (strncmp(e->path, prefix, strlen(prefix)) == 0 && len > 5 && strcmp(e->path + len - 5, ".json") == 0)
                rc = catalogue_part_embedded(cat, e, err);
        }
    }
    if (rc != 0) {
        json_decref(cat);
        return rc;
    }
    *cat_r = cat;
    return 0;
}

int i18n_check_parity(const char *root, struct kf_err *err)
{
    json_t *cats[N_LOCALES] = {0};
    int rc = 0;
    for (int i = 0; i < N_LOCALES && rc == 0; i++) rc = i18n_catalogue_load(root, i18n_locales[i], &cats[i], err);
    for (int i = 0; i < N_LOCALES && rc == 0; i++) {
        for (int j = 0; j < N_LOCALES && rc == 0; j++) {
            const char *key;
            json_t *v;
            json_object_foreach(cats[i], key, v) {
                if (!json_object_get(cats[j], key)) {
                    rc = kf_fail(err, KF_E_TEMPLATE, NULL, "key '%s' is in locale/%s.json but not in locale/%s.json",
                        key, i18n_locales[i], i18n_locales[j]);
                    break;
                }
            }
        }
    }
    for (int i = 0; i < N_LOCALES; i++) json_decref(cats[i]);
    return rc;
}

static void init_once_fn(void)
{
    kf_err_clear(&init_err);
    init_rc = i18n_check_parity(NULL, &init_err);
    for (int i = 0; i < N_LOCALES && init_rc == 0; i++) init_rc = i18n_catalogue_load(NULL, i18n_locales[i], &catalogues[i], &init_err);
}

int i18n_init(struct kf_err *err)
{
    pthread_once(&init_once, init_once_fn);
    if (init_rc != 0 && err) *err = init_err;
    return init_rc;
}

const char *i18n_lookup(const char *locale, const char *key)
{
    if (i18n_init(NULL) != 0) return NULL;
    int i = locale_index(locale);
    if (i < 0) i = 0;
    return json_string_value(json_object_get(catalogues[i], key));
}

const char *i18n_match(const char *tag)
{
    if (!tag) return NULL;
    size_t primary = strcspn(tag, "-_");
    if (primary == 2 && strncasecmp(tag, "zh", 2) == 0) return "zh-CN";
    if (primary == 2 && strncasecmp(tag, "en", 2) == 0) return "en";
    return NULL;
}

/* Parses a q-value ("1", "1.0", "0.8", "0.125"): returns thousandths, or -1 when malformed. */
static int parse_q(const char *s, size_t len)
{
    if (len == 0 || len > 5) return -1;
    if (s[0] != '0' && s[0] != '1') return -1;
    int q = (s[0] - '0') * 1000;
    if (len == 1) return q;
    if (s[1] != '.') return -1;
    int scale = 100;
    for (size_t i = 2; i < len; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9') return -1;
        q += (s[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

static size_t trim(const char **s, size_t len)
{
    while (len && (**s == ' ' || **s == '\t')) (*s)++, len--;
    while (len && ((*s)[len - 1] == ' ' || (*s)[len - 1] == '\t')) len--;
    return len;
}

const char *i18n_negotiate(const char *accept_language)
{
    if (!accept_language) return I18N_DEFAULT;
    const char *best = NULL;
    int best_q = 0;
    const char *p = accept_language;
    size_t budget = 4096; /* a longer header is garbage: ignore the rest */
    for (int items = 0; *p && budget && items < 32; items++) {
        size_t n = strcspn(p, ",");
        if (n > budget) n = budget;
        budget -= n;
        const char *item = p;
        p += n;
        if (*p == ',') p++;
        size_t semi = strcspn(item, ";");
        if (semi > n) semi = n;
        const char *tag = item;
        size_t tag_len = trim(&tag, semi);
        int q = 1000;
        if (semi < n) { /* parameters: only q counts */
            const char *param = item + semi + 1;
            size_t plen = (size_t)(item + n - param);
            plen = trim(&param, plen);
            while (plen && (*param == ';' || *param == ' ')) param++, plen--;
            if (plen < 2 || strncasecmp(param, "q=", 2) != 0) continue;
            q = parse_q(param + 2, plen - 2);
            if (q < 0) continue;
        }
        if (tag_len == 0 || tag_len > 35 || q == 0) continue;
        char t[36];
        bool ok = true;
        for (size_t i = 0; i < tag_len; i++) {
            char c = tag[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '*')) ok = false;
            t[i] = c;
        }
        t[tag_len] = '\0';
        if (!ok) continue;
        const char *m = strcmp(t, "*") == 0 ? I18N_DEFAULT : i18n_match(t);
        if (m && q > best_q) {
            best = m;
            best_q = q;
        }
    }
    return best ? best : I18N_DEFAULT;
}

const char *i18n_choose(const char *user_setting, const char *accept_language)
{
    const char *m = user_setting && *user_setting ? i18n_match(user_setting) : NULL;
    return m ? m : i18n_negotiate(accept_language);
}
