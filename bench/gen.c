/* gen: a million service requests for `make bench` (issue 7 item 3; docs/performance.md "The data").
 *
 * DESIGN. The few rows that carry policy (the provider, its administrator and agents, the clients,
 * their client administrators and agreements, one API token) are made through the domain functions,
 * exactly as kefu makes them, on a fake clock set two years back so that every agreement is in force
 * from before the first request. The bulk (requests, their history, their conversation and
 * attachment metadata) is written directly with prepared statements, BATCH requests per store_write:
 * the domain functions one by one would take hours. The bulk rows are what the domain writes —
 * numbers SR-nnnnnn drawn from request_numbers (last_seq updated in the same write), a 'status'
 * ''→'new' and a 'priority' creation event for every request, then the events of each status change
 * up to the final status, first_response_at / resolved_at / closed_at consistent with them, file rows
 * on shared per-client blobs with their file_owners count — except the audit trail, which gets no
 * record per generated row (the trail is a hash chain of what people did; a generated history has
 * none, and verification holds over what is there).
 *
 * Ids: every row of one request takes its id from id_new(created of the request), in ascending
 * created order, so ids stay time-ordered and never run ahead of the real clock (a kefu serve started
 * afterwards makes larger ids). Text: a built-in vocabulary of service words drawn with a Zipf-like
 * distribution (weight 1/rank^1.1), so some characters are in most requests and some in very few.
 * Deterministic for a given --seed and --requests (the ids excepted: they carry random bits).
 *
 * The search index is one marked place, gen_index_request(), compiled in when store/search.h exists. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/ids.h"
#include "domain/agreement.h"
#include "domain/api_token.h"
#include "domain/context.h"
#include "domain/org.h"
#include "domain/password.h"
#include "domain/request.h"
#include "domain/user.h"
#include "domain/vault.h"
#include "store/store.h"

#if __has_include("store/search.h")
#include "store/search.h"
#define GEN_HAVE_SEARCH 1
#else
#define GEN_HAVE_SEARCH 0
#endif

#define DAY_MS (24LL * 60 * 60 * 1000)
#define HOUR_MS (60LL * 60 * 1000)
#define MIN_MS (60LL * 1000)
#define SPAN_MS (730LL * DAY_MS) /* requests spread over two years */
#define BATCH 5000               /* requests per store_write */
#define MAX_CLIENTS 500
#define MAX_AGENTS 200
#define SAMPLE_IDS 10000         /* random (id, client_id) pairs written for the read benchmark */
#define TEXT_MAX 8192

/* --- random numbers (xorshift64*: fast, deterministic per seed) ---------------------------------- */

static uint64_t rng_state = 88172645463325252ULL;

/* The next 64 random bits. */
static uint64_t rnd64(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

/* A uniform integer in [0, n). */
static uint64_t rnd(uint64_t n) { return n ? rnd64() % n : 0; }

/* True with probability pct/100. */
static int chance(unsigned pct) { return rnd(100) < pct; }

/* --- the vocabulary ------------------------------------------------------------------------------ */

/* A list drawn with weight 1/(rank+1)^1.1: the first entries are common, the last rare. */
struct vocab {
    const char *const *w;
    size_t n;
    double *cum; /* cumulative weights, built by vocab_init */
};

static const char *const devices[] = {
    "打印机", "电脑", "网络", "邮箱", "空调", "显示器", "笔记本", "路由器", "服务器", "投影仪", "复印机", "交换机",
    "U盘", "键盘", "鼠标", "摄像头", "电话机", "扫描仪", "硬盘", "Wi-Fi", "VPN", "门禁", "考勤机", "音响", "UPS电源",
    "HP-1020", "ThinkPad X1", "DELL-7090", "TP-LINK", "Outlook", "Win10", "NAS", "监控录像机", "传真机", "平板",
    "蓝牙耳机", "条码枪", "碎纸机", "饮水机", "电梯", "防火墙", "工控机", "LED屏", "读卡器", "绘图仪"};
static const char *const problems[] = {
    "无法登录", "无法打印", "连不上", "很慢", "蓝屏", "没有反应", "报错", "死机", "黑屏", "卡纸", "不制冷",
    "自动重启", "无法开机", "断网", "密码忘记", "收不到邮件", "显示异常", "噪音大", "漏水", "花屏", "掉线",
    "中毒", "无法识别", "发不出去", "乱码", "过热", "闪退", "无声音", "time out", "error 0x0000007B",
    "cannot connect", "access denied", "驱动丢失", "证书过期", "权限不足", "数据丢失", "频繁弹窗", "耗电快"};
static const char *const wants[] = {
    "请尽快处理", "需要上门", "申请退款", "要开发票", "请远程协助", "麻烦回电", "需要更换", "请派工程师",
    "希望今天解决", "申请保修", "咨询费用", "要求延保", "请提供报价", "需要培训", "申请备机", "投诉处理太慢"};
static const char *const places[] = {
    "财务部", "前台", "三楼会议室", "销售部", "仓库", "人事部", "总经理办公室", "机房", "二楼", "研发部", "客服中心",
    "分公司", "门店", "实验室", "食堂", "档案室", "北京办事处", "上海分部", "深圳工厂"};
static const char *const times[] = {
    "今天上午", "昨天下午", "刚才", "从上周开始", "每天早上", "周一", "升级以后", "停电之后", "搬家以后", "一直",
    "偶尔", "下班前"};
static const char *const replies[] = {
    "您好，已收到您的报修，工程师稍后联系您。", "请先重启设备再试一下。", "已远程处理，请确认是否恢复。",
    "需要上门检查，明天上午安排工程师。", "已更换配件，请测试。", "请提供一下报错截图。",
    "问题已解决，如有问题请随时联系。", "发票已开具，请查收邮件。", "退款申请已提交财务审核。",
    "Please try again after the update.", "驱动已重新安装。", "已为您重置密码，请尽快修改。",
    "已联系厂商，配件预计三天到货。", "网络已恢复，请确认。"};
static const char *const client_replies[] = {
    "好的，谢谢！", "还是不行，请再看一下。", "已经恢复了，谢谢。", "什么时候能来？", "截图已上传。",
    "明天上午有人在。", "OK, thanks.", "麻烦再快一点。"};
static const char *const notes[] = {
    "客户比较着急，优先处理。", "怀疑是硬件故障，备件已申请。", "同一客户本月第三次报修。", "需要升级到二线。",
    "已和客户经理沟通。", "保修已过期，需报价。", "可能与上周的网络改造有关。", "转交网络组跟进。"};
/* The long tail: one request in fifty names one of these (Zipf among them), so the rarest are in a
 * few requests per hundred thousand. */
static const char *const rare[] = {
    "塑封机", "点钞机", "装订机", "验钞机", "叫号机", "自助终端", "POS机", "收银机", "称重仪", "温控器", "除湿机",
    "新风系统", "加湿器", "净化器", "热水器", "电子白板", "会议平板", "视频会议", "录音笔", "光猫", "机顶盒",
    "网线钳", "配线架", "光纤", "水晶头", "电源适配器", "墨盒", "硒鼓", "色带", "定影器", "主板", "内存条",
    "固态硬盘", "显卡", "散热器", "机柜", "KVM切换器", "file server", "mail server", "DNS server", "RAID5",
    "SN-4471", "LJ-M1136", "EPSON-L3158", "Canon-G2810", "RTX-3060", "i7-12700", "鸿蒙", "统信UOS", "麒麟系统"};
static const char *const companies[] = {
    "华信", "东方", "恒通", "瑞丰", "金桥", "中科", "海天", "嘉禾", "鼎盛", "博远", "新元", "天成", "宏达", "联创",
    "启明", "泰和", "汇通", "盛世", "长城", "星辰", "卓越", "永安", "润和", "明德", "安信"};
static const char *const company_kinds[] = {"科技有限公司", "贸易有限公司", "制造有限公司", "物流有限公司",
                                            "医疗器械有限公司", "会计师事务所", "律师事务所", "连锁餐饮有限公司"};

#define VOCAB(a) {a, sizeof a / sizeof a[0], NULL}
static struct vocab v_devices = VOCAB(devices), v_problems = VOCAB(problems), v_wants = VOCAB(wants),
                    v_places = VOCAB(places), v_times = VOCAB(times), v_replies = VOCAB(replies),
                    v_client_replies = VOCAB(client_replies), v_notes = VOCAB(notes), v_rare = VOCAB(rare);

/* Builds the cumulative weights of `v`. */
static void vocab_init(struct vocab *v)
{
    v->cum = calloc(v->n, sizeof *v->cum);
    double s = 0;
    for (size_t i = 0; i < v->n; i++) {
        double x = pow((double)(i + 1), -1.1);
        s += x;
        v->cum[i] = s;
    }
}

/* One word of `v`, Zipf-like. */
static const char *pick(const struct vocab *v)
{
    double u = (double)(rnd64() >> 11) / 9007199254740992.0 * v->cum[v->n - 1];
    size_t lo = 0, hi = v->n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v->cum[mid] < u) lo = mid + 1;
        else hi = mid;
    }
    return v->w[lo];
}

