"""Search (issue 7 item 1; DESIGN.md "Search"; docs/search.md) through HTTP on both engines.

The equality test is the issue's "done when": a generated corpus of thousands of requests (fixed
seed: common and rare Chinese, English, product codes, full-width forms, punctuation, replies and
internal notes) and hundreds of queries; for each query the API's total and ordered ids equal those
of a plain Python substring scan of the same normalised texts — for provider staff (notes included)
and for a client user (their own client's public texts only, C5.2). Also the bad input of the
issue: empty, 10 KB, invalid UTF-8, only punctuation, FTS syntax, wrong-typed filters, forged
cursors, another tenant's client_id — a correct result or a clear 4xx, never a 5xx."""
import random
import threading
import time
import unicodedata
import urllib.parse

import kefu_http as kh
from test_admin_api import login_as, new_site
from test_agreements_api import activate

SEED = 20261203
N_REQUESTS = 2500

COMMON = "的一是不了人我在有他这中大来上个国到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长"
RARE = "龘齉爩麤靐饕餮魑魅魍魉鬯黉"
WORDS = ["打印机", "发票", "退款", "空调", "网络", "服务器", "U盘", "HP-1020", "ＡＢＣ１２３", "server", "driver",
         "Printer", "ERROR", "无法连接", "蓝屏", "硬盘", "显示器", "密码", "重置", "ｈｐ－１０２０", "u盘", "Ｕ盘"]
PUNCT = list("。，！？、：；（）") + ['"', "*", "-", ":", "^", "NEAR(", "(", ")", "'"]
SPACES = [" ", "\n", "\t", "\u3000", "  "]

# kefu's white space (normalize_is_space): Zs, Zl, Zp and TAB LF VT FF CR NEL
def _is_space(ch):
    return ch in "\t\n\x0b\x0c\r\x85" or unicodedata.category(ch) in ("Zs", "Zl", "Zp")


def norm(s):
    """NFKC + case folding, white space runs as one space, trimmed (search_normalize)."""
    s = unicodedata.normalize("NFKC", s).casefold()
    out, pending = [], False
    for ch in s:
        if _is_space(ch):
            pending = bool(out)
            continue
        if pending:
            out.append(" ")
            pending = False
        out.append(ch)
    return "".join(out)


def gen_text(rnd, lo, hi, spaces=True):
    parts = []
    n = rnd.randint(lo, hi)
    while sum(len(p) for p in parts) < n:
        r = rnd.random()
        if r < 0.55:
            parts.append("".join(rnd.choice(COMMON) for _ in range(rnd.randint(1, 6))))
        elif r < 0.62:
            parts.append(rnd.choice(RARE))
        elif r < 0.82:
            parts.append(rnd.choice(WORDS))
        elif r < 0.92:
            parts.append(rnd.choice(PUNCT))
        elif spaces:
            parts.append(rnd.choice(SPACES))
    return "".join(parts).strip() or "空"


def gen_corpus(rnd):
    items = []
    for i in range(N_REQUESTS):
        msgs = []
        for _ in range(rnd.choice([0, 0, 1, 1, 2, 3])):
            msgs.append(("internal" if rnd.random() < 0.3 else "public", gen_text(rnd, 3, 60)))
        items.append({"client": "A" if rnd.random() < 0.6 else "B",
                      "subject": gen_text(rnd, 2, 30, spaces=False).replace("\n", "")[:100],
                      "body": gen_text(rnd, 0, 120), "messages": msgs,
                      "priority": rnd.choice(["P1", "P2", "P3", "P4"])})
    return items


def public_text(it):
    if "_pub" not in it:
        it["_pub"] = _public_text(it)
    return it["_pub"]


def staff_text(it):
    if "_staff" not in it:
        it["_staff"] = _staff_text(it)
    return it["_staff"]


def _public_text(it):
    return norm(" ".join([it["subject"], it["body"]] + [b for k, b in it["messages"] if k == "public"]))


def _staff_text(it):
    return norm(" ".join([it["subject"], it["body"]] + [b for k, b in it["messages"]]))


