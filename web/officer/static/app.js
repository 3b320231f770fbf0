// Officers' console: sign in with a token, follow the team's assignments
// live, open a case, act on it. No framework and nothing loaded from
// outside this origin; every text from the API is set as textContent.
(function () {
  "use strict";

  var TOKEN_KEY = "nuisance.officer.token";
  var CATEGORY = { noise: "噪声", dust: "扬尘", cooking_smoke: "油烟" };
  // The kinds by the names the bureau uses (seeds/categories.json, as the
  // weekly report shows them).
  var SUBCATEGORY = {
    construction: "建筑施工噪声", social_life: "社会生活噪声", traffic: "交通运输噪声", industrial: "工业噪声",
    construction_site: "施工扬尘", road: "道路扬尘", yard: "堆场扬尘", restaurant: "餐饮油烟", open_air_bbq: "露天烧烤"
  };
  var DISTRICT = { siming: "思明区", haicang: "海沧区", huli: "湖里区", jimei: "集美区", tongan: "同安区", xiangan: "翔安区" };
  var PRIORITY = { urgent: "紧急", priority: "优先", normal: "一般" };
  // STATUS is caseflow.StatusNames: the API's refusals name a status so.
  var STATUS = { open: "待派单", assigned: "待签收", accepted: "处理中", resolved: "已办结", returned: "已退单", closed: "已销号" };
  // A closed case whose complaints supervisors' corrections (分拣更正)
  // all moved out to other cases (moved_out) was never handled: it reads
  // 已移出, not 已销号.
  var MOVED_OUT = "已移出";
  function statusText(o) { return o.status === "closed" && o.moved_out ? MOVED_OUT : label(STATUS, o.status); }
  var OUTCOME = { rectified: "已整改", no_violation: "无违法行为", penalized: "已处罚", referred: "已移交" };
  var DEADLINE = { sign: "签收", resolve: "办结" };
  var ACTION = {
    open: "立案", merge: "并案", assign: "派单", reassign: "改派", extend: "延期", accept: "签收", resolve: "办结", "return": "退单",
    reopen: "重新交办", escalate: "督办", close: "销号", reveal_caller: "查看来电号码", remove: "分拣更正移出"
  };
  var TABS = { active: ["assigned", "accepted"], assigned: ["assigned"], accepted: ["accepted"], done: ["resolved", "closed"], waiting: ["open", "returned"], hotspots: [], triage: [], reports: [] };
  // The waiting tab (待派单, supervisors and admins) lists the cases no team
  // holds: open, or returned (退单) with no team left, for 改派.
  // The triage tab (分拣, supervisors and admins) lists the complaints the
  // pipeline could not place, classify or route, to be corrected by hand:
  // today's, or under 历史 those of work orders loaded as history (a
  // backfill of what the hotline closed long ago), which may number
  // thousands and must not bury today's.
  var TRIAGE_KIND = { unlocated: "未能定位", unclassified: "未能分类", unrouted: "无法派单" };
  var SUBCATEGORIES = {
    noise: ["construction", "social_life", "traffic", "industrial"],
    dust: ["construction_site", "road", "yard"],
    cooking_smoke: ["restaurant", "open_air_bbq"]
  };
  // The reports tab (周报, supervisors and admins, whom the reporter
  // serves) lists the weekly reports and shows one in the page.
  // The hotspots tab lists the repeat-complaint places in the caller's
  // scope (a supervisor's district, the places of an officer's cases).
  var HOTSPOT_STATUS = { emerging: "新出现", active: "持续", escalated: "升级" };

  var state = { tab: "active", items: [], next: "", fresh: {}, caseId: "", caseData: null, source: null, retry: 0, role: "", resolveDue: "",
    caseDistrict: "", caseTeam: "", lastEventId: "", streamOpened: false, replaced: false, pages: 0, triageHistory: false, triageTotal: -1,
    triageCapped: false };
  var districts = null;

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function svgEl(tag, attrs) {
    var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }
  function token() { try { return localStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; } }

  var toastTimer = 0;
  function toast(msg) {
    var t = $("toast");
    t.textContent = msg;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { t.hidden = true; }, 3500);
  }

  // ApiError carries the problem+json detail of a failed call, and the
  // fields it names (errors[]: field, detail); status 0 is the network's
  // failure, with no answer from the server.
  function ApiError(status, detail, errors) { this.status = status; this.message = detail; this.errors = errors || []; }

  // TIMEOUT is how long a request waits for its answer. A mobile network
  // can swallow a request with no answer and no error, and the browser
  // would then wait for minutes with the buttons disabled.
  var TIMEOUT = 15000;
  var NO_ANSWER = "网络无应答";

  // timed fetches path and reads its answer with read, within TIMEOUT: a
  // request not answered by then is aborted and fails with NO_ANSWER; one
  // the network broke fails with 网络异常 (the browser's own words are
  // English).
  function timed(path, init, read) {
    var ctl = typeof AbortController === "function" ? new AbortController() : null;
    if (ctl) { init.signal = ctl.signal; }
    var timer = 0;
    var late = new Promise(function (resolve, reject) {
      timer = setTimeout(function () {
        if (ctl) { ctl.abort(); }
        reject(new ApiError(0, NO_ANSWER));
      }, TIMEOUT);
    });
    var work = fetch(path, init).then(read).catch(function (err) {
      if (err instanceof ApiError) { throw err; }
      throw new ApiError(0, "网络异常");
    });
    return Promise.race([work, late]).then(function (v) {
      clearTimeout(timer);
      return v;
    }, function (err) {
      clearTimeout(timer);
      throw err;
    });
  }

  // calmUntil is when the server takes requests again, after it refused
  // one for the token's rate (429, Retry-After): nothing is sent before,
  // as a request sent sooner is refused again and spends the budget.
  var calmUntil = 0;
  function later(ms) { return new Promise(function (resolve) { setTimeout(resolve, Math.max(0, ms)); }); }

  // retryAfter reads Retry-After, seconds or a date, as whole seconds
  // from now (at least 1).
  function retryAfter(res) {
    var v = (res.headers.get("Retry-After") || "").trim();
    var secs = /^[0-9]+$/.test(v) ? parseInt(v, 10) : Math.ceil((new Date(v).getTime() - Date.now()) / 1000);
    return isFinite(secs) && secs >= 1 ? secs : 1;
  }

  function api(method, path, body) {
    if (Date.now() < calmUntil) {
      return later(calmUntil - Date.now()).then(function () { return api(method, path, body); });
    }
    var headers = { "Accept": "application/json", "Authorization": "Bearer " + token() };
    var init = { method: method, headers: headers, cache: "no-store", credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return timed(path, init, function (res) {
      if (res.status === 401) {
        signOut("令牌无效或已停用，请重新登录");
        throw new ApiError(401, "未登录");
      }
      if (res.status === 429) {
        // The token is over its rate: the server's words are English.
        var secs = retryAfter(res);
        calmUntil = Math.max(calmUntil, Date.now() + secs * 1000);
        throw new ApiError(429, "操作过于频繁，请" + secs + "秒后再试");
      }
      var ct = res.headers.get("Content-Type") || "";
      var parsed = ct.indexOf("json") >= 0 ? res.json() : Promise.resolve(null);
      return parsed.then(function (data) {
        if (!res.ok) {
          var detail = (data && (data.detail || data.title)) || ("请求失败 (" + res.status + ")");
          throw new ApiError(res.status, detail, data && Array.isArray(data.errors) ? data.errors : []);
        }
        return data;
      });
    });
  }

  // getFile reads one of the console's own JSON files (teams, district
  // outlines), within TIMEOUT too.
  function getFile(name) {
    return timed(name, { credentials: "same-origin" }, function (r) {
      if (!r.ok) { throw new ApiError(r.status, "请求失败 (" + r.status + ")"); }
      return r.json();
    });
  }

  function label(map, v) { return (v && map[v]) || v || ""; }
  function categoryText(o) {
    var c = label(CATEGORY, o.category) || "未分类";
    return o.subcategory ? c + " · " + label(SUBCATEGORY, o.subcategory) : c;
  }
  function caseIdOf(o) { return o.case_id || o.id || ""; }
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  // Every time is shown as Xiamen keeps it (Asia/Shanghai), whatever zone
  // the phone is set to: the bureau, the hotline and the deadlines go by
  // it. Without the zone's data (an old browser) it is UTC+8, which
  // Shanghai has kept since 1991.
  var SHANGHAI = null;
  try {
    SHANGHAI = new Intl.DateTimeFormat("en-US", { timeZone: "Asia/Shanghai", hourCycle: "h23",
      year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric" });
  } catch (e) { /* no time zone data: UTC+8 below */ }
  // inShanghai is d's calendar date and time of day in Asia/Shanghai.
  function inShanghai(d) {
    if (SHANGHAI && SHANGHAI.formatToParts) {
      var p = {};
      SHANGHAI.formatToParts(d).forEach(function (x) { p[x.type] = parseInt(x.value, 10); });
      return { year: p.year, month: p.month, day: p.day, hour: p.hour % 24, minute: p.minute };
    }
    var t = new Date(d.getTime() + 8 * 3600000);
    return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate(), hour: t.getUTCHours(), minute: t.getUTCMinutes() };
  }
  // shanghaiDate is the YYYY-MM-DD of d in Asia/Shanghai.
  function shanghaiDate(d) {
    var t = inShanghai(d);
    return t.year + "-" + pad(t.month) + "-" + pad(t.day);
  }
  function when(s) {
    if (!s) { return ""; }
    var d = new Date(s);
    if (isNaN(d)) { return ""; }
    var t = inShanghai(d);
    return t.month + "月" + t.day + "日 " + pad(t.hour) + ":" + pad(t.minute);
  }

  // dayOf is the date of s in Asia/Shanghai with its year (2024年3月11日),
  // for what happened long ago.
  function dayOf(s) {
    var d = new Date(s);
    if (!s || isNaN(d)) { return ""; }
    var t = inShanghai(d);
    return t.year + "年" + t.month + "月" + t.day + "日";
  }

  // dueOf is the deadline that matters now: signing for an assigned case,
  // resolving an accepted one.
  function dueOf(o) {
    if (o.status === "assigned" && o.sign_due) { return { kind: "签收", at: o.sign_due }; }
    if (o.status === "accepted" && o.resolve_due) { return { kind: "办结", at: o.resolve_due }; }
    return null;
  }

  // holds says whether a team holds case o: it was sent to one that has
  // not given it back (待派单, open or returned, no team holds it, though
  // the team that returned it is still recorded).
  function holds(o) { return !!o.team && o.status !== "open" && o.status !== "returned"; }

  // overdueNow says whether o's current deadline has passed: the 督办
  // flag of the case (escalated) outlives a 改派, and the new team's
  // deadline is not the one that passed.
  function overdueNow(o) {
    var due = dueOf(o);
    return !!due && new Date(due.at).getTime() < Date.now();
  }
  function escalatedNow(o) { return !!o.escalated && overdueNow(o); }

  // reopenedOf says whether o was reopened (重新交办) after a resolution.
  function reopenedOf(o) { return !!o.reopened_at || (typeof o.reopened === "number" && o.reopened > 0); }
  // reopenedNow says whether o is reopened and worked again: resolved
  // (or closed) once more, it is 已办结 and no longer 重新交办.
  function reopenedNow(o) { return reopenedOf(o) && o.status !== "resolved" && o.status !== "closed"; }

  function span(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    if (d > 0) { return d + "天" + h + "小时"; }
    return pad(h) + ":" + pad(m) + ":" + pad(s % 60);
  }

  function dueNode(o) {
    var due = dueOf(o);
    if (!due) { return el("span", "due", ""); }
    var n = el("span", "due");
    n.setAttribute("data-due", due.at);
    n.setAttribute("data-kind", due.kind);
    tickOne(n, Date.now());
    return n;
  }

  function tickOne(n, now) {
    var left = new Date(n.getAttribute("data-due")).getTime() - now;
    var kind = n.getAttribute("data-kind");
    if (left < 0) {
      n.textContent = kind + "已超时 " + span(left);
      n.classList.add("overdue");
    } else {
      n.textContent = kind + "剩余 " + span(left);
      n.classList.remove("overdue");
    }
  }

  function tick() {
    var now = Date.now();
    var nodes = document.querySelectorAll("[data-due]");
    for (var i = 0; i < nodes.length; i++) { tickOne(nodes[i], now); }
    watchTriage(now);
  }

  // ---- views ----

  function show(name) {
    ["login", "list", "case"].forEach(function (v) { $("view-" + v).hidden = v !== name; });
    $("foot").hidden = name === "login";
  }

  function route() {
    if (!token()) { show("login"); closeStream(); $("token").focus(); return; }
    openStream();
    var m = /^#\/case\/(.+)$/.exec(location.hash);
    if (m) { openCase(decodeURIComponent(m[1])); return; }
    state.caseId = "";
    var back = $("view-list").hidden;
    show("list");
    if (back) { returnToPlace(); }
    loadList("keep").then(function () { if (back) { returnToPlace(); listPlace = null; } });
  }

  // listPlace is where the list was when a case was opened from it: the
  // scroll position, and how far from the top of the screen that case's
  // card was. Back from the case the list is put where it was, so that
  // an officer working down a long list does not lose their place: by
  // the card, which news may have moved, or by the scroll position.
  var listPlace = null;
  function cardOf(id) {
    var cards = document.querySelectorAll("#list a.card");
    for (var i = 0; i < cards.length; i++) { if (cards[i].getAttribute("data-case") === id) { return cards[i]; } }
    return null;
  }
  function keepPlace(id) {
    var a = cardOf(id);
    listPlace = { id: id, y: window.scrollY, top: a ? a.getBoundingClientRect().top : null, tab: state.tab };
  }
  function returnToPlace() {
    var p = listPlace;
    if (!p || p.tab !== state.tab || $("view-list").hidden) { return; }
    var a = cardOf(p.id);
    if (a && p.top !== null) {
      window.scrollBy(0, a.getBoundingClientRect().top - p.top);
      // A keyboard or screen reader user is back on the case they left.
      a.focus({ preventScroll: true });
    } else {
      window.scrollTo(0, p.y);
    }
  }

  // supervising reports whether the signed-in officer is a supervisor or
  // an admin, who may 改派, 延期 and correct triage.
  function supervising() { return state.role === "supervisor" || state.role === "admin"; }

  function showWho(me) {
    state.role = (me && me.role) || "";
    state.district = (me && me.district) || "";
    state.team = (me && me.team) || "";
    ["triage", "waiting", "reports"].forEach(function (name) {
      var tab = document.querySelector('.tab[data-status="' + name + '"]');
      tab.hidden = !supervising();
      if (tab.hidden && state.tab === name) { selectTab("active"); }
    });
    var w = $("who");
    w.textContent = me ? (me.team_name || me.district_name || "") + (me.name ? " · " + me.name : "") : "";
  }

  function signOut(msg) {
    try { localStorage.removeItem(TOKEN_KEY); } catch (e) { /* private mode */ }
    state.replaced = false;
    $("stream-replaced").hidden = true;
    closeStream();
    state.lastEventId = "";
    state.streamOpened = false;
    showWho(null);
    state.items = [];
    state.pages = 0;
    setTriageScope(false);
    listPlace = null;
    $("list").textContent = "";
    // Nothing of the last case (a caller's number revealed) stays in the
    // page for whoever signs in next on this phone.
    clearCase();
    keptCases = [];
    state.caseId = "";
    if (msg) { var e = $("login-error"); e.textContent = msg; e.hidden = false; }
    if (location.hash !== "#/login") { location.hash = "#/login"; } else { route(); }
  }

  // TRIAGE_PAGE is the number of triage entries a page reads.
  var TRIAGE_PAGE = 100;

  // listPath is the address of the page at cursor of the list shown: the
  // tab's cases, or the triage list (today's or history's).
  function listPath(cursor) {
    var q = [];
    if (state.tab === "triage") {
      q.push("limit=" + TRIAGE_PAGE);
      if (state.triageHistory) { q.push("history=true"); }
    } else {
      q.push("status=" + encodeURIComponent(TABS[state.tab].join(",")));
    }
    if (cursor) { q.push("cursor=" + encodeURIComponent(cursor)); }
    return (state.tab === "triage" ? "/api/v1/triage?" : "/api/v1/assignments?") + q.join("&");
  }

  // listed says whether an item of a page belongs to the list shown: a
  // case of the tab's statuses, or any triage entry.
  function listed(o) { return state.tab === "triage" || TABS[state.tab].indexOf(o.status) >= 0; }

  // appendPage adds the items of a page to those listed. The list's
  // order (keyset) follows a case's status and times: a case that
  // changed since the pages before were read may come again on a later
  // one. A case is listed once, as read last (its copy before is
  // dropped); a triage entry listed already stays where it is, as its
  // correction may be being typed (its copy again is dropped).
  function appendPage(items, got, triage) {
    var key = triage ? function (o) { return o.complaint_id || ""; } : caseIdOf;
    var seen = {}, fresh = [];
    (triage ? items : []).forEach(function (o) { seen[key(o)] = true; });
    got.forEach(function (o) {
      var k = key(o);
      if (k && seen[k]) { return; }
      if (k) { seen[k] = true; }
      fresh.push(o);
    });
    if (triage) { return items.concat(fresh); }
    return items.filter(function (o) { return !seen[key(o)]; }).concat(fresh);
  }

  function itemsOf(data) {
    if (Array.isArray(data)) { return data; }
    return (data && (data.assignments || data.items || data.cases)) || [];
  }

  // listSeq numbers the list's loads: only the answer to the latest one
  // is drawn (a tab changed, or 加载更多 tapped again, on a slow network,
  // must not be overtaken by an older answer).
  // 加载更多 continues the list shown, with its cursor: not while another
  // page of it is on its way, nor while the list itself is loading (a tab
  // just changed: the list and cursor shown are the previous tab's).
  // While the list shown is read again (a case pushed live, the stream
  // back), 加载更多 stays to tap: the tap waits for that read and then
  // reads the page after it (moreWanted), where it was lost on a button
  // disabled under the finger. So does a tap while the list waits to be
  // read again after a read refused for the token's rate (listWaits): a
  // page read then would follow the list before the news, which the read
  // again would never bring. A tap still waiting when the list is no
  // longer shown (a case opened meanwhile) is dropped.
  // state.pages counts the pages of the list shown.
  var listSeq = 0, moreBusy = false, listBusy = false, listKeep = false, moreWanted = false, listWaits = false;

  // loadList reads the list of the tab shown: its first page ("first", a
  // tab chosen), the page after those shown ("more", 加载更多), or again
  // as many pages as are shown ("keep": a case pushed live, the stream
  // back, the list shown again after a case), so that news never takes
  // away the pages the officer loaded, nor the one on its way. The
  // triage list (分拣) pages so too: a bad day or a backfill puts
  // hundreds or thousands there, and its first page says how many.
  function loadList(mode) {
    var more = mode === "more", keep = mode === "keep";
    if (more && ((listBusy && listKeep) || listWaits)) { moreWanted = true; return Promise.resolve(); }
    if (more && (moreBusy || listBusy)) { return Promise.resolve(); }
    var pages = keep ? Math.max(1, state.pages + (moreBusy ? 1 : 0)) : 1;
    var seq = ++listSeq;
    listWaits = false;
    moreBusy = false;
    listBusy = false;
    if (!keep) { moreWanted = false; }
    $("more").disabled = false;
    if (state.tab === "hotspots") { return loadHotspots(); }
    if (state.tab === "reports") { return loadReports(); }
    var triage = state.tab === "triage";
    if (more) { moreBusy = true; } else { listBusy = true; listKeep = keep; }
    if (triage && !more) {
      // The list is read whole again: news until now is in it, and so
      // are the corrections not yet applied.
      $("triage-news").hidden = true;
      triagePending = {};
      triageWatchAt = Date.now() + (window.NUISANCE_TRIAGE_WATCH_MS || TRIAGE_WATCH);
    }
    $("more").disabled = !keep;
    var got = [], next = "", read = 0, total = -1, capped = false, drawn = false, retrying = false;
    // page reads the page at cursor, then the left ones after it; it
    // stops if a later load started meanwhile.
    function page(cursor, left) {
      return api("GET", listPath(cursor)).then(function (data) {
        if (seq !== listSeq) { return; }
        read++;
        got = got.concat(itemsOf(data).filter(listed));
        next = (data && !Array.isArray(data) && (data.next_cursor || data.next)) || "";
        if (data && typeof data.total === "number") { total = data.total; capped = data.total_capped === true; }
        if (left > 1 && next) { return page(next, left - 1); }
      });
    }
    return page(more ? state.next : "", pages).then(function () {
      if (seq !== listSeq) { return; }
      drawn = true;
      var before = more ? state.items : [];
      state.items = appendPage(before, got, triage);
      state.pages = more ? state.pages + 1 : read;
      state.next = next;
      if (!triage) { renderList(); return; }
      // Only the first page counts the entries (the pages after it do not
      // count them again); past 10,000 it says how many at least wait.
      if (!more) { state.triageTotal = total; state.triageCapped = capped; }
      // A page more is added under those shown, so that a correction
      // being typed above is not lost.
      renderTriage(more ? state.items.slice(before.length) : null);
    }).catch(function (err) {
      if (seq === listSeq && err.status !== 401) { toast((triage ? "分拣列表" : "任务列表") + "加载失败：" + err.message); }
      // A read refused for the token's rate is read again once the wait
      // is over, unless another load started meanwhile: news pushed live
      // (a case assigned) must not stay unseen until the next push. A
      // page more waits for a tap again; one tapped during this read or
      // the wait is read after the read again, and dropped if the list is
      // no longer shown then.
      if (seq === listSeq && err.status === 429 && !more) {
        retrying = true;
        listWaits = true;
        later(calmUntil - Date.now()).then(function () {
          if (seq !== listSeq) { return; }
          listWaits = false;
          if (!$("view-list").hidden) { loadList("keep"); } else { moreWanted = false; }
        });
      }
    }).then(function () {
      if (seq !== listSeq) { return; }
      moreBusy = false;
      listBusy = false;
      $("more").disabled = false;
      // 加载更多 tapped while the list was read again: the page after it.
      var wanted = moreWanted;
      if (retrying) { return; }
      moreWanted = false;
      if (wanted && drawn && state.next && !$("view-list").hidden) { loadList("more"); }
    });
  }

  // loadSide fills the list of a tab that is not an inbox (hotspots):
  // items picks the entries out of the answer to path, node draws one;
  // the list is drawn only if the tab is still the one shown.
  function loadSide(tab, path, items, node, empty, failed) {
    return api("GET", path).then(function (data) {
      if (state.tab !== tab) { return; }
      var ul = $("list");
      ul.textContent = "";
      var got = items(data) || [];
      got.forEach(function (o) { ul.appendChild(node(o)); });
      $("list-empty").textContent = empty;
      $("list-empty").hidden = got.length > 0;
      $("more").hidden = true;
    }).catch(function (err) { if (err.status !== 401 && state.tab === tab) { toast(failed + err.message); } });
  }

  function loadHotspots() {
    return loadSide("hotspots", "/api/v1/hotspots?status=emerging,active,escalated&limit=200",
      function (d) { return d && d.features; }, function (f) { return hotspotNode(f.properties || {}); },
      "辖区内暂无重复投诉热点", "热点加载失败：");
  }

  // loadReports lists the weekly reports the reporter keeps; it serves
  // them on this origin to the token's Authorization, as the API.
  function loadReports() {
    return loadSide("reports", "/reports/weekly/", function (d) { return d && d.reports; }, reportNode,
      "暂无周报", "周报列表加载失败：");
  }

  function reportNode(r) {
    var li = el("li");
    var b = el("button", "card report");
    b.type = "button";
    var top = el("div", "top");
    top.appendChild(el("span", "cat", "周报 " + (r.week || "")));
    b.appendChild(top);
    var bottom = el("div", "bottom");
    bottom.appendChild(el("span", "", (typeof r.total === "number" ? r.total : "") + " 件投诉"));
    bottom.appendChild(el("span", "hint", "生成于 " + when(r.generated_at)));
    b.appendChild(bottom);
    b.addEventListener("click", function () { showReport(r, b); });
    li.appendChild(b);
    return li;
  }

  // showReport reads the report's HTML with the token and shows it in the
  // page, under the console's own style sheet: its rules for the report
  // box (.report-body) lay the report out for a phone, where the report's
  // own sheet lays it out for A4. The report's <style> is taken out of
  // the text before it is parsed: the console's policy (style-src
  // 'self') refuses inline styles, and parsing one logs the refusal.
  function showReport(r, b) {
    var path = (r.links && r.links.html) || "/reports/weekly/" + encodeURIComponent(r.week) + ".html";
    b.disabled = true;
    timed(path, { headers: { "Authorization": "Bearer " + token(), "Accept": "text/html" }, cache: "no-store", credentials: "same-origin" }, function (res) {
      if (res.status === 401) { signOut("令牌无效或已停用，请重新登录"); throw new ApiError(401, "未登录"); }
      if (res.status === 403) { throw new ApiError(403, "周报仅供督导和管理员查看"); }
      if (!res.ok) { throw new ApiError(res.status, "请求失败 (" + res.status + ")"); }
      return res.text();
    }).then(function (html) {
      if (state.tab !== "reports") { return; }
      var doc = new DOMParser().parseFromString(reportText(html), "text/html");
      Array.prototype.forEach.call(doc.querySelectorAll("script, style, link, iframe, object, embed, [style]"), function (n) {
        if (n.hasAttribute("style") && n.tagName !== "STYLE") { n.removeAttribute("style"); } else { n.remove(); }
      });
      var box = $("report-body");
      box.textContent = "";
      var page = el("div", "report-root");
      Array.prototype.forEach.call(doc.body.childNodes, function (n) { page.appendChild(document.importNode(n, true)); });
      box.appendChild(page);
      $("list").hidden = true;
      $("more").hidden = true;
      $("list-empty").hidden = true;
      $("report-view").hidden = false;
      window.scrollTo(0, 0);
    }).catch(function (err) {
      if (err.status !== 401) { toast("周报加载失败：" + err.message); }
    }).then(function () { b.disabled = false; });
  }

  // reportText is a report's HTML without its style sheets, scripts and
  // inline style attributes, none of which the console's policy allows.
  function reportText(html) {
    return String(html)
      .replace(/<style\b[\s\S]*?<\/style\s*>/gi, "")
      .replace(/<script\b[\s\S]*?<\/script\s*>/gi, "")
      .replace(/\sstyle\s*=\s*("[^"]*"|'[^']*')/gi, "");
  }

  // selectTab marks the tab of the list named and makes it the list's.
  function selectTab(name) {
    Array.prototype.forEach.call(document.querySelectorAll(".tab"), function (o) {
      var on = o.getAttribute("data-status") === name;
      o.classList.toggle("on", on);
      o.setAttribute("aria-selected", on ? "true" : "false");
    });
    state.tab = name;
    // The pages shown are the previous tab's: news read again the new
    // tab's first.
    state.pages = 0;
    $("triage-scope").hidden = name !== "triage";
    $("report-view").hidden = true;
    $("report-body").textContent = "";
    $("list").hidden = false;
    $("triage-total").hidden = true;
    $("triage-news").hidden = true;
    $("triage-history-hint").hidden = name !== "triage" || !state.triageHistory;
  }

  // setTriageScope chooses the triage list shown: today's, or the
  // history's (历史).
  function setTriageScope(history) {
    state.triageHistory = history;
    // The count shown is the other list's until this one's first page.
    state.triageTotal = -1;
    $("triage-total").hidden = true;
    Array.prototype.forEach.call(document.querySelectorAll("#triage-scope button"), function (b) {
      var on = (b.getAttribute("data-history") === "true") === history;
      b.classList.toggle("on", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    $("triage-history-hint").hidden = state.tab !== "triage" || !history;
  }

  // renderTriage draws the triage entries loaded, or adds those of a
  // page more (added) under those shown, and says how many wait.
  function renderTriage(added) {
    var ul = $("list");
    if (!added) { ul.textContent = ""; }
    (added || state.items).forEach(function (o) { ul.appendChild(triageNode(o)); });
    $("list-empty").textContent = state.triageHistory ? "暂无待分拣的历史工单" : "暂无待分拣的投诉";
    $("list-empty").hidden = state.items.length > 0;
    $("more").hidden = !state.next;
    showTriageTotal();
  }

  // dropTriage takes the entry of complaint id, corrected, out of the
  // triage list shown and its count; the pages loaded stay. The list may
  // have been read again since the form was drawn: the entry is found by
  // its id.
  function dropTriage(id) {
    if (state.tab !== "triage") { return; }
    for (var i = 0; i < state.items.length; i++) {
      if (state.items[i].complaint_id !== id) { continue; }
      state.items.splice(i, 1);
      if (state.triageTotal > 0) { state.triageTotal--; }
      triagePending[id] = Date.now();
      break;
    }
    Array.prototype.forEach.call(document.querySelectorAll("#list .card[data-complaint]"), function (c) {
      if (c.getAttribute("data-complaint") === id) { c.parentNode.remove(); }
    });
    showTriageTotal();
    $("list-empty").hidden = state.items.length > 0;
  }

  // The triage list has no push: complaints the geocoder could not
  // decide arrive, and colleagues correct others, while a supervisor
  // works down it. Every TRIAGE_WATCH ms the list shown is asked for its
  // newest entry and its count; when either differs from what is shown,
  // a bar says so and a tap reads the list again. The list is never
  // redrawn by itself: a correction being typed would be lost.
  // window.NUISANCE_TRIAGE_WATCH_MS shortens the wait (the browser tests).
  //
  // An entry this page corrected left the list shown at once, but the
  // server lists it until the pipeline has applied the correction, a
  // moment later (longer when the pipeline lags): for TRIAGE_PENDING ms
  // the watch does not take it for news, skipping it as the newest and
  // allowing for it in the count.
  var TRIAGE_WATCH = 30000, TRIAGE_PENDING = 120000;
  var triageWatchAt = 0, triageWatchBusy = false, triagePending = {};
  function watchTriage(now) {
    var every = window.NUISANCE_TRIAGE_WATCH_MS || TRIAGE_WATCH;
    if (state.tab !== "triage" || $("view-list").hidden || document.hidden || listBusy || moreBusy || triageWatchBusy) { return; }
    if (now < triageWatchAt) { return; }
    triageWatchAt = now + every;
    triageWatchBusy = true;
    var pending = [];
    Object.keys(triagePending).forEach(function (id) {
      if (now - triagePending[id] > TRIAGE_PENDING) { delete triagePending[id]; } else { pending.push(id); }
    });
    var seq = listSeq, history = state.triageHistory;
    var limit = Math.min(1 + pending.length, 50);
    api("GET", "/api/v1/triage?limit=" + limit + (history ? "&history=true" : "")).then(function (data) {
      if (seq !== listSeq || state.tab !== "triage" || state.triageHistory !== history) { return; }
      // A correction made while the answer was on its way is allowed
      // for at the next turn.
      var waiting = pending.filter(function (id) { return triagePending[id]; });
      if (waiting.length !== Object.keys(triagePending).length) { return; }
      var first = itemsOf(data).filter(function (it) { return !triagePending[it.complaint_id]; })[0];
      var total = data && typeof data.total === "number" ? data.total : -1;
      var capped = !!(data && data.total_capped === true);
      var newest = state.items.length ? state.items[0].complaint_id : "";
      var over = total - state.triageTotal; // entries listed there and not here
      var changed = (first ? first.complaint_id : "") !== newest ||
        (total >= 0 && state.triageTotal >= 0 && (over < 0 || over > waiting.length));
      if (changed) { $("triage-news").textContent = "分拣列表有更新" + (total >= 0 ? "（现共 " + total + (capped ? "+" : "") + " 条）" : "") + "，点此刷新"; }
      $("triage-news").hidden = !changed;
    }, function () { /* offline or refused: asked again at the next turn */ }).then(function () {
      triageWatchBusy = false;
    });
  }

  // showTriageTotal says how many entries of the triage list shown wait,
  // as its first page counted them, less those corrected since: 共 N+ 条
  // when the count stopped (total_capped), at least N.
  function showTriageTotal() {
    var n = state.triageTotal;
    $("triage-total").textContent = n >= 0 ? "共 " + n + (state.triageCapped ? "+" : "") + " 条" : "";
    $("triage-total").hidden = state.tab !== "triage" || n < 0;
  }

  function options(sel, values, labels, chosen) {
    sel.textContent = "";
    values.forEach(function (v) {
      var o = el("option", "", labels[v] || v);
      o.value = v;
      if (v === chosen) { o.selected = true; }
      sel.appendChild(o);
    });
  }

  // triageNode is a complaint awaiting correction, with a form that says
  // where it is and what it is about; the complaint then re-enters the
  // pipeline.
  // TRIAGE_FIELDS are the fields of a correction (分拣更正).
  var TRIAGE_FIELDS = ["/district", "/category", "/subcategory", "/subdistrict", "/lon", "/lat"];
  function triageNode(it) {
    var li = el("li");
    var d = el("div", "card triage");
    d.setAttribute("data-complaint", it.complaint_id);
    var top = el("div", "top");
    top.appendChild(el("span", "state", label(TRIAGE_KIND, it.kind)));
    if (it.history) { top.appendChild(el("span", "state history", "历史")); }
    top.appendChild(el("span", "cat", it.category ? categoryText(it) : "类别未定"));
    d.appendChild(top);
    d.appendChild(el("div", "text", it.description || ""));
    var where = [it.district_name || label(DISTRICT, it.district), it.address].filter(Boolean).join(" · ");
    if (where) { d.appendChild(el("div", "where", where)); }
    var bottom = el("div", "bottom");
    // A work order of history was taken long ago: its year is said.
    bottom.appendChild(el("span", "hint", "工单 " + (it.ticket_id || "") + " · " + (it.history ? dayOf(it.received_at) : when(it.received_at))));
    if (it.case_id) {
      // A case holds it already (退单 by every team the rules name): the
      // case moves to another team of its district with 改派 on its page;
      // a complaint placed in the wrong district or read as the wrong
      // kind is corrected here instead, and leaves the case.
      var open = el("button", "secondary", "案件 · 改派");
      open.type = "button";
      open.addEventListener("click", function () {
        // Back from the case, the list is read again, as many pages as
        // shown, and put where it was.
        listPlace = { id: "", y: window.scrollY, top: null, tab: state.tab };
        location.hash = "#/case/" + encodeURIComponent(it.case_id);
      });
      bottom.appendChild(open);
    }
    var b = el("button", "secondary", "更正");
    b.type = "button";
    bottom.appendChild(b);
    d.appendChild(bottom);

    var f = el("form", "panel");
    f.hidden = true;
    var district = el("select");
    options(district, Object.keys(DISTRICT), DISTRICT, it.district || state.district || "");
    var cat = el("select");
    var firstCat = it.category || it.reported_category || "noise";
    options(cat, Object.keys(SUBCATEGORIES), CATEGORY, firstCat);
    var sub = el("select");
    var fillSub = function () { options(sub, SUBCATEGORIES[cat.value] || [], SUBCATEGORY, it.subcategory || it.reported_subcategory || ""); };
    fillSub();
    cat.addEventListener("change", fillSub);
    district.setAttribute("aria-label", "所在区");
    cat.setAttribute("aria-label", "类别");
    sub.setAttribute("aria-label", "细类");
    var ferr = el("p", "error form-error");
    ferr.setAttribute("role", "alert");
    ferr.hidden = true;
    [el("label", "", "所在区"), district, el("label", "", "类别"), cat, el("label", "", "细类"), sub, ferr].forEach(function (n) { f.appendChild(n); });
    var row = el("div", "row");
    var ok = el("button", "primary", "确认更正");
    ok.type = "submit";
    var cancel = el("button", "secondary", "取消");
    cancel.type = "button";
    row.appendChild(ok);
    row.appendChild(cancel);
    f.appendChild(row);
    d.appendChild(f);
    b.addEventListener("click", function () { f.hidden = false; });
    cancel.addEventListener("click", function () { f.hidden = true; });
    f.addEventListener("submit", function (e) {
      e.preventDefault();
      ok.disabled = true;
      ferr.hidden = true;
      if (!it.history) { corrected.push({ district: district.value, category: cat.value, at: Date.now() }); }
      api("POST", "/api/v1/triage/" + encodeURIComponent(it.complaint_id) + "/correct",
        { district: district.value, category: cat.value, subcategory: sub.value })
        .then(function () {
          // History goes on to the hotspots and the reports, to no case.
          toast(it.history ? "已更正，历史工单计入热点和周报，不派单" : "已更正，投诉重新进入处置流程");
          li.remove();
          dropTriage(it.complaint_id);
        })
        .catch(function (err) {
          ok.disabled = false;
          if (err.status === 401) { return; }
          // A field of the correction refused is said under the form.
          var refusal = fieldRefusal(err, TRIAGE_FIELDS);
          if (refusal && showFormError(f, refusal)) { return; }
          toast("更正失败：" + err.message);
        });
    });
    li.appendChild(d);
    return li;
  }

  function hotspotNode(h) {
    var li = el("li");
    var d = el("div", "card hotspot");
    d.setAttribute("data-hotspot", h.id || "");
    var top = el("div", "top");
    top.appendChild(el("span", "cat", categoryText(h)));
    top.appendChild(el("span", "state hs-" + h.status, label(HOTSPOT_STATUS, h.status)));
    d.appendChild(top);
    var where = [h.district_name || label(DISTRICT, h.district), h.subdistrict, h.place].filter(Boolean).join(" · ");
    d.appendChild(el("div", "where", where));
    var bottom = el("div", "bottom");
    bottom.appendChild(el("span", "", h.complaint_count + " 件投诉"));
    bottom.appendChild(el("span", "hint", "最近 " + when(h.last_at)));
    d.appendChild(bottom);
    li.appendChild(d);
    return li;
  }

  function renderList() {
    $("list-empty").textContent = "暂无任务";
    var ul = $("list");
    ul.textContent = "";
    state.items.forEach(function (o) {
      var id = caseIdOf(o);
      var li = el("li");
      var a = el("a", "card" + (state.fresh[id] ? " fresh" : ""));
      a.href = "#/case/" + encodeURIComponent(id);
      a.setAttribute("data-case", id);
      var top = el("div", "top");
      var p = o.priority || "normal";
      top.appendChild(el("span", "badge " + p, label(PRIORITY, p)));
      top.appendChild(el("span", "cat", categoryText(o)));
      top.appendChild(el("span", "state " + o.status, statusText(o)));
      if (reopenedNow(o)) { top.appendChild(el("span", "state reopened", "重新交办")); }
      if (escalatedNow(o)) { top.appendChild(el("span", "flag", "督办")); }
      a.appendChild(top);
      var where = [o.subdistrict_name || o.district_name || label(DISTRICT, o.district), o.place || o.address || ""].filter(Boolean).join(" · ");
      a.appendChild(el("div", "where", where));
      // A supervisor's list covers the district's teams: whose case it is.
      if (supervising()) {
        var held = holds(o);
        a.appendChild(el("div", "team" + (held ? "" : " none"), held ? "承办：" + (o.team_name || teamText(o.team)) : "待派单"));
      }
      var bottom = el("div", "bottom");
      bottom.appendChild(dueNode(o));
      var n = o.complaint_count || o.complaints;
      var facts = [];
      if (typeof n === "number" && n > 1) { facts.push(n + " 件投诉"); }
      facts.push(timeText(o));
      bottom.appendChild(el("span", "hint", facts.filter(Boolean).join(" · ")));
      a.appendChild(bottom);
      li.appendChild(a);
      ul.appendChild(li);
    });
    state.fresh = {};
    $("list-empty").hidden = state.items.length > 0;
    $("more").hidden = !state.next;
  }

  // timeText is the time a card shows, named: when the case was closed
  // (销号, or 关闭 for one whose complaints were all moved out) or
  // resolved (办结), else when it was last sent to a team: reopened
  // (重新交办) or assigned (派单), whichever came later, else when it was
  // opened (立案).
  function timeText(o) {
    var done = o.status === "resolved" || o.status === "closed";
    if (o.status === "closed" && o.closed_at) { return (o.moved_out ? "关闭 " : "销号 ") + when(o.closed_at); }
    if (done && o.resolved_at) { return "办结 " + when(o.resolved_at); }
    if (!done && o.reopened_at && (!o.assigned_at || new Date(o.reopened_at) >= new Date(o.assigned_at))) {
      return "重新交办 " + when(o.reopened_at);
    }
    if (o.assigned_at) { return "派单 " + when(o.assigned_at); }
    return o.opened_at ? "立案 " + when(o.opened_at) : "";
  }

  var FORMS = ["resolve-form", "return-form", "extend-form", "reassign-form"];
  // hideForms hides the action forms, but the one named keep.
  function hideForms(keep) {
    FORMS.forEach(function (f) { $(f).hidden = f !== keep; });
    Array.prototype.forEach.call(document.querySelectorAll("#view-case .form-error"), function (n) { n.hidden = true; });
  }

  // clearCase empties the case page, so that nothing of the case shown
  // before (its head, its action buttons, its callers) stands in for the
  // one being loaded.
  function clearCase() {
    state.caseData = null;
    $("case-offline").hidden = true;
    ["case-head", "case-due", "complaints", "audit", "map", "map-caption", "complaint-count", "map-note-text"].forEach(function (n) { $(n).textContent = ""; });
    $("map-note").hidden = true;
    ["btn-accept", "btn-resolve", "btn-return", "btn-extend", "btn-reassign"].forEach(function (n) { $(n).hidden = true; });
    $("case-head").appendChild(el("div", "meta", "加载中…"));
  }

  // reasonText renders the reasons the services record for the log
  // ("rule noise-construction", "complaint cmp_… at the same place") in
  // the console's words; an officer's or supervisor's own reason is shown
  // as typed.
  var DEPT = { eco: "生态环境", urban: "城管", housing: "住建", police: "公安", traffic: "交警" };
  function teamText(id) {
    var i = id.lastIndexOf("-");
    return i < 0 ? id : label(DISTRICT, id.slice(0, i)) + (DEPT[id.slice(i + 1)] || id.slice(i + 1));
  }
  // ruleText names a routing rule (noise.social_life.neighbour) by the
  // kind of nuisance it routes, never by its id, which is for the log.
  function ruleText(id) {
    var parts = String(id).split(/[.\-]/);
    var kind = SUBCATEGORY[parts[1]] || CATEGORY[parts[0]] || "";
    return "按" + kind + "派单规则";
  }
  // reassignText names the teams of a 改派, from and to: a case no team
  // held (待派单: open, or returned, whichever team returned it) was sent
  // from none. "" when the entry names no team.
  function reassignText(a) {
    if (a.action !== "reassign" || !(a.from_team_name || a.to_team_name || a.from_team || a.to_team)) { return ""; }
    var from = a.from || a.from_status;
    var held = from !== "open" && from !== "returned" && (a.from_team_name || a.from_team);
    var fromTeam = held ? a.from_team_name || teamText(a.from_team) : "待派单";
    return "改派：" + fromTeam + " → " + (a.to_team_name || (a.to_team ? teamText(a.to_team) : ""));
  }
  function reasonText(r, action) {
    var m;
    // A resolution's reason is its outcome's code, then the team's note.
    if (action === "resolve" && (m = /^(\w+)(?:: ([\s\S]*))?$/.exec(r)) && OUTCOME[m[1]]) {
      return OUTCOME[m[1]] + (m[2] ? "：" + m[2] : "");
    }
    m = /^rule (\S+) after return by (.+)$/.exec(r);
    if (m) { return ruleText(m[1]) + "重新派单，已退单：" + m[2].split(", ").map(teamText).join("、"); }
    if ((m = /^rule (\S+)$/.exec(r))) { return ruleText(m[1]); }
    if (/^complaint \S+ at the same place$/.test(r)) { return "同一地点又有投诉"; }
    // 立案 and 并案 say it already: the complaint's id is for the log.
    if (/^complaint \S+$/.test(r)) { return ""; }
    if ((m = /^no complaint within (\d+) days of the resolution$/.exec(r))) { return "办结后" + m[1] + "日内该地点无新投诉，办结销号"; }
    // A supervisor's correction (分拣) took a complaint out of a case no
    // team held, and a case left with none was closed.
    m = /^complaint \S+ corrected to (\w+), (\w+)(?:\/(\w+))? \([^)]*\): it leaves the case/.exec(r);
    if (m) {
      return "分拣更正为" + label(DISTRICT, m[1]) + " " + (m[3] ? label(SUBCATEGORY, m[3]) : label(CATEGORY, m[2])) + "，移出本案，重新派单";
    }
    if (/^no complaint left: .* moved out by a supervisor's correction/.test(r)) { return "本案投诉均经分拣更正移出，更正后关闭，未经办理"; }
    // Whose number was looked at is for the log too.
    if (action === "reveal_caller" && /^complaints \S+(, \S+)*$/.test(r)) { return ""; }
    return r;
  }

  // caseSeq numbers the reads of a case: only the latest one refused for
  // the token's rate reads it again, so that reads refused side by side
  // (a push and a refresh) do not each keep a retry going.
  var caseSeq = 0;
  function openCase(id) {
    var seq = ++caseSeq;
    if (!$("view-list").hidden) { keepPlace(id); }
    var other = state.caseId !== id || $("view-case").hidden;
    if (state.caseId !== id) {
      // Another case: forget half-filled forms. A refresh of the same case
      // (after an action, or pushed live) keeps what the officer is typing.
      hideForms();
      clearCase();
    }
    state.caseId = id;
    show("case");
    // A screen reader or keyboard user lands on the case just opened.
    if (other) { $("case-head").focus(); }
    return api("GET", "/api/v1/cases/" + encodeURIComponent(id)).then(function (data) {
      if (state.caseId !== id) { return false; }
      state.caseData = data;
      $("case-offline").hidden = true;
      remember(id, data);
      renderCase(data);
      return true;
    }).catch(function (err) {
      if (state.caseId !== id) { return false; }
      if (err.status === 404) { toast("该案件不存在或不属于本单位"); location.hash = "#/"; return false; }
      if (err.status === 401) { return false; }
      toast("案件加载失败：" + err.message);
      // Offline, a case viewed lately is shown as it was then, said so.
      var kept = err.status === 0 && !state.caseData && recalled(id);
      if (kept) {
        state.caseData = kept.data;
        renderCase(kept.data);
        $("case-offline").textContent = "离线，显示于 " + clock(kept.at) + " 的内容（" + err.message + "）";
        $("case-offline").hidden = false;
        return false;
      }
      // Refused for the token's rate: read again once the wait is over,
      // if the case is still the one shown and no later read started.
      if (err.status === 429) {
        if (seq === caseSeq) {
          later(calmUntil - Date.now()).then(function () {
            if (seq === caseSeq && state.caseId === id && !$("view-case").hidden) { openCase(id); }
          });
        }
        if (state.caseData) { return false; }
      }
      // Nothing of the case is shown yet: say so in its place, with a
      // way to try again (a refresh of a case shown keeps it).
      if (!state.caseData) {
        var head = $("case-head");
        head.textContent = "";
        head.appendChild(el("div", "meta", "案件加载失败：" + err.message));
        var again = el("button", "secondary", "重试");
        again.type = "button";
        again.id = "case-retry";
        again.addEventListener("click", function () { clearCase(); openCase(id); });
        head.appendChild(again);
      }
      return false;
    });
  }

  // The cases viewed lately, kept in memory (never stored: they name
  // callers, masked) so that one reopened offline can still be read.
  var KEPT_CASES = 10;
  var keptCases = [];
  function remember(id, data) {
    keptCases = keptCases.filter(function (k) { return k.id !== id; });
    keptCases.unshift({ id: id, data: data, at: Date.now() });
    keptCases.length = Math.min(keptCases.length, KEPT_CASES);
  }
  function recalled(id) { return keptCases.filter(function (k) { return k.id === id; })[0] || null; }
  function clock(ms) {
    var t = inShanghai(new Date(ms));
    return pad(t.hour) + ":" + pad(t.minute);
  }

  function renderCase(data) {
    var c = data.case || data;
    var complaints = data.complaints || c.complaints || [];
    var head = $("case-head");
    head.textContent = "";
    var top = el("div", "top");
    var p = c.priority || "normal";
    top.appendChild(el("span", "badge " + p, label(PRIORITY, p)));
    top.appendChild(el("span", "state " + c.status, statusText(c)));
    if (reopenedNow(c)) { top.appendChild(el("span", "state reopened", "重新交办")); }
    if (escalatedNow(c)) { top.appendChild(el("span", "flag", "督办")); }
    head.appendChild(top);
    head.appendChild(el("div", "title", categoryText(c)));
    head.appendChild(el("div", "meta", [c.district_name || label(DISTRICT, c.district), c.subdistrict_name || c.subdistrict, c.place].filter(Boolean).join(" · ")));
    // 承办单位 while a team holds the case; one waiting for 改派 is held by
    // none, whichever team returned it.
    if (holds(c)) { head.appendChild(el("div", "meta", "承办单位：" + (c.team_name || teamText(c.team)))); }
    var extra = [];
    if (c.mode === "non_site") { extra.push("非现场检查"); }
    if (c.quiet_community) { extra.push("宁静小区：" + c.quiet_community); }
    if (c.positive_list) { extra.push("正面清单：" + c.positive_list); }
    // A reopened case's outcome and note are its last resolution's, not
    // the current one's: they read 上次办结.
    var prev = c.previous_resolution;
    var done = c.status === "resolved" || c.status === "closed";
    if (!prev && reopenedOf(c) && !done && (c.outcome || c.note)) { prev = { outcome: c.outcome, note: c.note, at: c.resolved_at }; }
    if (done) {
      if (c.outcome) { extra.push("处置结果：" + label(OUTCOME, c.outcome)); }
      if (c.note) { extra.push("说明：" + c.note); }
    }
    extra.forEach(function (t) { head.appendChild(el("div", "meta", t)); });
    if (prev && (prev.outcome || prev.note)) {
      head.appendChild(el("div", "meta prev", "上次办结" + (prev.at ? "（" + when(prev.at) + "）" : "") + "：" +
        [label(OUTCOME, prev.outcome), prev.note].filter(Boolean).join("，")));
    }
    head.appendChild(el("div", "meta", "案件编号 " + caseIdOf(c)));

    var due = $("case-due");
    due.textContent = "";
    due.appendChild(dueNode(c));

    // 签收, 办结 and 退单 are the assigned team's own: a supervisor of
    // another team moves the case (改派) or extends it (延期) instead.
    var ours = !!state.team && c.team === state.team;
    if (c.status !== "accepted" || !ours) { $("resolve-form").hidden = true; }
    if ((c.status !== "assigned" && c.status !== "accepted") || !ours) { $("return-form").hidden = true; }
    $("btn-accept").hidden = !ours || c.status !== "assigned";
    $("btn-resolve").hidden = !ours || c.status !== "accepted";
    $("btn-return").hidden = !ours || (c.status !== "assigned" && c.status !== "accepted");
    // 延期: the district's supervisors and admins, on a case being worked
    // and not yet overdue (an overdue case is escalated, 督办, instead).
    var mayExtend = supervising() && (c.status === "assigned" || c.status === "accepted") &&
      !(c.resolve_due && new Date(c.resolve_due) <= new Date());
    $("btn-extend").hidden = !mayExtend;
    if (!mayExtend) { $("extend-form").hidden = true; }
    state.resolveDue = c.resolve_due || "";
    // 改派: the same, on a case not yet resolved, to another team of its district.
    var mayReassign = supervising() && ["open", "assigned", "accepted", "returned"].indexOf(c.status) >= 0;
    $("btn-reassign").hidden = !mayReassign;
    if (!mayReassign) { $("reassign-form").hidden = true; }
    state.caseDistrict = c.district || "";
    state.caseTeam = c.status === "assigned" || c.status === "accepted" ? c.team || "" : "";

    $("complaint-count").textContent = "(" + complaints.length + ")";
    var ul = $("complaints");
    ul.textContent = "";
    complaints.forEach(function (cp) { ul.appendChild(complaintNode(c, cp)); });

    var audit = $("audit");
    audit.textContent = "";
    var entries = data.audit || c.audit || [];
    // The cases the corrected complaints went to, for the closing.
    var movedTo = [];
    entries.forEach(function (a) {
      if (a.action === "remove" && a.moved_to && movedTo.indexOf(a.moved_to) < 0) { movedTo.push(a.moved_to); }
    });
    entries.forEach(function (a) {
      var to = a.to || a.to_status;
      var emptied = a.action === "close" && c.moved_out && to === "closed";
      var toText = emptied ? MOVED_OUT : label(STATUS, to);
      var t = when(a.at) + " " + label(ACTION, a.action) + (to && to !== (a.from || a.from_status) ? " → " + toText : "");
      var moved = reassignText(a);
      if (moved) { t = when(a.at) + " " + moved; }
      var reason = a.reason;
      if (a.due_after) {
        t += " 至 " + when(a.due_after) + (a.due_before ? "（原 " + when(a.due_before) + "）" : "");
      } else if (a.due_before && a.deadline) {
        // An escalation: which deadline passed says it all; its recorded
        // reason is the same, written for the log.
        t += "（" + label(DEADLINE, a.deadline) + "时限 " + when(a.due_before) + " 已过）";
        reason = "";
      }
      reason = reason && (a.reason_text || reasonText(reason, a.action));
      if (a.action === "remove" && a.moved_to) {
        reason = (reason ? reason + "，" : "") + "已转入案件 " + a.moved_to;
      } else if (emptied && movedTo.length) {
        reason = (reason ? reason + "，" : "") + "投诉已转入案件 " + movedTo.join("、");
      }
      if (reason) { t += "（" + reason + "）"; }
      // Who did it, by name.
      if (a.actor_name) { t += " · " + a.actor_name; }
      audit.appendChild(el("li", "", t));
    });
    drawMap(c, complaints);
  }

  function complaintNode(c, cp) {
    var li = el("li", "complaint");
    var head = el("div", "head");
    head.appendChild(el("span", "", "工单 " + (cp.ticket_id || "")));
    head.appendChild(el("span", "", when(cp.received_at)));
    li.appendChild(head);
    li.appendChild(el("div", "text", cp.description || ""));
    if (cp.address || cp.place) { li.appendChild(el("div", "addr", cp.address || cp.place)); }
    var masked = cp.caller_phone || cp.phone || (cp.caller && cp.caller.phone) || "";
    if (cp.caller_erased_at) {
      li.appendChild(erasedNode(cp.caller_erased_at));
    } else if (masked) {
      var row = el("div", "caller");
      var name = cp.caller_name || (cp.caller && cp.caller.name) || "来电人";
      var ph = el("span", "phone", name + " " + masked);
      row.appendChild(ph);
      // The number is revealed to the team the case is assigned to, only.
      var active = (c.status === "assigned" || c.status === "accepted") && !!state.team && c.team === state.team;
      if (active) {
        var b = el("button", "secondary", "回拨");
        b.type = "button";
        b.setAttribute("data-complaint", cp.complaint_id || cp.id || "");
        b.addEventListener("click", function () { reveal(c, cp, ph, b); });
        row.appendChild(b);
      }
      li.appendChild(row);
    }
    return li;
  }

  // erasedNode says, where the caller was, that the retention job erased
  // the caller's name and phone (NUISANCE_PII_RETENTION) and on which
  // day: a case reopened after its end can hold such a work order.
  function erasedNode(at) {
    return el("div", "caller erased", "来电人信息已按保存期限删除（" + dayOf(at) + "）");
  }

  // reveal asks for the caller's full number; the API records who asked.
  // A number erased since the page was drawn is said to be so. The answer
  // goes to the complaint's row as shown when it comes: news pushed
  // meanwhile may have drawn the case again, and the row tapped is then
  // no longer on the page.
  function reveal(c, cp, ph, b) {
    b.disabled = true;
    var caseId = caseIdOf(c);
    api("POST", "/api/v1/cases/" + encodeURIComponent(caseId) + "/callback-reveal", { complaint_id: cp.complaint_id || cp.id })
      .then(function (data) {
        var id = cp.complaint_id || cp.id;
        if (!ph.isConnected) {
          if (state.caseId !== caseId) { return; }
          var now = Array.prototype.filter.call(document.querySelectorAll("#complaints button[data-complaint]"),
            function (x) { return x.getAttribute("data-complaint") === id; })[0];
          if (!now) { return; }
          b = now;
          ph = now.parentNode.querySelector(".phone");
        }
        var callers = (data && data.callers) || [];
        var hit = callers.filter(function (x) { return x.complaint_id === id; })[0] || callers[0] || {};
        if (hit.erased_at) {
          var row = ph.parentNode;
          row.parentNode.replaceChild(erasedNode(hit.erased_at), row);
          return;
        }
        var phone = hit.phone || "";
        if (!phone) { throw new ApiError(0, "没有来电号码"); }
        ph.textContent = "";
        var a = el("a", "phone", phone);
        a.href = "tel:" + phone.replace(/[^0-9+]/g, "");
        ph.appendChild(a);
        b.remove();
      })
      .catch(function (err) { b.disabled = false; if (err.status !== 401) { toast("无法获取号码：" + err.message); } });
  }

  // mine holds the cases this page acted on lately, by when, and
  // corrected the 分拣 corrections it made: the news their actions push
  // back (退单's 案件已转派其他队伍, 改派's or a correction's 新任务) is the
  // user's own doing and is not announced over the action's own result.
  var MINE_MS = 10000, CORRECTED_MS = 30000;
  var mine = {}, corrected = [];
  function markMine(id) { if (id) { mine[id] = Date.now(); } }
  function ownNews(d, id) {
    var now = Date.now();
    Object.keys(mine).forEach(function (k) { if (now - mine[k] > MINE_MS) { delete mine[k]; } });
    if (id && mine[id]) { return true; }
    // A correction opens or joins a case of its district and kind, whose
    // id the page does not know.
    corrected = corrected.filter(function (x) { return now - x.at <= CORRECTED_MS; });
    return (d.kind === "assigned") && corrected.some(function (x) { return x.district === d.district && x.category === d.category; });
  }

  // ACT_FORMS are the forms of the actions, and the request fields each
  // takes: a refusal naming one of them (400, errors[]) is said under the
  // form, where the officer corrects it, not in a toast that is gone in
  // 3.5 s (延期 to a Saturday names the next working day).
  var ACT_FORMS = {
    resolve: { form: "resolve-form", fields: ["/outcome", "/note"] },
    "return": { form: "return-form", fields: ["/reason"] },
    extend: { form: "extend-form", fields: ["/resolve_due", "/reason"] },
    reassign: { form: "reassign-form", fields: ["/team", "/reason"] }
  };

  // fieldRefusal is what err says of fields among those named, or "" when
  // it is no 400 naming one of them.
  function fieldRefusal(err, fields) {
    if (!err || err.status !== 400 || !err.errors) { return ""; }
    var hit = err.errors.filter(function (e) { return e && fields.indexOf(e.field) >= 0; });
    if (!hit.length) { return ""; }
    return hit.length === 1 ? err.message : hit.map(function (e) { return e.detail; }).join("；");
  }

  // showFormError says msg under form (its .form-error line).
  function showFormError(form, msg) {
    var n = form.querySelector(".form-error");
    if (!n) { return false; }
    n.textContent = msg;
    n.hidden = false;
    return true;
  }

  // act carries out an action on the case shown; pressed, the button
  // tapped, says 提交中… until the answer comes.
  function act(path, body, done, pressed) {
    var id = state.caseId;
    markMine(id);
    var buttons = document.querySelectorAll("#view-case button");
    for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = true; }
    var pressedText = pressed ? pressed.textContent : "";
    if (pressed) { pressed.textContent = "提交中…"; }
    return api("POST", "/api/v1/cases/" + encodeURIComponent(id) + "/" + path, body)
      .then(function () { markMine(id); toast(done); return true; })
      .catch(function (err) {
        if (err.status === 401) { return false; }
        if (err.status === 429) {
          // Refused before anything was done: the case is as shown, and
          // the buttons come back when the server takes requests again.
          toast(err.message);
          return later(calmUntil - Date.now()).then(function () { return false; });
        }
        // The request may have been carried out though its answer was
        // lost (a network error, or no answer within TIMEOUT), or the case
        // changed meanwhile (409): either way the case is read again, so
        // that the page shows what the server holds rather than invite a
        // second, refused, tap.
        // A field of the form refused: nothing was done, the case is as
        // shown, and the form says why.
        var of = ACT_FORMS[path];
        var refusal = of && fieldRefusal(err, of.fields);
        if (refusal && state.caseId === id && !$(of.form).hidden && showFormError($(of.form), refusal)) { return false; }
        if (err.status) {
          toast(err.status === 409 ? "案件状态已变化，已刷新" : "操作失败：" + err.message);
          if (state.caseId === id) { openCase(id); }
          return false;
        }
        // No answer: whether it was carried out is not known until the
        // case is read again, which is said as it turns out.
        var unknown = "操作失败：" + err.message + "，未知是否已生效";
        toast(unknown + "，正在重新读取案件…");
        if (state.caseId !== id) { return false; }
        return openCase(id).then(function (read) {
          if (state.caseId !== id) { return false; }
          toast(read ? unknown + "；已重新读取案件，请按页面所示核对" : unknown + "；重新读取案件也失败，请检查网络后重试");
          return false;
        });
      })
      .then(function (ok) {
        if (pressed) { pressed.textContent = pressedText; }
        for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = false; }
        if (ok && path !== "return" && state.caseId === id) { openCase(id); }
        return ok;
      });
  }

  // filled says whether the text box id holds more than blanks (the
  // browser's required takes spaces; the note sent is trimmed); if not,
  // the form says msg under it.
  function filled(id, msg) {
    var box = $(id);
    var err = box.form.querySelector(".form-error");
    var ok = box.value.trim() !== "";
    if (err) { err.textContent = ok ? "" : msg; err.hidden = ok; }
    if (!ok) { box.focus(); }
    return ok;
  }
  function submitOf(form) { return form.querySelector("button[type=submit]"); }

  var teamsLoad = null;
  // loadTeams fetches the teams once: the 改派 form offers those of the
  // case's district.
  function loadTeams() {
    if (!teamsLoad) {
      teamsLoad = getFile("teams.json").then(function (d) { return (d && d.teams) || []; });
      teamsLoad.catch(function () { teamsLoad = null; });
    }
    return teamsLoad;
  }

  // ---- map ----

  function loadDistricts() {
    if (districts) { return Promise.resolve(districts); }
    return getFile("districts.json").then(function (fc) { districts = fc; return fc; });
  }

  function num(v) { return typeof v === "number" && isFinite(v); }

  function drawMap(c, complaints) {
    // The case's place as a ring under its complaints' points.
    var pts = num(c.lon) && num(c.lat) ? [[c.lon, c.lat, "pt case"]] : [];
    complaints.forEach(function (cp) { if (num(cp.lon) && num(cp.lat)) { pts.push([cp.lon, cp.lat, "pt"]); } });
    showPlace(c, complaints, pts);
    loadDistricts().catch(function () { return { features: [] }; }).then(function (fc) {
      if (state.caseData && (state.caseData.case || state.caseData) !== c) { return; }
      var f = (fc.features || []).filter(function (f) { return f.properties && f.properties.slug === c.district; })[0];
      renderMap(f, pts, c);
    });
  }

  // AMAP is Amap's (高德) marker page, which the phone's Amap app opens
  // to navigate to the point (a link the officer follows, nothing the
  // console loads); coordinate=wgs84 says the point is WGS-84.
  var AMAP = "https://uri.amap.com/marker";

  // showPlace collapses the map to a line when no complaint of the case
  // has coordinates, and offers 导航 to the case's point when one has.
  function showPlace(c, complaints, pts) {
    var nav = $("map-nav");
    $("map-figure").hidden = pts.length === 0;
    $("map-note").hidden = false;
    $("map-note-text").textContent = pts.length ? "" : label(DISTRICT, c.district) + " · 投诉未标注坐标";
    nav.hidden = pts.length === 0;
    if (!pts.length) { nav.removeAttribute("href"); return; }
    var located = complaints.filter(function (cp) { return num(cp.lon) && num(cp.lat); })[0] || {};
    var name = c.place || located.address || located.place || label(DISTRICT, c.district);
    nav.href = AMAP + "?position=" + pts[0][0] + "," + pts[0][1] + "&name=" + encodeURIComponent(name) + "&coordinate=wgs84&callnative=1";
  }

  function renderMap(feature, pts, c) {
    var svg = $("map");
    svg.textContent = "";
    var W = 320, H = 220, P = 12;
    var polys = [];
    if (feature) {
      var g = feature.geometry;
      polys = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
    }
    var minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    function grow(lon, lat) {
      if (lon < minX) { minX = lon; } if (lon > maxX) { maxX = lon; }
      if (lat < minY) { minY = lat; } if (lat > maxY) { maxY = lat; }
    }
    polys.forEach(function (poly) { poly[0].forEach(function (p) { grow(p[0], p[1]); }); });
    pts.forEach(function (p) { grow(p[0], p[1]); });
    if (!isFinite(minX)) {
      $("map-caption").textContent = "暂无位置信息";
      return;
    }
    if (maxX - minX < 0.01) { minX -= 0.005; maxX += 0.005; }
    if (maxY - minY < 0.01) { minY -= 0.005; maxY += 0.005; }
    // Equirectangular projection, x shortened by cos(latitude).
    var kx = Math.cos((minY + maxY) / 2 * Math.PI / 180);
    var s = Math.min((W - 2 * P) / ((maxX - minX) * kx), (H - 2 * P) / (maxY - minY));
    var ox = (W - (maxX - minX) * kx * s) / 2, oy = (H - (maxY - minY) * s) / 2;
    function x(lon) { return (ox + (lon - minX) * kx * s).toFixed(1); }
    function y(lat) { return (oy + (maxY - lat) * s).toFixed(1); }
    polys.forEach(function (poly) {
      var d = poly.map(function (ring) {
        return "M" + ring.map(function (p) { return x(p[0]) + " " + y(p[1]); }).join("L") + "Z";
      }).join("");
      svg.appendChild(svgEl("path", { d: d, "class": "outline", "fill-rule": "evenodd" }));
    });
    pts.forEach(function (p) {
      svg.appendChild(svgEl("circle", { cx: x(p[0]), cy: y(p[1]), r: p[2] === "pt" ? 5 : 9, "class": p[2] }));
    });
    var located = pts.filter(function (p) { return p[2] === "pt"; }).length;
    $("map-caption").textContent = label(DISTRICT, c.district) + (located ? " · " + located + " 个投诉点" : " · 投诉未标注坐标");
  }

  // ---- live push ----

  function closeStream() {
    if (state.source) { state.source.close(); state.source = null; }
    clearTimeout(watchdog);
    setLive(false);
  }

  // A stream the network swallows (a dead mobile connection that nothing
  // closes) stays open in the browser and says nothing. The server sends
  // a heartbeat event every beatEvery ms while it has nothing else (and
  // one as the stream opens, saying how often): once nothing at all has
  // come for STALE_BEATS of them, the stream is taken for dead, shown
  // 离线, and opened again. beatEvents tells that the server sends them:
  // a stream is then 实时 from its first heartbeat, not as it opens.
  var STALE_BEATS = 3, beatEvery = 15000, beatEvents = false, watchdog = 0;
  function heard(es) {
    clearTimeout(watchdog);
    watchdog = setTimeout(function () {
      if (state.source !== es) { return; }
      es.close();
      state.source = null;
      setLive(false);
      openStream();
    }, STALE_BEATS * beatEvery);
  }
  function onBeat(es, ev) {
    var d = {};
    try { d = JSON.parse(ev.data); } catch (e) { /* keep the last period */ }
    if (typeof d.every_ms === "number" && d.every_ms >= 100 && d.every_ms <= 600000) { beatEvery = d.every_ms; }
    beatEvents = true;
    state.retry = 0;
    setLive(true);
    heard(es);
    caughtUp(es);
  }

  // caughtUp reads the screen again the first time a stream opened again
  // is heard from (its first heartbeat or event), where it becomes 实时.
  // A stream can open and then say nothing (the network swallows what it
  // carries): what was pushed meanwhile is lost with it, and the screen
  // read as it opened is older than that.
  function caughtUp(es) {
    if (es.readAgainAtFirstWord) {
      es.readAgainAtFirstWord = false;
      readAgain();
    }
  }

  function setLive(on) {
    var n = $("live");
    n.textContent = on ? "实时" : state.replaced ? "未接收" : "离线";
    n.className = "live " + (on ? "on" : "off") + (state.replaced ? " replaced" : "");
    n.title = state.replaced ? "实时推送已在其他设备打开，点此在本机恢复" : "实时推送";
  }

  // A token holds a few streams (4): a newer one, on another device, ends
  // the oldest, which the server tells so (an event named replaced).
  // Reopened by itself it would end another device's stream, which would
  // reopen in turn, every few seconds on every device. A replaced stream
  // stays closed, and says so, until the officer takes it back (the badge
  // or the button): a deliberate act, which ends the oldest other one.
  // Nothing else reopens it meanwhile (openStream does nothing): not the
  // watchdog, nor a retry, nor going to another page.
  function onReplaced(es, ev) {
    es.close();
    if (state.source !== es) { return; }
    state.source = null;
    clearTimeout(watchdog);
    var d = {};
    try { d = JSON.parse(ev.data); } catch (e) { /* said without the cap */ }
    state.replaced = true;
    setLive(false);
    var cap = typeof d.max_streams === "number" && d.max_streams > 0 ? "同一账号最多在 " + d.max_streams + " 台设备上同时接收，最新打开的优先。" : "";
    $("stream-replaced-text").textContent = "实时推送已在其他设备打开，本机不再自动更新。" + cap;
    $("stream-replaced").hidden = false;
  }
  function takeBack() {
    if (!state.replaced) { return; }
    state.replaced = false;
    $("stream-replaced").hidden = true;
    state.retry = 0;
    setLive(false);
    openStream();
  }

  // openStream follows the team's assignments. EventSource cannot send an
  // Authorization header, so the token travels as access_token. A stream
  // opened again after it closed (the server unavailable for a while)
  // starts after the last event this page had, so that nothing pushed in
  // between is missed.
  // Whenever the stream comes back (a new one, or the browser's own
  // reconnection after the phone lost its network) the page reads again
  // what it shows, the case open or the list, at the first word the
  // stream carries (caughtUp): the events missed may not
  // all come back (none had arrived yet to resume after, or the stream no
  // longer holds them), and a case reassigned or resolved meanwhile must
  // not stay on screen as it was.
  function openStream() {
    if (state.replaced || state.source || !token() || typeof EventSource === "undefined") { return; }
    var url = "/api/v1/stream?heartbeat=event&access_token=" + encodeURIComponent(token());
    if (state.lastEventId) { url += "&last_event_id=" + encodeURIComponent(state.lastEventId); }
    var es = new EventSource(url);
    state.source = es;
    // A stream that never opens, or never says a word, is given up too.
    heard(es);
    es.onopen = function () {
      state.retry = 0;
      if (!beatEvents) { setLive(true); }
      // A server that sends heartbeats says its first as the stream
      // opens: the screen is read again then, so that 实时 means it holds
      // all that was pushed before. One that does not is read now.
      if (state.streamOpened) {
        if (beatEvents) { es.readAgainAtFirstWord = true; } else { readAgain(); }
      }
      state.streamOpened = true;
    };
    es.onerror = function () {
      setLive(false);
      if (es.readyState === EventSource.CLOSED) {
        if (state.source === es) { state.source = null; clearTimeout(watchdog); }
        state.retry = Math.min(state.retry + 1, 6);
        // EventSource does not say why it was refused: a token disabled
        // meanwhile is found out by asking who we are (a 401 signs out).
        api("GET", "/api/v1/me").then(showWho, function () { /* offline: retried below */ });
        setTimeout(function () { if (token()) { openStream(); } }, 1000 * Math.pow(2, state.retry));
      }
    };
    // The API names every event "case"; its data says what changed.
    es.addEventListener("case", function (ev) {
      heard(es);
      setLive(true);
      onPush(ev);
      caughtUp(es);
    });
    es.addEventListener("heartbeat", function (ev) { onBeat(es, ev); });
    es.addEventListener("replaced", function (ev) { onReplaced(es, ev); });
  }

  // readAgain reads again what the page shows. Case events do not change
  // the triage list, and redrawing it would lose a correction being typed.
  function readAgain() {
    if (!$("view-list").hidden && state.tab !== "triage") { loadList("keep"); }
    if (!$("view-case").hidden && state.caseId) { openCase(state.caseId); }
  }

  var reloadTimer = 0;
  // The ids of the events pushed lately: an event can arrive twice (the
  // pipeline sends again what a stage was slow to handle), and the second
  // copy changes nothing.
  var seenEvents = {}, seenOrder = [];
  function firstSight(eventID) {
    if (!eventID) { return true; }
    if (seenEvents[eventID]) { return false; }
    seenEvents[eventID] = true;
    seenOrder.push(eventID);
    if (seenOrder.length > 1000) { delete seenEvents[seenOrder.shift()]; }
    return true;
  }
  function onPush(ev) {
    if (ev.lastEventId) { state.lastEventId = ev.lastEventId; }
    var d = {};
    try { d = JSON.parse(ev.data); } catch (e) { /* keep-alive or plain text */ }
    if (!firstSight(d.event_id)) { return; }
    var id = d.case_id || d.id || "";
    var kind = d.kind || ev.type;
    if (ownNews(d, id)) {
      // The user's own action: its result is said already.
      if (kind === "assigned" && id) { state.fresh[id] = true; }
    } else if (d.left_team && id) {
      delete state.fresh[id];
      toast("案件已转派其他队伍：" + categoryText(d));
    } else if (kind === "assigned" && id) {
      state.fresh[id] = true;
      toast("新任务：" + categoryText(d) + (d.district ? " · " + label(DISTRICT, d.district) : ""));
    } else if (d.deadline_sooner && id) {
      toast("时限提前：" + categoryText(d) + " · 新投诉时限更紧");
    }
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(function () {
      // Case events do not change the triage list, and redrawing it would
      // lose a correction being typed.
      if (!$("view-list").hidden && state.tab !== "triage") { loadList("keep"); }
      if (!$("view-case").hidden && id && id === state.caseId) { openCase(id); }
    }, 150);
  }

  // ---- wiring ----

  function init() {
    $("login-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var t = $("token").value.trim();
      if (!t) { return; }
      try { localStorage.setItem(TOKEN_KEY, t); } catch (err) { /* private mode */ }
      $("token").value = "";
      $("login-error").hidden = true;
      api("GET", "/api/v1/me").then(function (me) {
        showWho(me);
        if (location.hash === "#/" ) { route(); } else { location.hash = "#/"; }
      }).catch(function (err) {
        if (err.status !== 401) { toast("登录失败：" + err.message); }
      });
    });
    // A token is shown once, when it is made: signing out by mistake
    // leaves an officer without a way back in, so it is asked first.
    $("signout").addEventListener("click", function () {
      if (window.confirm("确定退出登录？退出后需要重新输入访问令牌才能登录（令牌只在创建时显示一次，请确认已妥善保存）。")) { signOut(""); }
    });
    $("report-close").addEventListener("click", function () {
      $("report-view").hidden = true;
      $("report-body").textContent = "";
      $("list").hidden = false;
      $("list-empty").hidden = $("list").children.length > 0;
    });
    // The badge takes back a stream another device took; offline, it
    // tries again at once rather than at the next retry.
    $("live").addEventListener("click", function () { if (state.replaced) { takeBack(); } else { openStream(); } });
    $("stream-takeback").addEventListener("click", takeBack);
    Array.prototype.forEach.call(document.querySelectorAll(".tab"), function (b) {
      b.addEventListener("click", function () {
        selectTab(b.getAttribute("data-status"));
        loadList("first");
      });
    });
    $("more").addEventListener("click", function () { loadList("more"); });
    $("triage-news").addEventListener("click", function () { loadList("keep"); });
    Array.prototype.forEach.call(document.querySelectorAll("#triage-scope button"), function (b) {
      b.addEventListener("click", function () {
        setTriageScope(b.getAttribute("data-history") === "true");
        loadList("first");
      });
    });
    $("btn-accept").addEventListener("click", function () { act("accept", {}, "已签收", $("btn-accept")); });
    // A note typed (or a day or team chosen) after a refusal clears the
    // refusal.
    Array.prototype.forEach.call(document.querySelectorAll("#view-case form textarea, #view-case form input, #view-case form select"), function (t) {
      t.addEventListener("input", function () { var n = t.form.querySelector(".form-error"); if (n) { n.hidden = true; } });
    });
    $("btn-resolve").addEventListener("click", function () {
      hideForms("resolve-form");
      $("resolve-note").focus();
    });
    $("btn-return").addEventListener("click", function () {
      hideForms("return-form");
      $("return-reason").focus();
    });
    $("btn-extend").addEventListener("click", function () {
      hideForms("extend-form");
      // A week after the current deadline (or today), by the calendar of
      // Xiamen. The new deadline is the chosen day's end (23:59:59): the
      // first day offered ends after the current deadline, the last ends
      // at most MaxExtension (30 days) after it.
      var from = new Date(state.resolveDue || Date.now());
      if (isNaN(from) || from < new Date()) { from = new Date(); }
      // A deadline ends on a working day: a week on that is a Saturday or
      // a Sunday offers the Monday after (a holiday the server refuses,
      // naming its next working day).
      var pick = new Date(from.getTime() + 7 * 86400000);
      for (var i = 0; i < 2; i++) {
        var t = inShanghai(pick);
        var weekday = new Date(Date.UTC(t.year, t.month - 1, t.day)).getUTCDay();
        if (weekday !== 6 && weekday !== 0) { break; }
        pick = new Date(pick.getTime() + 86400000);
      }
      $("extend-date").value = shanghaiDate(pick);
      $("extend-date").min = shanghaiDate(new Date(from.getTime() + 1000));
      $("extend-date").max = shanghaiDate(new Date(from.getTime() + 30 * 86400000 - 86399000));
      $("extend-reason").focus();
    });
    $("btn-reassign").addEventListener("click", function () {
      loadTeams().then(function (teams) {
        var names = {};
        teams.forEach(function (t) { names[t.id] = t.name; });
        var ids = teams.filter(function (t) { return t.district === state.caseDistrict && t.id !== state.caseTeam; })
          .map(function (t) { return t.id; });
        options($("reassign-team"), ids, names, "");
        hideForms("reassign-form");
        $("reassign-reason").focus();
      }).catch(function (err) { toast("单位列表加载失败：" + err.message); });
    });
    $("reassign-form").addEventListener("submit", function (e) {
      e.preventDefault();
      if (!filled("reassign-reason", "请填写改派理由")) { return; }
      act("reassign", { team: $("reassign-team").value, reason: $("reassign-reason").value.trim() }, "已改派", submitOf(this))
        .then(function (ok) { if (ok) { $("reassign-reason").value = ""; $("reassign-form").hidden = true; } });
    });
    $("extend-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var day = $("extend-date").value;
      if (!day) { return; }
      if (!filled("extend-reason", "请填写延期理由")) { return; }
      act("extend", { resolve_due: day + "T23:59:59+08:00", reason: $("extend-reason").value.trim() }, "已延期", submitOf(this))
        .then(function (ok) { if (ok) { $("extend-reason").value = ""; $("extend-form").hidden = true; } });
    });
    $("resolve-form").addEventListener("submit", function (e) {
      e.preventDefault();
      if (!filled("resolve-note", "请填写处置说明")) { return; }
      act("resolve", { outcome: $("outcome").value, note: $("resolve-note").value.trim() }, "已办结", submitOf(this))
        .then(function (ok) { if (ok) { $("resolve-note").value = ""; } });
    });
    $("return-form").addEventListener("submit", function (e) {
      e.preventDefault();
      if (!filled("return-reason", "请填写退单理由")) { return; }
      act("return", { reason: $("return-reason").value.trim() }, "已退单", submitOf(this)).then(function (ok) {
        if (!ok) { return; }
        $("return-reason").value = "";
        location.hash = "#/";
      });
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-cancel]"), function (b) {
      b.addEventListener("click", function () { b.closest("form").hidden = true; });
    });
    window.addEventListener("hashchange", route);
    if (token()) { api("GET", "/api/v1/me").then(showWho).catch(function () { /* route() reports it */ }); }
    setInterval(tick, 1000);
    route();
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
}());