/* --- text building ------------------------------------------------------------------------------- */

struct text {
    char s[TEXT_MAX];
    size_t len;
};

/* Appends formatted text, truncating at TEXT_MAX (never past it). */
__attribute__((format(printf, 2, 3))) static void tx(struct text *t, const char *fmt, ...)
{
    if (t->len >= sizeof t->s - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->s + t->len, sizeof t->s - t->len, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    t->len += (size_t)n < sizeof t->s - t->len ? (size_t)n : sizeof t->s - t->len - 1;
}

static void make_subject(struct text *t)
{
    t->len = 0;
    t->s[0] = '\0';
    switch (rnd(4)) {
    case 0: tx(t, "%s%s", pick(&v_devices), pick(&v_problems)); break;
    case 1: tx(t, "%s的%s%s", pick(&v_places), pick(&v_devices), pick(&v_problems)); break;
    case 2: tx(t, "%s%s，%s", pick(&v_devices), pick(&v_problems), pick(&v_wants)); break;
    default: tx(t, "【%s】%s%s", pick(&v_places), pick(&v_devices), pick(&v_problems)); break;
    }
}

static void make_body(struct text *t)
{
    t->len = 0;
    t->s[0] = '\0';
    int sentences = 1 + (int)rnd(3);
    for (int i = 0; i < sentences; i++) {
        switch (rnd(3)) {
        case 0: tx(t, "%s%s的%s%s。", pick(&v_times), pick(&v_places), pick(&v_devices), pick(&v_problems)); break;
        case 1: tx(t, "%s，%s%s。", pick(&v_devices), pick(&v_times), pick(&v_problems)); break;
        default: tx(t, "%s。", pick(&v_wants)); break;
        }
    }
    if (chance(2)) tx(t, "涉及%s。", pick(&v_rare));
    if (chance(15)) tx(t, "\n\n型号 %s，提示 \"%s\"。", pick(&v_devices), pick(&v_problems));
    if (chance(10)) tx(t, "\n\n联系人在%s，电话 1380013%04u。", pick(&v_places), (unsigned)rnd(10000));
}

/* --- command line -------------------------------------------------------------------------------- */

struct opts {
    const char *db, *key_file, *password_file, *token_out, *ids_out, *info_out, *stats_out;
    long requests, seed, clients, agents;
};

static void usage(FILE *out)
{
    fputs("usage: gen --db URL --key-file FILE --password-file FILE [--requests 1000000] [--seed 1]\n"
          "           [--clients 50] [--agents 40] [--token-out FILE] [--ids-out FILE] [--info-out FILE]\n"
          "           [--stats-out FILE]\n"
          "  Migrates the database (sqlite:PATH or postgres://...), which must be new, and fills it: the\n"
          "  provider, administrator 'admin', agents bench.agent and bench.agent01.., clients with active\n"
          "  agreements, then the requests (see bench/gen.c). All users get the password of the file.\n",
          out);
}

static int parse_long(const char *s, long lo, long hi, long *out_r)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) return -1;
    *out_r = v;
    return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.requests = 1000000, .seed = 1, .clients = 50, .agents = 40};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (!v) return -1;
        i++;
        if (strcmp(a, "--db") == 0) o->db = v;
        else if (strcmp(a, "--key-file") == 0) o->key_file = v;
        else if (strcmp(a, "--password-file") == 0) o->password_file = v;
        else if (strcmp(a, "--token-out") == 0) o->token_out = v;
        else if (strcmp(a, "--ids-out") == 0) o->ids_out = v;
        else if (strcmp(a, "--info-out") == 0) o->info_out = v;
        else if (strcmp(a, "--stats-out") == 0) o->stats_out = v;
        else if (strcmp(a, "--requests") == 0) {
            if (parse_long(v, 1, 100000000, &o->requests)) return -1;
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_long(v, 0, 0x7fffffffL, &o->seed)) return -1;
        } else if (strcmp(a, "--clients") == 0) {
            if (parse_long(v, 1, MAX_CLIENTS, &o->clients)) return -1;
        } else if (strcmp(a, "--agents") == 0) {
            if (parse_long(v, 1, MAX_AGENTS, &o->agents)) return -1;
        } else return -1;
    }
    return o->db && o->key_file && o->password_file ? 0 : -1;
}