def create_all(admin, ids, items):
    errors = []
    lock = threading.Lock()
    nxt = [0]

    def worker():
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= len(items):
                return
            it = items[i]
            cid = ids[it["client"]]
            r = admin.call("POST", "/api/v1/requests", {"client_id": cid, "service_kind": "technical_support",
                                                         "channel": "phone", "priority": it["priority"],
                                                         "subject": it["subject"], "body": it["body"]})
            if r.status != 201:
                errors.append(r)
                return
            it["id"], it["cid"], it["created"] = r.json["id"], cid, r.json["created"]
            for kind, text in it["messages"]:
                tail = "replies" if kind == "public" else "notes"
                r = admin.call("POST", "/api/v1/requests/%s/%s?client_id=%s" % (it["id"], tail, cid), {"body": text})
                if r.status != 201:
                    errors.append(r)
                    return

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]


def gen_queries(rnd, items):
    qs = ["rv", "HP-1020", "hp-1020", "ｈｐ－１０２０", "U盘", "u盘", "Ｕ盘", "ＡＢＣ", "abc123", "ａｂｃ１２３", "。", "，",
          '"', "*", "-", ":", "^", "NEAR(", "NEAR(打印", '"打印机"', "打印*", "-发票", "a:b", "^的", "(", "()",
          "打印 发票", "服务器 ERROR", "的 是 不", "server driver", "printer", "PRINTER", "龘", "饕餮", "魑魅魍魉",
          "的", "一", "是", "不是", "中国", "无法连接", "蓝屏 硬盘", "'", "1020", "20", "0", "er", "e", "r",
          "打印机无法", "找不到的词", "Ｕ盘 退款 空调", "ABC１２３ 网络"]
    for r in RARE:
        qs.append(r)
    for c in COMMON[:30]:
        qs.append(c)
    while len(qs) < 340:
        it = rnd.choice(items)
        t = staff_text(it) if rnd.random() < 0.5 else public_text(it)
        n = rnd.randint(1, 4)
        if len(t) <= n:
            continue
        i = rnd.randint(0, len(t) - n)
        sub = t[i:i + n].strip()
        if not sub:
            continue
        if rnd.random() < 0.15:
            sub = sub + " " + rnd.choice(COMMON)
        qs.append(sub)
    return qs


def expected(items, q, staff, client_id=None):
    terms = norm(q).split(" ")
    hits = []
    for it in items:
        if client_id and it["cid"] != client_id:
            continue
        text = staff_text(it) if staff else public_text(it)
        if all(t in text for t in terms):
            hits.append(it)
    hits.sort(key=lambda it: (it["created"], int(it["id"])), reverse=True)
    return [it["id"] for it in hits]


def search(actor, q, **params):
    params["q"] = q
    return actor.call("GET", "/api/v1/search?" + urllib.parse.urlencode(params))