/* --- the environment and the set-up through the domain ------------------------------------------ */

struct client {
    int64_t id, agreement_id, admin_id;
    int64_t blob_size[2];
    unsigned char blob_sha[2][crypto_hash_sha256_BYTES];
};

struct gen {
    struct opts o;
    struct kf_env env;
    struct actor actor;
    struct kf_ctx ctx;
    struct kf_clock *clock;
    struct kf_err err;
    char password[256];
    int64_t provider_id, admin_id, kind_ids[2];
    int64_t agents[MAX_AGENTS + 1];
    size_t n_agents;
    struct client clients[MAX_CLIENTS];
    size_t n_clients;
    int64_t t_first, t_now; /* created times run from t_first to t_now */
    /* bulk progress */
    long done;
    int64_t seq;
    uint64_t rows;
    double t0;
    /* the read benchmark's sample (reservoir) */
    int64_t sample_id[SAMPLE_IDS], sample_client[SAMPLE_IDS];
    long n_sample;
    /* counts for choosing the search mix: every 16th request's full (staff) text */
    long stat_docs;
};

/* Candidate search terms whose frequency gen reports (--stats-out), rare to very common. */
static const char *const stat_terms[] = {
    "的", "机", "打", "网", "电", "印", "无法", "打印", "网络", "登录", "退款", "发票", "空调", "蓝屏", "卡纸", "重启",
    "邮件", "显示", "驱动", "证书", "门禁", "备机", "碎纸", "绘图", "考勤", "饮水", "漏水", "耗电", "打印机",
    "无法登录", "收不到", "深圳工厂", "蓝牙耳机", "条码", "延保", "频繁弹窗", "U盘", "HP-1020", "rv", "time",
    "工控机", "传真", "档案室", "监控录像", "塑封", "点钞机", "server", "硒鼓", "麒麟", "RAID", "鸿蒙", "光猫",
    "内存条", "机柜", "定影", "统信", "鸿", "麒麟系统"};
#define N_STAT_TERMS (sizeof stat_terms / sizeof stat_terms[0])
static long stat_hits[N_STAT_TERMS];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void as_system(struct gen *g) { g->actor = (struct actor){.kind = ACTOR_SYSTEM}; }

static void as_user(struct gen *g, int64_t user_id, int64_t client_id, unsigned roles)
{
    g->actor = (struct actor){.kind = ACTOR_USER, .user_id = user_id,
                              .org_id = client_id ? client_id : g->provider_id, .client_id = client_id,
                              .roles = roles, .session_id = 1};
}

static int die(struct gen *g, const char *what)
{
    fprintf(stderr, "\ngen: %s failed: %s (%s)\n", what, g->err.detail, g->err.field ? g->err.field : "");
    return 1;
}

/* One user through user_create (the password hashed as kefu does). */
static int make_user(struct gen *g, int64_t client_id, const char *name, const char *display, unsigned roles,
                     int64_t *id_r)
{
    as_system(g);
    struct user_input in = {.client_id = client_id, .username = name, .display_name = display,
                            .password = g->password, .roles = roles};
    return user_create(&g->ctx, &in, id_r, &g->err);
}

struct token_args {
    struct gen *g;
    char token[TOKEN_TEXT_MAX];
};

static int token_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct token_args *t = arg;
    struct gen *g = t->g;
    struct api_token_new n = {.user_id = g->agents[0], .client_id = 0, .owner_roles = ROLE_AGENT,
                              .name = "bench 基准测试", .roles = ROLE_AGENT,
                              .expires = g->t_now + 360 * DAY_MS};
    int64_t id = 0;
    return api_token_create(c, &g->ctx, &n, t->token, &id, err);
}

/* Writes `s` to the file `path` (mode 0600). */
static int write_file(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(s, f);
    return fclose(f) == 0 ? 0 : -1;
}

static int kind_id(struct gen *g, const char *code, int64_t *id_r)
{
    struct store_conn *c = NULL;
    struct store_stmt *st = NULL;
    int rc = store_acquire(g->env.store, &c, &g->err);
    if (rc) return rc;
    rc = store_prepare(c, "SELECT id FROM service_kinds WHERE code = $1", &st, &g->err);
    if (rc == 0) {
        store_bind_text(st, 1, code, (size_t)-1);
        rc = store_step(st, &g->err);
        if (rc == STORE_ROW) *id_r = store_col_int64(st, 0), rc = 0;
        else if (rc == STORE_DONE) rc = kf_fail(&g->err, KF_E_NOT_FOUND, "service_kind", "no kind %s", code);
        store_finalize(&st);
    }
    store_release(&c);
    return rc;
}