def test_search_equals_a_substring_scan_on_a_generated_corpus(kefu, tmp_path):
    """Issue 7 "done when": every query's total and ordered ids equal a plain substring scan, for
    provider staff (with notes) and a client user (public texts of their own client only, C5.2)."""
    srv, admin, ids = new_site(kefu, tmp_path)
    activate(admin, login_as(srv, "boss-A"), ids["A"])
    activate(admin, login_as(srv, "boss-B"), ids["B"])
    rnd = random.Random(SEED)
    items = gen_corpus(rnd)
    t0 = time.monotonic()
    create_all(admin, ids, items)
    print("search corpus: %d requests in %.1f s" % (len(items), time.monotonic() - t0))
    boss = login_as(srv, "boss-A")
    queries = gen_queries(rnd, items)
    t0 = time.monotonic()
    assert len(queries) >= 300
    for n, q in enumerate(queries):
        want = expected(items, q, staff=True)
        r = search(admin, q, limit=100)
        assert r.status == 200, (q, r)
        assert r.json["total"] == len(want), (q, r.json["total"], len(want))
        assert [i["id"] for i in r.json["items"]] == want[:100], q
        if n % 3 == 0:  # a client user: only their own client's public texts
            want_c = expected(items, q, staff=False, client_id=ids["A"])
            r = search(boss, q, limit=100)
            assert r.status == 200, (q, r)
            assert r.json["total"] == len(want_c), (q, r.json["total"], len(want_c))
            assert [i["id"] for i in r.json["items"]] == want_c[:100], q
    print("search queries: %d in %.1f s" % (len(queries), time.monotonic() - t0))
    # keyset pages walk the whole answer of a common query, newest first, each hit once
    q = COMMON[0]
    want = expected(items, q, staff=True)
    got, cursor = [], None
    while True:
        params = {"limit": 37}
        if cursor:
            params["cursor"] = cursor
        r = search(admin, q, **params)
        assert r.status == 200 and r.json["total"] == len(want), r
        got += [i["id"] for i in r.json["items"]]
        cursor = r.json["next_cursor"]
        if not cursor:
            break
    assert got == want
    # the plans (docs/search.md "How it is fast"): the count from the index's visibility marks and the
    # page walking the newest documents (common terms) or taking the index's hits (rare ones), with a
    # fallback when the walk runs out of budget — every page of a common, a middling and a rare term,
    # for staff, staff filtering by client, and a client user; and a term common in internal notes but
    # rare in what a client may see (the shadowed public texts)
    boss_b = login_as(srv, "boss-B")
    notes_q = "机密备注词"
    olds_a = [it for it in items if it["cid"] == ids["A"]][:25]
    for it in olds_a + [it for it in items if it not in olds_a][:175]:
        kind = "public" if it in olds_a else "internal"
        r = admin.call("POST", "/api/v1/requests/%s/%s?client_id=%s" % (
            it["id"], "replies" if kind == "public" else "notes", it["cid"]), {"body": notes_q})
        assert r.status == 201, r
        it["messages"].append((kind, notes_q))
        it.pop("_pub", None)
        it.pop("_staff", None)
    assert len(expected(items, notes_q, staff=False, client_id=ids["A"])) == 25
    for q in [COMMON[0], "打印机", "蓝屏 硬盘", RARE[0], notes_q]:
        for actor, staff, cid, params in [(admin, True, None, {}), (admin, True, ids["B"], {"client_id": ids["B"]}),
                                          (boss_b, False, ids["B"], {}), (boss, False, ids["A"], {})]:
            want = expected(items, q, staff=staff, client_id=cid)
            got, cursor = [], None
            while True:
                pp = dict(params, limit=20)
                if cursor:
                    pp["cursor"] = cursor
                r = search(actor, q, **pp)
                assert r.status == 200 and r.json["total"] == len(want), (q, staff, cid, r)
                got += [i["id"] for i in r.json["items"]]
                cursor = r.json["next_cursor"]
                if not cursor:
                    break
            assert got == want, (q, staff, cid)
    # filters combine with the text
    want_p1 = [it["id"] for it in sorted(items, key=lambda it: (it["created"], int(it["id"])), reverse=True)
               if it["priority"] == "P1" and it["cid"] == ids["B"] and q in staff_text(it)]
    r = search(admin, q, priority="P1", client_id=ids["B"], limit=100)
    assert r.status == 200 and r.json["total"] == len(want_p1), r
    assert [i["id"] for i in r.json["items"]] == want_p1[:100]