/* The small blobs every client's attachments share: a log excerpt and a 1×1 PNG screenshot. */
static const char blob_log[] = "2026-03-02 09:14:07 ERROR spooler: printer HP-1020 offline (0x0000007B)\n"
                               "2026-03-02 09:14:09 WARN  network: DHCP lease renewal failed\n";
static const unsigned char blob_png[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
    0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00,
    0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff,
    0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

static int exec_stmt(struct store_stmt **st, struct kf_err *err)
{
    int rc = store_step(*st, err);
    store_finalize(st);
    return rc < 0 ? rc : 0;
}

static int blobs_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct gen *g = arg;
    const void *data[2] = {blob_log, blob_png};
    size_t len[2] = {sizeof blob_log - 1, sizeof blob_png};
    for (size_t i = 0; i < g->n_clients; i++) {
        struct client *cl = &g->clients[i];
        for (int k = 0; k < 2; k++) {
            struct store_stmt *st;
            int rc = store_prepare(c,
                                   "INSERT INTO file_blobs (client_id, sha256, size, content, created) VALUES ($1, $2, "
                                   "$3, $4, $5)",
                                   &st, err);
            if (rc) return rc;
            crypto_hash_sha256(cl->blob_sha[k], data[k], len[k]);
            cl->blob_size[k] = (int64_t)len[k];
            store_bind_int64(st, 1, cl->id);
            store_bind_blob(st, 2, cl->blob_sha[k], sizeof cl->blob_sha[k]);
            store_bind_int64(st, 3, (int64_t)len[k]);
            store_bind_blob(st, 4, data[k], len[k]);
            store_bind_int64(st, 5, g->t_first);
            if ((rc = exec_stmt(&st, err)) != 0) return rc;
        }
    }
    return 0;
}

static int setup(struct gen *g)
{
    const struct opts *o = &g->o;
    char name[64], display[128];
    as_system(g);
    struct org_input provider = {.name = "客服运营有限公司", .legal_name = "客服运营有限公司"};
    if (org_create_provider(&g->ctx, &provider, &g->provider_id, &g->err) != 0) return die(g, "the provider");
    if (make_user(g, 0, "admin", "系统管理员", ROLE_ADMIN, &g->admin_id) != 0) return die(g, "the administrator");
    fprintf(stderr, "gen: %ld agents", o->agents + 1);
    if (make_user(g, 0, "bench.agent", "王客服", ROLE_AGENT, &g->agents[0]) != 0) return die(g, "bench.agent");
    for (long i = 1; i <= o->agents; i++) {
        snprintf(name, sizeof name, "bench.agent%02ld", i);
        snprintf(display, sizeof display, "客服%02ld", i);
        if (make_user(g, 0, name, display, ROLE_AGENT, &g->agents[i]) != 0) return die(g, name);
    }
    g->n_agents = (size_t)o->agents + 1;
    if (kind_id(g, "technical_support", &g->kind_ids[0]) != 0 || kind_id(g, "consulting", &g->kind_ids[1]) != 0)
        return die(g, "the service kinds");
    fprintf(stderr, ", %ld clients with agreements", o->clients);
    for (long i = 0; i < o->clients; i++) {
        struct client *cl = &g->clients[i];
        snprintf(display, sizeof display, "%s%s%s", companies[i % (sizeof companies / sizeof companies[0])],
                 i >= (long)(sizeof companies / sizeof companies[0]) ? "第二" : "",
                 company_kinds[i % (sizeof company_kinds / sizeof company_kinds[0])]);
        struct org_input in = {.name = display, .contact_name = "李经理", .contact_phone = "13800138000"};
        as_system(g);
        if (org_create_client(&g->ctx, &in, &cl->id, &g->err) != 0) return die(g, "a client");
        snprintf(name, sizeof name, "c%03ld.admin", i + 1);
        if (make_user(g, cl->id, name, "客户管理员", ROLE_CLIENT_ADMIN, &cl->admin_id) != 0) return die(g, name);
        struct agreement_service_input svc[2] = {{.kind = "technical_support"}, {.kind = "consulting"}};
        struct agreement_input ag = {.term_years = 3, .acceptance_by = "client", .services = svc, .n_services = 2};
        as_user(g, g->admin_id, 0, ROLE_ADMIN);
        if (agreement_create(&g->ctx, cl->id, &ag, &cl->agreement_id, &g->err) != 0 ||
            agreement_sign_provider(&g->ctx, cl->id, cl->agreement_id, &g->err) != 0)
            return die(g, "an agreement");
        as_user(g, cl->admin_id, cl->id, ROLE_CLIENT_ADMIN);
        if (agreement_sign_client(&g->ctx, cl->id, cl->agreement_id, &g->err) != 0) return die(g, "signing");
        if (i % 10 == 9) fputc('.', stderr);
    }
    g->n_clients = (size_t)o->clients;
    fputc('\n', stderr);
    if (store_write(g->env.store, blobs_fn, g, &g->err) != 0) return die(g, "the blobs");
    /* the API token is made now, on the real time: it must be valid when the bench runs */
    clock_set(g->clock, g->t_now);
    as_user(g, g->agents[0], 0, ROLE_AGENT);
    struct token_args t = {.g = g};
    if (store_write(g->env.store, token_fn, &t, &g->err) != 0) return die(g, "the API token");
    if (o->token_out && write_file(o->token_out, t.token) != 0) {
        fprintf(stderr, "gen: cannot write %s\n", o->token_out);
        return 1;
    }
    sodium_memzero(t.token, sizeof t.token);
    return 0;
}

/* --- the bulk ------------------------------------------------------------------------------------ */

/* THE search index of one request: its public text (subject, body, public replies) and, when it has
 * internal notes, the staff text with them. The one place to change when the index's API moves. */
static int gen_index_request(struct store_conn *c, int64_t id, int64_t client_id, int64_t created,
                             const struct text *pub, const struct text *staff, int has_notes, struct kf_err *err)
{
#if GEN_HAVE_SEARCH
    int rc = search_index_put(c, "request", id, client_id, "public", created, pub->s, err);
    if (rc == 0 && has_notes) rc = search_index_put(c, "request", id, client_id, "staff", created, staff->s, err);
    return rc;
#else
    (void)c, (void)id, (void)client_id, (void)created, (void)pub, (void)staff, (void)has_notes, (void)err;
    return 0;
#endif
}