def test_search_snippets_notes_and_tenants(kefu, tmp_path):
    """Snippets are escaped with the match in <mark>, mapped back from the normalised form to the
    original text (full-width stays full-width); internal notes are found by provider staff only,
    and a client user never sees another client's requests (C5.2)."""
    srv, admin, ids = new_site(kefu, tmp_path)
    A, B = ids["A"], ids["B"]
    boss = login_as(srv, "boss-A")
    activate(admin, boss, A)
    activate(admin, login_as(srv, "boss-B"), B)
    r = admin.call("POST", "/api/v1/requests", {"client_id": A, "service_kind": "technical_support",
                                                 "subject": "<b>打印机</b> ＨＰ－１０２０ 无法打印",
                                                 "body": "请尽快处理"})
    assert r.status == 201, r
    rid = r.json["id"]
    r = admin.call("POST", "/api/v1/requests/%s/notes?client_id=%s" % (rid, A), {"body": "内部备注：客户欠费"})
    assert r.status == 201, r
    rb = admin.call("POST", "/api/v1/requests", {"client_id": B, "service_kind": "technical_support",
                                                  "subject": "乙方的打印机", "body": "hp-1020"})
    assert rb.status == 201, rb
    r = search(admin, "hp-1020")
    assert r.status == 200 and r.json["total"] == 2, r
    hit = [i for i in r.json["items"] if i["id"] == rid][0]
    assert hit["kind"] == "request" and hit["number"].startswith("SR-") and hit["client_id"] == A
    assert "<mark>ＨＰ－１０２０</mark>" in hit["snippet_html"], hit
    assert "&lt;b&gt;" in hit["snippet_html"] and "<b>" not in hit["snippet_html"], hit
    # notes: provider staff find them, client users never
    r = search(admin, "欠费")
    assert r.status == 200 and [i["id"] for i in r.json["items"]] == [rid], r
    r = search(boss, "欠费")
    assert r.status == 200 and r.json["total"] == 0 and r.json["items"] == [], r
    # tenants: boss-A sees only A's; another client's client_id is refused, nothing of theirs shows
    r = search(boss, "打印机")
    assert r.status == 200 and [i["id"] for i in r.json["items"]] == [rid], r
    r = search(boss, "打印机", client_id=B)
    assert r.status in (403, 404) or (r.status == 200 and r.json["total"] == 0), r
    assert rb.json["id"] not in r.text
    # a reply is indexed in the same write; an edit of the subject too
    r = admin.call("POST", "/api/v1/requests/%s/replies?client_id=%s" % (rb.json["id"], B), {"body": "已更换硒鼓"})
    assert r.status == 201, r
    assert [i["id"] for i in search(admin, "硒鼓").json["items"]] == [rb.json["id"]]
    r = admin.call("PATCH", "/api/v1/requests/%s?client_id=%s" % (rid, A), {"subject": "扫描仪卡纸"})
    assert r.status == 200, r
    assert search(admin, "扫描仪").json["total"] == 1
    assert search(admin, "无法打印").json["total"] == 0
    # the SLA filter combines with the text: the request's stored state (requests.sla_state) finds it,
    # another state does not
    r = admin.call("GET", "/api/v1/requests?client_id=%s" % A)
    state = [i for i in r.json["items"] if i["id"] == rid][0]["sla_state"]
    assert state in ("running", "paused", "warning", "breached", "met", "missed"), state
    assert [i["id"] for i in search(admin, "扫描仪", sla=state).json["items"]] == [rid]
    other = "met" if state != "met" else "breached"
    r = search(admin, "扫描仪", sla=other)
    assert r.status == 200 and r.json["total"] == 0, r


def test_search_bad_input_is_a_clear_4xx_never_5xx_and_the_page(kefu, tmp_path):
    """The issue's bad input: empty, 10 KB, invalid UTF-8, only punctuation, FTS syntax, wrong-typed
    filters, forged and foreign cursors — a correct result or a clear 4xx. And the /search page:
    the form, the total, and a bad query re-shown with its message (422)."""
    srv, admin, ids = new_site(kefu, tmp_path)
    activate(admin, login_as(srv, "boss-A"), ids["A"])
    for subject in ("打印机。坏了", "a*b NEAR(x) -y z:w ^v \"q\""):
        r = admin.call("POST", "/api/v1/requests", {"client_id": ids["A"], "service_kind": "technical_support",
                                                     "subject": subject})
        assert r.status == 201, r
    kh.assert_error(search(admin, ""), 422, "invalid", "q")
    kh.assert_error(search(admin, "   "), 422, "invalid", "q")
    r = search(admin, "字" * 3400)  # 10 KB: past the URI limit (414) — a clear 4xx either way
    assert r.status in (414, 422) and r.json["error"]["code"] in ("uri_too_long", "invalid"), r
    kh.assert_error(search(admin, "a" * 2000), 422, "invalid", "q")
    kh.assert_error(search(admin, "字" * 201), 422, "invalid", "q")
    kh.assert_error(search(admin, " ".join("ab" for _ in range(11))), 422, "invalid", "q")
    r = admin.call("GET", "/api/v1/search?q=%FF%FE")
    assert r.status in (400, 422), r
    # punctuation and FTS syntax are text: substring semantics
    for q, n in [("。", 1), ("，！", 0), ('"', 1), ('\"q\"', 1), ("*", 1), ("a*b", 1), ("NEAR(", 1), ("NEAR(x)", 1),
                 ("-", 1), ("-y", 1), (":", 1), ("z:w", 1), ("^", 1), ("^v", 1), ('"a" OR "b"', 0), ("a NOT b", 0),
                 ("*b near(x)", 1)]:
        r = search(admin, q)
        assert r.status == 200 and r.json["total"] == n, (q, r)
    kh.assert_error(search(admin, "打印", priority="abc"), 422, "invalid", "priority")
    kh.assert_error(search(admin, "打印", assignee_id="x"), 422, "invalid", "assignee_id")
    kh.assert_error(search(admin, "打印", client_id="-1"), 422, "invalid", "client_id")
    kh.assert_error(search(admin, "打印", limit="0"), 422, "invalid", "limit")
    kh.assert_error(search(admin, "打印", limit="abc"), 422, "invalid", "limit")
    kh.assert_error(search(admin, "打印", **{"from": "yesterday"}), 422, "invalid", "from")
    kh.assert_error(search(admin, "打印", kind="users"), 422, "invalid", "kind")
    kh.assert_error(search(admin, "打印", status="lost"), 422, "invalid", "status")
    kh.assert_error(search(admin, "打印", sla="late"), 422, "invalid", "sla")
    kh.assert_error(search(admin, "打印", cursor="forged"), 400, "bad_request", "cursor")
    kh.assert_error(search(admin, "打印", cursor="A" * 32), 400, "bad_request", "cursor")
    kh.assert_error(search(admin, "打印", cursor="x" * 2000), 400, "bad_request", "cursor")
    # a cursor of another search is refused, not used as a position of this one
    r = search(admin, "打", limit=1)
    assert r.status == 200 and r.json["total"] == 1 and r.json["next_cursor"], r
    kh.assert_error(search(admin, "印", cursor=r.json["next_cursor"]), 400, "bad_request", "cursor")
    r2 = search(admin, "打", limit=1, cursor=r.json["next_cursor"])
    assert r2.status == 200 and r2.json["items"] == [] and r2.json["total"] == 1, r2
    # the page
    r = admin.call("GET", "/search")
    assert r.status == 200 and 'name="q"' in r.text, r
    # reached from the navigation; the request filters are choices, the submitted one kept
    r = admin.call("GET", "/")
    assert r.status == 200 and 'href="/search"' in r.text, r
    r = admin.call("GET", "/search?q=" + urllib.parse.quote("打印") + "&status=open&priority=P2&channel=api&sla=running")
    assert r.status == 200, r
    for name, value in (("status", "open"), ("priority", "P2"), ("channel", "api"), ("sla", "running")):
        assert f'name="{name}"' in r.text and f'<option value="{value}" selected>' in r.text, (name, r.text)
    r = admin.call("GET", "/search?q=" + urllib.parse.quote("打印"))
    assert r.status == 200 and "search-total" in r.text and "<mark>打印</mark>" in r.text, r
    r = admin.call("GET", "/search?q=")
    assert r.status == 422 and 'aria-invalid="true"' in r.text, r