struct ev {
    const char *kind, *from, *to;
    int64_t at, actor;
};

/* History and conversation rows are buffered and written MULTI rows per INSERT: on PostgreSQL every
 * statement is a round trip, and one per row made the generator ten times slower there. The
 * statement texts are built once from constant pieces (placeholders only, never data). */
#define MULTI 64
#define EV_COLS 8
#define MSG_COLS 8

struct ev_row {
    int64_t id, request_id, client_id, actor, at;
    char kind[16], from[24], to[24];
};
struct msg_row {
    int64_t id, request_id, client_id, author, at;
    const char *kind, *side;
    char *body; /* malloc'd */
};
static struct ev_row ev_buf[MULTI];
static struct msg_row msg_buf[MULTI];
static size_t n_ev, n_msg;
static char ev_sql_1[512], ev_sql_n[512 + MULTI * 80], msg_sql_1[512], msg_sql_n[512 + MULTI * 80];

/* "INSERT … VALUES ($1, …, $cols TAIL), ($cols+1, …)" for `rows` rows into out. */
static void multi_sql(char *out, size_t cap, const char *head, int cols, const char *tail, int rows)
{
    size_t len = (size_t)snprintf(out, cap, "%s", head);
    for (int r = 0; r < rows; r++) {
        len += (size_t)snprintf(out + len, cap - len, "%s(", r ? ", " : " VALUES ");
        for (int k = 1; k <= cols; k++)
            len += (size_t)snprintf(out + len, cap - len, "$%d%s", r * cols + k, k < cols ? ", " : tail);
    }
}

static void multi_init(void)
{
    static const char ev_head[] = "INSERT INTO request_events (id, request_id, client_id, kind, from_value, to_value, "
                                  "actor_id, at, reason)";
    static const char msg_head[] = "INSERT INTO request_messages (id, request_id, client_id, kind, author_id, "
                                   "author_side, body, created)";
    multi_sql(ev_sql_1, sizeof ev_sql_1, ev_head, EV_COLS, ", '')", 1);
    multi_sql(ev_sql_n, sizeof ev_sql_n, ev_head, EV_COLS, ", '')", MULTI);
    multi_sql(msg_sql_1, sizeof msg_sql_1, msg_head, MSG_COLS, ")", 1);
    multi_sql(msg_sql_n, sizeof msg_sql_n, msg_head, MSG_COLS, ")", MULTI);
}

static int flush_events(struct store_conn *c, struct kf_err *err)
{
    size_t i = 0;
    while (i < n_ev) {
        int rows = n_ev - i >= MULTI ? MULTI : 1;
        struct store_stmt *st;
        int rc = store_prepare(c, rows == MULTI ? ev_sql_n : ev_sql_1, &st, err);
        if (rc) return rc;
        for (int r = 0; r < rows; r++) {
            const struct ev_row *e = &ev_buf[i + (size_t)r];
            int b = r * EV_COLS;
            store_bind_int64(st, b + 1, e->id);
            store_bind_int64(st, b + 2, e->request_id);
            store_bind_int64(st, b + 3, e->client_id);
            store_bind_text(st, b + 4, e->kind, (size_t)-1);
            store_bind_text(st, b + 5, e->from, (size_t)-1);
            store_bind_text(st, b + 6, e->to, (size_t)-1);
            store_bind_int64(st, b + 7, e->actor);
            store_bind_int64(st, b + 8, e->at);
        }
        if ((rc = exec_stmt(&st, err)) != 0) return rc;
        i += (size_t)rows;
    }
    n_ev = 0;
    return 0;
}

static int flush_messages(struct store_conn *c, struct kf_err *err)
{
    size_t i = 0;
    int rc = 0;
    while (i < n_msg && rc == 0) {
        int rows = n_msg - i >= MULTI ? MULTI : 1;
        struct store_stmt *st;
        rc = store_prepare(c, rows == MULTI ? msg_sql_n : msg_sql_1, &st, err);
        if (rc) break;
        for (int r = 0; r < rows; r++) {
            const struct msg_row *m = &msg_buf[i + (size_t)r];
            int b = r * MSG_COLS;
            store_bind_int64(st, b + 1, m->id);
            store_bind_int64(st, b + 2, m->request_id);
            store_bind_int64(st, b + 3, m->client_id);
            store_bind_text(st, b + 4, m->kind, (size_t)-1);
            store_bind_int64(st, b + 5, m->author);
            store_bind_text(st, b + 6, m->side, (size_t)-1);
            store_bind_text(st, b + 7, m->body, (size_t)-1);
            store_bind_int64(st, b + 8, m->at);
        }
        rc = exec_stmt(&st, err);
        i += (size_t)rows;
    }
    for (size_t k = 0; k < n_msg; k++) free(msg_buf[k].body);
    n_msg = 0;
    return rc;
}

static int put_event(struct store_conn *c, int64_t id, int64_t request_id, int64_t client_id, const struct ev *e,
                     struct kf_err *err)
{
    struct ev_row *r = &ev_buf[n_ev++];
    r->id = id, r->request_id = request_id, r->client_id = client_id, r->actor = e->actor, r->at = e->at;
    snprintf(r->kind, sizeof r->kind, "%s", e->kind);
    snprintf(r->from, sizeof r->from, "%s", e->from);
    snprintf(r->to, sizeof r->to, "%s", e->to);
    return n_ev == MULTI ? flush_events(c, err) : 0;
}

static int put_message(struct store_conn *c, int64_t id, int64_t request_id, int64_t client_id, const char *kind,
                       int64_t author, const char *side, const char *body, int64_t at, struct kf_err *err)
{
    struct msg_row *m = &msg_buf[n_msg++];
    *m = (struct msg_row){.id = id, .request_id = request_id, .client_id = client_id, .author = author, .at = at,
                          .kind = kind, .side = side, .body = strdup(body)};
    if (!m->body) return kf_fail(err, KF_E_INTERNAL, NULL, "out of memory");
    return n_msg == MULTI ? flush_messages(c, err) : 0;
}

static int put_file(struct gen *g, struct store_conn *c, const struct client *cl, int64_t request_id, int64_t by,
                    int64_t at, struct kf_err *err)
{
    int k = (int)rnd(2);
    static const char *const names[2][3] = {{"error.log", "系统日志.txt", "打印机报错.log"},
                                            {"截图.png", "screenshot.png", "报错截图.png"}};
    static const char *const types[2] = {"text/plain", "image/png"};
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO files (id, client_id, sha256, name, media_type, size, owner_kind, owner_id, "
                           "uploaded_by, created) VALUES ($1, $2, $3, $4, $5, $6, 'request', $7, $8, $9)",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id_new(at));
    store_bind_int64(st, 2, cl->id);
    store_bind_blob(st, 3, cl->blob_sha[k], sizeof cl->blob_sha[k]);
    store_bind_text(st, 4, names[k][rnd(3)], (size_t)-1);
    store_bind_text(st, 5, types[k], (size_t)-1);
    store_bind_int64(st, 6, cl->blob_size[k]);
    store_bind_int64(st, 7, request_id);
    store_bind_int64(st, 8, by);
    store_bind_int64(st, 9, at);
    if ((rc = exec_stmt(&st, err)) != 0) return rc;
    if ((rc = store_prepare(c,
                            "INSERT INTO file_owners (client_id, owner_kind, owner_id, files) VALUES ($1, 'request', "
                            "$2, 1)",
                            &st, err)) != 0)
        return rc;
    store_bind_int64(st, 1, cl->id);
    store_bind_int64(st, 2, request_id);
    g->rows += 2;
    return exec_stmt(&st, err);
}

/* The final status of a request created `age` ms ago: a few thousand open ones in the last week,
 * resolved ones waiting for acceptance in the last fortnight, the rest closed. */
static const char *final_status(int64_t age)
{
    if (age < 7 * DAY_MS && chance(30)) {
        static const char *const open[] = {"new", "open", "open", "open", "waiting_customer", "waiting_client",
                                           "reopened"};
        return open[rnd(sizeof open / sizeof open[0])];
    }
    if (age < 14 * DAY_MS && chance(30)) return "resolved";
    return "closed";
}

static const char *const channels[] = {"phone", "phone", "phone", "phone", "phone", "phone", "phone", "web",
                                       "web",   "web",   "web",   "web",   "email", "email", "email", "email",
                                       "api",   "onsite", "onsite", "remote"};