def test_search_agreements_and_notices_for_their_readers(kefu, tmp_path):
    """Agreements (contract number, parties, supplementary terms) and notices (subject, body) are
    found by their readers; a client user finds only their own client's (C5.2)."""
    srv, admin, ids = new_site(kefu, tmp_path)
    A, B = ids["A"], ids["B"]
    boss_a, boss_b = login_as(srv, "boss-A"), login_as(srv, "boss-B")
    g = activate(admin, boss_a, A)
    assert g["contract_number"]
    r = search(admin, g["contract_number"].lower(), kind="agreement")
    assert r.status == 200 and [i["id"] for i in r.json["items"]] == [g["id"]], r
    assert r.json["items"][0]["title"] == g["contract_number"]
    assert search(boss_a, "友好协商", kind="agreement").json["total"] == 1
    assert search(boss_b, "友好协商", kind="agreement").json["total"] == 0
    r = admin.call("POST", "/api/v1/notices", {"client_id": A, "kind": "change", "subject": "服务时间调整通知",
                                               "body": "春节期间ＡＢＣ服务暂停。"})
    assert r.status == 201, r
    nid = r.json["id"]
    r = search(admin, "abc服务", kind="notice")
    assert r.status == 200 and [i["id"] for i in r.json["items"]] == [nid], r
    assert "<mark>ＡＢＣ服务</mark>" in r.json["items"][0]["snippet_html"]
    assert [i["id"] for i in search(boss_a, "调整", kind="notice").json["items"]] == [nid]
    assert search(boss_b, "调整", kind="notice").json["total"] == 0
    # customers: through the keyed name tokens, within one client
    r = search(admin, "顾客", kind="customer", client_id=A)
    assert r.status == 200 and [i["id"] for i in r.json["items"]] == [ids["customerA"]], r
    assert "<mark>顾客</mark>" in r.json["items"][0]["snippet_html"]
    assert [i["id"] for i in search(boss_b, "顾客", kind="customer").json["items"]] == [ids["customerB"]]
    kh.assert_error(search(admin, "顾客", kind="customer"), 422, "invalid", "client_id")