/* One request with its history, conversation, attachment and index rows. */
static int one_request(struct gen *g, struct store_conn *c, long i, struct kf_err *err)
{
    /* created: ascending over the span, with jitter inside the request's slot */
    double slot = (double)(g->t_now - g->t_first) / (double)g->o.requests;
    int64_t created = g->t_first + (int64_t)(slot * (double)i) + (int64_t)(rnd64() % (uint64_t)(slot > 1 ? slot : 1));
    if (created > g->t_now - MIN_MS) created = g->t_now - MIN_MS;
    const struct client *cl = &g->clients[rnd(g->n_clients)];
    int64_t id = id_new(created);
    int64_t seq = ++g->seq;
    const char *status = final_status(g->t_now - created);
    int open = strcmp(status, "closed") != 0 && strcmp(status, "resolved") != 0;
    unsigned pr = (unsigned)rnd(100);
    int priority = pr < 5 ? 1 : pr < 20 ? 2 : pr < 80 ? 3 : 4;
    int64_t creator = g->agents[rnd(g->n_agents)];
    int64_t assignee = (!open || chance(85)) ? g->agents[1 + rnd(g->n_agents - 1)] : 0;
    if (strcmp(status, "new") == 0) assignee = chance(50) ? assignee : 0;
    int64_t first_resp = strcmp(status, "new") == 0 ? 0 : created + (int64_t)(5 + rnd(235)) * MIN_MS;
    int64_t resolved = 0, closed = 0;
    if (!open) {
        resolved = first_resp + (int64_t)(1 + rnd(96)) * HOUR_MS;
        if (strcmp(status, "closed") == 0) closed = resolved + (int64_t)(1 + rnd(7)) * DAY_MS;
    }
    if (first_resp > g->t_now) first_resp = g->t_now;
    if (resolved > g->t_now) resolved = g->t_now;
    if (closed > g->t_now) closed = g->t_now;
    int64_t updated = closed ? closed : resolved ? resolved : first_resp ? first_resp : created;

    struct text subject, body, msg, pub, staff;
    make_subject(&subject);
    make_body(&body);
    pub.len = 0, pub.s[0] = '\0', staff.len = 0, staff.s[0] = '\0';
    tx(&pub, "%s\n%s", subject.s, body.s);

    char number[32];
    request_format_number(seq, number, sizeof number);
    struct store_stmt *st;
    int rc = store_prepare(c,
                           "INSERT INTO requests (id, client_id, number, seq, customer_id, agreement_id, "
                           "service_kind_id, channel, priority, subject, body, status, assignee_id, team_id, "
                           "idempotency_key, first_response_at, resolved_at, closed_at, created_by, created, updated) "
                           "VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, $8, $9, $10, $11, $12, NULL, NULL, $13, $14, "
                           "$15, $16, $17, $18)",
                           &st, err);
    if (rc) return rc;
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, cl->id);
    store_bind_text(st, 3, number, (size_t)-1);
    store_bind_int64(st, 4, seq);
    store_bind_int64(st, 5, cl->agreement_id);
    store_bind_int64(st, 6, g->kind_ids[chance(85) ? 0 : 1]);
    store_bind_text(st, 7, channels[rnd(sizeof channels / sizeof channels[0])], (size_t)-1);
    store_bind_int64(st, 8, priority);
    store_bind_text(st, 9, subject.s, subject.len);
    store_bind_text(st, 10, body.s, body.len);
    store_bind_text(st, 11, status, (size_t)-1);
    if (assignee) store_bind_int64(st, 12, assignee);
    else store_bind_null(st, 12);
    if (first_resp) store_bind_int64(st, 13, first_resp);
    else store_bind_null(st, 13);
    if (resolved) store_bind_int64(st, 14, resolved);
    else store_bind_null(st, 14);
    if (closed) store_bind_int64(st, 15, closed);
    else store_bind_null(st, 15);
    store_bind_int64(st, 16, creator);
    store_bind_int64(st, 17, created);
    store_bind_int64(st, 18, updated);
    if ((rc = exec_stmt(&st, err)) != 0) return rc;
    g->rows++;

    /* history: what the domain's writes would have appended, oldest first */
    char prio[4], who[24];
    snprintf(prio, sizeof prio, "P%d", priority);
    snprintf(who, sizeof who, "%" PRId64, assignee);
    struct ev evs[8];
    int ne = 0;
    evs[ne++] = (struct ev){"status", "", "new", created, creator};
    evs[ne++] = (struct ev){"priority", "", prio, created, creator};
    if (assignee) evs[ne++] = (struct ev){"assignee", "", who, created + MIN_MS, creator};
    if (first_resp) {
        if (strcmp(status, "reopened") == 0) {
            evs[ne++] = (struct ev){"status", "new", "resolved", first_resp, assignee};
            evs[ne++] = (struct ev){"status", "resolved", "reopened", first_resp + HOUR_MS, assignee};
        } else {
            evs[ne++] = (struct ev){"status", "new", "open", first_resp, assignee};
            if (strncmp(status, "waiting_", 8) == 0)
                evs[ne++] = (struct ev){"status", "open", status, first_resp + MIN_MS, assignee};
        }
    }
    if (resolved) evs[ne++] = (struct ev){"status", "open", "resolved", resolved, assignee};
    if (closed) evs[ne++] = (struct ev){"status", "resolved", "closed", closed, assignee};
    for (int k = 0; k < ne; k++) {
        if (evs[k].at > g->t_now) evs[k].at = g->t_now;
        if ((rc = put_event(c, id_new(created), id, cl->id, &evs[k], err)) != 0) return rc;
    }
    g->rows += (uint64_t)ne;

    /* the conversation: 1..4 messages, mostly public replies, some internal notes */
    int nm = 1 + (int)rnd(4), has_notes = 0;
    if (strcmp(status, "new") == 0) nm = chance(70) ? 0 : 1;
    int64_t at = first_resp ? first_resp : created + 2 * MIN_MS;
    for (int k = 0; k < nm; k++) {
        msg.len = 0, msg.s[0] = '\0';
        const char *kind = "public", *side = "provider";
        int64_t author = assignee ? assignee : creator;
        unsigned r = (unsigned)rnd(100);
        if (k > 0 && r < 20) {
            kind = "internal";
            tx(&msg, "%s", pick(&v_notes));
            if (chance(40)) tx(&msg, "%s%s。", pick(&v_devices), pick(&v_problems));
            has_notes = 1;
        } else if (k > 0 && r < 50) {
            side = "client";
            author = cl->admin_id;
            tx(&msg, "%s", pick(&v_client_replies));
        } else {
            tx(&msg, "%s", pick(&v_replies));
            if (chance(25)) tx(&msg, "%s", pick(&v_wants));
        }
        if (at > g->t_now) at = g->t_now;
        if ((rc = put_message(c, id_new(created), id, cl->id, kind, author, side, msg.s, at, err)) != 0) return rc;
        if (strcmp(kind, "public") == 0) tx(&pub, "\n%s", msg.s);
        tx(&staff, "\n%s", msg.s);
        at += (int64_t)(10 + rnd(600)) * MIN_MS;
    }
    g->rows += (uint64_t)nm;
    if (chance(4) && (rc = put_file(g, c, cl, id, creator, created, err)) != 0) return rc;

    if (has_notes) {
        struct text full;
        full.len = 0, full.s[0] = '\0';
        tx(&full, "%s\n%s%s", subject.s, body.s, staff.s);
        staff = full;
    } else {
        staff = pub;
    }
    if ((rc = gen_index_request(c, id, cl->id, created, &pub, &staff, has_notes, err)) != 0) return rc;

    /* the read benchmark's sample, and the term counts */
    if (g->n_sample < SAMPLE_IDS) {
        g->sample_id[g->n_sample] = id, g->sample_client[g->n_sample] = cl->id;
        g->n_sample++;
    } else {
        uint64_t j = rnd((uint64_t)i + 1);
        if (j < SAMPLE_IDS) g->sample_id[j] = id, g->sample_client[j] = cl->id;
    }
    if ((i & 15) == 0) {
        g->stat_docs++;
        for (size_t t = 0; t < N_STAT_TERMS; t++)
            if (strstr(staff.s, stat_terms[t])) stat_hits[t]++;
    }
    return 0;
}

static int batch_fn(struct store_conn *c, void *arg, struct kf_err *err)
{
    struct gen *g = arg;
    long end = g->done + BATCH < g->o.requests ? g->done + BATCH : g->o.requests;
    int64_t seq0 = g->seq;
    uint64_t rows0 = g->rows;
    uint64_t rng0 = rng_state;
    long sample0 = g->n_sample, docs0 = g->stat_docs;
    int rc = 0;
    n_ev = 0;
    for (size_t k = 0; k < n_msg; k++) free(msg_buf[k].body);
    n_msg = 0;
    for (long i = g->done; i < end && rc == 0; i++) rc = one_request(g, c, i, err);
    if (rc == 0) rc = flush_events(c, err);
    if (rc == 0) rc = flush_messages(c, err);
    if (rc == 0) {
        struct store_stmt *st;
        rc = store_prepare(c, "UPDATE request_numbers SET last_seq = $1 WHERE name = 'SR'", &st, err);
        if (rc == 0) {
            store_bind_int64(st, 1, g->seq);
            rc = exec_stmt(&st, err);
        }
    }
    if (rc) { /* rolled back: so is our count */
        g->seq = seq0, g->rows = rows0, rng_state = rng0, g->n_sample = sample0, g->stat_docs = docs0;
        return rc;
    }
    g->rows++;
    return 0;
}

static void progress(struct gen *g, int final)
{
    double el = now_s() - g->t0;
    double frac = (double)g->done / (double)g->o.requests;
    double rps = el > 0 ? (double)g->rows / el : 0;
    double eta = frac > 0 ? el / frac - el : 0;
    char bar[41];
    int fill = (int)(frac * 40);
    for (int k = 0; k < 40; k++) bar[k] = k < fill ? '#' : '.';
    bar[40] = '\0';
    fprintf(stderr, "\rgen: [%s] %ld/%ld requests %5.1f%%  %.0f rows/s  %s %d:%02d ", bar, g->done, g->o.requests,
            frac * 100, rps, final ? "took" : "ETA", (int)(final ? el : eta) / 60, (int)(final ? el : eta) % 60);
    if (final) fputc('\n', stderr);
}

static int write_outputs(struct gen *g, double seconds)
{
    const struct opts *o = &g->o;
    if (o->ids_out) {
        FILE *f = fopen(o->ids_out, "w");
        if (!f) return -1;
        for (long k = 0; k < g->n_sample; k++) fprintf(f, "%" PRId64 " %" PRId64 "\n", g->sample_id[k], g->sample_client[k]);
        if (fclose(f) != 0) return -1;
    }
    if (o->info_out) {
        FILE *f = fopen(o->info_out, "w");
        if (!f) return -1;
        int applied = 0, latest = 0;
        struct kf_err e;
        kf_err_clear(&e);
        store_schema_version(g->env.store, &applied, &latest, &e);
        fprintf(f, "requests %ld\nseed %ld\nclients %zu\nagents %zu\nschema %d\nsearch_index %d\nrows %" PRIu64
                   "\nseconds %.1f\nclient_id %" PRId64 "\nagent bench.agent\n",
                o->requests, o->seed, g->n_clients, g->n_agents - 1, applied, GEN_HAVE_SEARCH, g->rows, seconds,
                g->clients[0].id);
        if (fclose(f) != 0) return -1;
    }
    if (o->stats_out) {
        FILE *f = fopen(o->stats_out, "w");
        if (!f) return -1;
        fprintf(f, "# term, share of requests containing it (full staff text, every 16th request: %ld)\n",
                g->stat_docs);
        for (size_t t = 0; t < N_STAT_TERMS; t++)
            fprintf(f, "%s %.5f\n", stat_terms[t], g->stat_docs ? (double)stat_hits[t] / (double)g->stat_docs : 0.0);
        if (fclose(f) != 0) return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct gen *g = calloc(1, sizeof *g);
    if (!g || parse_opts(argc, argv, &g->o) != 0) {
        usage(stderr);
        return 2;
    }
    if (sodium_init() < 0) return 1;
    rng_state ^= (uint64_t)g->o.seed * 0x9E3779B97F4A7C15ULL;
    if (rng_state == 0) rng_state = 1;
    struct vocab *all[] = {&v_devices, &v_problems, &v_wants, &v_places, &v_times, &v_replies, &v_client_replies,
                           &v_notes, &v_rare};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) vocab_init(all[k]);
    multi_init();

    FILE *pf = fopen(g->o.password_file, "r");
    if (!pf || !fgets(g->password, sizeof g->password, pf)) {
        fprintf(stderr, "gen: cannot read the password file %s\n", g->o.password_file);
        return 1;
    }
    fclose(pf);
    g->password[strcspn(g->password, "\r\n")] = '\0';

    g->t_now = clock_real_ms();
    g->t_first = g->t_now - SPAN_MS;
    g->clock = clock_new_fake(g->t_first - 7 * DAY_MS); /* the set-up happens a week before the first request */
    kf_err_clear(&g->err);
    if (access(g->o.key_file, F_OK) != 0 && vault_key_file_create(g->o.key_file, &g->err) != 0)
        return die(g, "the key file");
    if (password_init(&g->err) != 0) return die(g, "password_init");
    if (store_open(g->o.db, &g->env.store, &g->err) != 0) return die(g, "opening the database");
    if (store_migrate(g->env.store, clock_now_ms(g->clock), &g->err) != 0) return die(g, "the migrations");
    if (vault_open(g->o.key_file, g->env.store, &g->env.vault, &g->err) != 0) return die(g, "the vault");
    vault_set_clock(g->env.vault, g->clock);
    g->env.clock = g->clock;
    g->ctx = (struct kf_ctx){.env = &g->env, .arena = arena_new(0), .request_id = "gen", .actor = &g->actor,
                             .source_addr = "gen"};
    double t_start = now_s();
    if (setup(g) != 0) return 1;
    fprintf(stderr, "gen: set-up took %.1f s; now %ld requests (%s)%s\n", now_s() - t_start, g->o.requests,
            store_engine(g->env.store), GEN_HAVE_SEARCH ? ", indexed for search" : ", no search index in this build");

    g->t0 = now_s();
    double last = 0;
    while (g->done < g->o.requests) {
        long end = g->done + BATCH < g->o.requests ? g->done + BATCH : g->o.requests;
        if (store_write(g->env.store, batch_fn, g, &g->err) != 0) return die(g, "a batch of requests");
        g->done = end;
        arena_free(&g->ctx.arena);
        g->ctx.arena = arena_new(0);
        if (now_s() - last >= 0.5) {
            progress(g, 0);
            last = now_s();
        }
    }
    progress(g, 1);
    double secs = now_s() - t_start;
    if (write_outputs(g, secs) != 0) {
        fprintf(stderr, "gen: cannot write an output file\n");
        return 1;
    }
    fprintf(stderr, "gen: %" PRIu64 " rows in %.1f s\n", g->rows, secs);
    vault_close(&g->env.vault);
    store_close(&g->env.store);
    clock_free(&g->clock);
    arena_free(&g->ctx.arena);
    return 0;
}
