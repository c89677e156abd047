/*
 * 政策通 嵌入式小助手（widget）
 * 用法：<script src="http://HOST/widget.js" data-title="政策小助手"></script>
 * 可选属性：data-title 标题 · data-color 主题色 · data-position left|right · data-welcome 欢迎语
 *          data-api-key API 密钥（服务端开启密钥时）· data-open="true" 加载后自动展开
 * 无需构建、不依赖第三方 CDN；ES5 语法，兼容微信 H5 页面与小程序 web-view。
 * 页面可调用 window.PolicyAssistantWidget.open() / .close() / .ask("问题")。
 */
(function () {
  "use strict";
  if (window.PolicyAssistantWidget) { return; }

  var script = document.currentScript || (function () {
    var all = document.getElementsByTagName("script");
    for (var i = all.length - 1; i >= 0; i--) { if (/widget\.js(\?|#|$)/.test(all[i].src)) { return all[i]; } }
    return null;
  })();
  var src = script && script.src ? script.src : window.location.href;
  var base = src.replace(/[?#].*$/, "").replace(/\/widget\.js$/, "");
  function attr(name, fallback) {
    var v = script ? script.getAttribute("data-" + name) : null;
    return v === null || v === "" ? fallback : v;
  }
  var TITLE = attr("title", "政策小助手");
  // The colour goes into the widget's CSS, so only a plain colour is accepted: #rgb/#rrggbb(aa), rgb()/hsl() with
  // numbers, or a CSS colour name. Anything else (quotes, braces, semicolons, url(), expressions) is ignored.
  function safeColor(value, fallback) {
    var v = String(value || "").trim();
    if (/^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/.test(v)) { return v; }
    if (/^(?:rgb|rgba|hsl|hsla)\(\s*[0-9.]+%?\s*(?:,\s*[0-9.]+%?\s*){2,3}\)$/.test(v)) { return v; }
    if (/^[a-zA-Z]{3,20}$/.test(v)) { return v; }
    return fallback;
  }
  var COLOR = safeColor(attr("color", "#c81e1e"), "#c81e1e");
  var SIDE = attr("position", "right") === "left" ? "left" : "right";
  var WELCOME = attr("welcome", "您好！我可以解答人工智能产业补助政策问题，并测算最高补助金额。请问有什么可以帮您？");
  var API_KEY = attr("api-key", "");
  var STORE_KEY = "policy-assistant-session:" + base;
  var EXAMPLES = ["买算力花了80万能补多少？", "智改数转三级奖励多少？", "申报截止到什么时候？"];

  var state = { sessionId: null, loaded: false, busy: false, open: false };
  try { state.sessionId = window.localStorage.getItem(STORE_KEY); } catch (e) { state.sessionId = null; }

  function saveSession(id) {
    if (!id) { return; }
    state.sessionId = id;
    try { window.localStorage.setItem(STORE_KEY, id); } catch (e) { /* private mode: session lasts this page */ }
  }
  // The server no longer has the conversation (restarted while it was a one-off, deleted, past retention): forget it.
  function forgetSession() {
    state.sessionId = null;
    try { window.localStorage.removeItem(STORE_KEY); } catch (e) { /* ignore */ }
  }
  var EXPIRED = "之前的对话已过期，已为您开始新对话。";

  // --- tiny safe markdown: escape first, then bold, lists, tables, [n] citation markers ---------------------
  function esc(s) {
    return String(s == null ? "" : s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }
  function inline(s) {
    return esc(s).replace(/\*\*([^*]+)\*\*/g, "<b>$1</b>")
      .replace(/\[(\d{1,2})\]/g, '<a href="#" class="pa-ref" data-ref="$1">[$1]</a>');
  }
  function markdown(text) {
    var lines = String(text || "").split(/\r?\n/);
    var out = [], list = null, table = null;
    function flush() {
      if (list) { out.push("<ul>" + list.join("") + "</ul>"); list = null; }
      if (table) {
        var rows = table.filter(function (r) { return !/^\s*\|?\s*:?-{2,}/.test(r); });
        out.push('<div class="pa-table"><table>' + rows.map(function (r, i) {
          var cells = r.replace(/^\s*\|/, "").replace(/\|\s*$/, "").split("|");
          var tag = i === 0 ? "th" : "td";
          return "<tr>" + cells.map(function (c) { return "<" + tag + ">" + inline(c.trim()) + "</" + tag + ">"; }).join("") + "</tr>";
        }).join("") + "</table></div>");
        table = null;
      }
    }
    for (var i = 0; i < lines.length; i++) {
      var line = lines[i];
      if (/^\s*\|.*\|\s*$/.test(line)) { if (list) { flush(); } table = table || []; table.push(line); continue; }
      var item = /^(\s*)([-*•]|\d+[.、])\s+(.*)$/.exec(line);
      if (item) {
        if (table) { flush(); }
        list = list || [];
        var numbered = /^\d/.test(item[2]);
        var cls = (item[1].length >= 2 ? "sub " : "") + (numbered ? "num" : "");
        list.push('<li class="' + cls + '">' + (numbered ? esc(item[2]) + " " : "") + inline(item[3]) + "</li>");
        continue;
      }
      flush();
      if (/^\s*#{1,6}\s+/.test(line)) { out.push("<p><b>" + inline(line.replace(/^\s*#+\s+/, "")) + "</b></p>"); }
      else if (line.trim()) { out.push("<p>" + inline(line) + "</p>"); }
    }
    flush();
    return out.join("");
  }

  // --- DOM (inside a shadow root so the host page's CSS cannot break it) -----------------------------------
  var host = document.createElement("div");
  host.id = "policy-assistant-widget";
  host.setAttribute("data-api-base", base);
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var css = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:-apple-system,BlinkMacSystemFont,'PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif}",
    ".bubble{position:fixed;bottom:calc(20px + env(safe-area-inset-bottom));" + SIDE + ":20px;width:56px;height:56px;border-radius:50%;",
    "border:none;background:" + COLOR + ";color:#fff;box-shadow:0 6px 20px rgba(0,0,0,.25);cursor:pointer;z-index:2147483000;",
    "display:flex;align-items:center;justify-content:center;-webkit-tap-highlight-color:transparent}",
    ".bubble svg{width:28px;height:28px}",
    ".panel{position:fixed;bottom:88px;" + SIDE + ":20px;width:380px;max-width:calc(100vw - 24px);height:600px;max-height:calc(100vh - 110px);",
    "background:#fff;border-radius:14px;box-shadow:0 12px 40px rgba(0,0,0,.28);display:none;flex-direction:column;overflow:hidden;z-index:2147483001;color:#1f2937}",
    ".panel.open{display:flex}",
    ".head{background:" + COLOR + ";color:#fff;padding:12px 14px;display:flex;align-items:center;gap:8px}",
    ".head .t{flex:1;font-size:16px;font-weight:600}",
    ".head button{background:rgba(255,255,255,.18);border:none;color:#fff;border-radius:8px;min-width:44px;min-height:44px;padding:0 10px;font-size:14px;cursor:pointer}",
    ".head button.close{font-size:20px;line-height:1}",
    ".msgs{flex:1;overflow-y:auto;padding:12px;background:#f5f6f8;-webkit-overflow-scrolling:touch}",
    ".m{margin:8px 0;display:flex}.m.u{justify-content:flex-end}",
    ".b{max-width:86%;padding:9px 12px;border-radius:12px;font-size:14px;line-height:1.65;word-break:break-word;background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.06)}",
    ".m.u .b{background:" + COLOR + ";color:#fff}",
    ".m.err .b{background:#fff1f2;color:#9f1239;border:1px solid #fecdd3}",
    ".b p{margin:0 0 6px}.b p:last-child{margin-bottom:0}.b ul{margin:4px 0;padding-left:18px}",
    ".b li.num{list-style:none;margin-left:-14px}.b li.sub{margin-left:14px}.b li.sub.num{margin-left:0}",
    ".pa-table{overflow-x:auto}.b table{border-collapse:collapse;margin:6px 0;font-size:12px}.b td,.b th{border:1px solid #e5e7eb;padding:3px 6px;text-align:left}",
    ".pa-ref{color:" + COLOR + ";text-decoration:none;font-size:12px;vertical-align:super}",
    ".facts{margin:0 0 8px;padding:6px 8px;background:#f1f5f9;border-radius:8px;font-size:13px}",
    ".facts .ft{font-weight:700;color:#1e293b;margin-bottom:4px}",
    ".fact{display:inline-flex;flex-wrap:wrap;align-items:baseline;gap:4px;min-height:44px;margin:2px 4px 2px 0;padding:4px 12px;" +
      "border:1px solid #cbd5e1;border-radius:22px;background:#fff;color:#1e293b;font-size:13px;text-align:left;cursor:pointer}",
    ".fact small{color:#475569;font-size:12px}.fact.corrected{border-color:#15803d;background:#f0fdf4}",
    ".fact.assumed{border-style:dashed}.fact.missing{border-style:dashed;background:#fff7ed;color:#7c2d12}",
    ".facts.old .fact{cursor:default;min-height:0}",
    ".fedit{margin-top:6px;display:flex;flex-wrap:wrap;gap:6px;align-items:center}",
    ".fedit input{flex:1 1 140px;min-height:44px;font-size:16px;border:1px solid #6b7280;border-radius:8px;padding:0 8px}",
    ".fedit button{min-height:44px;min-width:56px;border-radius:8px;border:1px solid #9ca3af;background:#f9fafb;color:#1f2937;font-size:15px;padding:0 12px;cursor:pointer}",
    ".fedit button.go{background:" + COLOR + ";border-color:" + COLOR + ";color:#fff}",
    ".cites{margin-top:8px;border-top:1px dashed #e5e7eb;padding-top:6px}",
    ".cites .ct{font-size:12px;color:#6b7280;margin-bottom:2px}",
    "details{margin:4px 0;background:#fef2f2;border-left:3px solid " + COLOR + ";border-radius:4px;padding:3px 8px}",
    "summary{cursor:pointer;font-size:12px;font-weight:600;color:#7f1d1d}",
    "details div{font-size:12px;color:#374151;padding:4px 0;white-space:pre-wrap}",
    ".badges{margin:0 0 6px}.badge{display:inline-block;font-size:12px;padding:0 7px;border-radius:99px;margin:2px 4px 0 0;line-height:20px}",
    ".badge.ok{background:#dcfce7;color:#166534}.badge.bad{background:#fee2e2;color:#991b1b}.badge.closed{background:#fef3c7;color:#92400e}",
    ".badge.soon{background:#ffedd5;color:#9a3412}.badge.info{background:#e0f2fe;color:#075985}.doc{font-size:12px;color:#374151}",
    ".fb{margin-top:6px;font-size:12px;color:#4b5563;display:flex;align-items:center;gap:2px}",
    ".fb button{background:none;border:none;cursor:pointer;color:#4b5563;min-width:44px;min-height:44px;padding:0;line-height:0;display:inline-flex;align-items:center;justify-content:center}.fb button:hover{color:" + COLOR + "}",
    ".fb button.down svg{transform:rotate(180deg)}",
    ".chips{display:flex;gap:6px;flex-wrap:wrap;padding:6px 12px 0;background:#f5f6f8}",
    ".chips button{border:1px solid #d1d5db;background:#fff;border-radius:99px;padding:0 12px;min-height:44px;font-size:14px;color:#374151;cursor:pointer}",
    ".bar{display:flex;gap:8px;padding:10px 12px calc(10px + env(safe-area-inset-bottom));border-top:1px solid #eee;background:#fff}",
    ".bar textarea{flex:1;resize:none;border:1px solid #9ca3af;border-radius:10px;padding:10px;font-size:16px;height:44px;max-height:96px;outline:none}",
    ".bar textarea::placeholder{color:#6b7280}",
    ".bar textarea:focus{border-color:" + COLOR + "}",
    ".bar button{background:" + COLOR + ";color:#fff;border:none;border-radius:10px;padding:0 16px;min-width:44px;min-height:44px;font-size:16px;cursor:pointer}",
    ".bar button:disabled{opacity:.5}",
    ".typing{color:#4b5563}.note{font-size:12px;color:#92400e;background:#fef3c7;border-radius:6px;padding:4px 8px;margin-bottom:6px}",
    "@media (max-width:600px){.panel{top:0;left:0;right:0;bottom:0;width:100%;max-width:100%;height:100%;max-height:none;border-radius:0}",
    ".panel.open~.bubble{display:none}}"
  ].join("");

  var icon = '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" ' +
    'stroke-linejoin="round" aria-hidden="true"><path d="M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z"/></svg>';
  root.innerHTML = "<style>" + css + "</style>" +
    '<div class="panel" role="dialog" aria-label="' + esc(TITLE) + '">' +
    '<div class="head"><span class="t">' + esc(TITLE) + '</span><button class="new" type="button">新对话</button>' +
    '<button class="close" type="button" aria-label="关闭" title="关闭（Esc）"><svg viewBox="0 0 24 24" width="20" height="20" ' +
    'fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" aria-hidden="true"><path d="M6 6l12 12M18 6L6 18"/>' +
    "</svg></button></div>" +
    '<div class="msgs" aria-live="polite"></div><div class="chips"></div>' +
    '<form class="bar"><textarea rows="1" placeholder="请输入您的问题" aria-label="问题"></textarea>' +
    '<button type="submit" class="send">发送</button></form></div>' +
    '<button class="bubble" type="button" aria-label="' + esc(TITLE) + '" title="' + esc(TITLE) + '">' + icon + "</button>";

  var panel = root.querySelector(".panel");
  var msgs = root.querySelector(".msgs");
  var chips = root.querySelector(".chips");
  var form = root.querySelector("form");
  var input = root.querySelector("textarea");
  var sendBtn = root.querySelector(".send");

  EXAMPLES.forEach(function (q) {
    var b = document.createElement("button");
    b.type = "button"; b.textContent = q;
    b.addEventListener("click", function () { ask(q); });
    chips.appendChild(b);
  });

  // The latest question at the top with the start of its answer below it (never the answer's end).
  function scroll() {
    var rows = msgs.querySelectorAll(".m.u");
    var last = rows[rows.length - 1];
    if (!last) { msgs.scrollTop = 0; return; }
    msgs.scrollTop += last.getBoundingClientRect().top - msgs.getBoundingClientRect().top - 8;
  }
  function bubble(kind, html) {
    var row = document.createElement("div");
    row.className = "m " + kind;
    var b = document.createElement("div");
    b.className = "b";
    b.innerHTML = html;
    row.appendChild(b);
    msgs.appendChild(row);
    scroll();
    return b;
  }
  function citeLine(c, n) {
    return "[" + n + "] 《" + c.document + "》" + (c.doc_number ? "（" + c.doc_number + "）" : "") + " " + (c.clause || "");
  }
  var THUMB = '<svg viewBox="0 0 24 24" width="16" height="16" fill="none" stroke="currentColor" stroke-width="2" ' +
    'stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M7 10v12"/><path d="M15 5.88 14 10h5.83a2 2 0 0 1 ' +
    '1.92 2.56l-2.33 8A2 2 0 0 1 17.5 22H4a2 2 0 0 1-2-2v-8a2 2 0 0 1 2-2h2.76a2 2 0 0 0 1.79-1.11L12 2a3.13 3.13 0 0 1 3 3.88Z"/></svg>';
  function zhDate(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(iso || ""));
    return m ? m[1] + "年" + parseInt(m[2], 10) + "月" + parseInt(m[3], 10) + "日" : String(iso || "");
  }
  // The status that leads every amount (same rule and order as ui/format.py status_text).
  function statusOf(v) {
    var closes = v.window_closes ? zhDate(v.window_closes) + (v.window_closes_time || "") : "";
    if (v.replaced_by) {
      var word = v.replaced_kind === "supersede" ? "修订替代" : v.replaced_kind ? "废止" : "修订或废止";
      return ["已被" + word + (v.replaced_from ? "（" + zhDate(v.replaced_from) + "起）" : ""), "bad"];
    }
    if (v.status === "expired") { return [v.effective_to ? "已失效（" + zhDate(v.effective_to) + "到期）" : "已失效", "bad"]; }
    if (v.status === "not_yet") { return ["尚未生效（" + zhDate(v.effective_from) + "起施行）", "bad"]; }
    if (v.window_open === false) { return [closes ? "申报已截止（" + closes + "）" : "申报已截止", "closed"]; }
    if (v.window_open === true) { return [closes ? "申报中（截止" + closes + "）" : "申报中", "ok"]; }
    if (v.status === "unstated") { return ["通知未规定有效期", "info"]; }
    if (!v.effective_to) { return [v.effective_from ? "自" + zhDate(v.effective_from) + "起施行" : "有效", "ok"]; }
    if (v.expiring_soon) { return ["即将到期（有效至" + zhDate(v.effective_to) + "）", "soon"]; }
    return ["有效至" + zhDate(v.effective_to), "ok"];
  }

  // “我读到的信息”: one chip per fact the answer computed with (and 未说明 for what it still needs); the chips of the
  // latest answer open an editor and the answer is recomputed with the correction (POST /api/chat facts_override).
  var ORIGIN = { earlier_turn: "上文", assumed: "推定", corrected: "已更正" };
  function factsHtml(a) {
    var facts = a.facts_read || [], seen = {}, chips = [];
    facts.forEach(function (f, i) {
      seen[f.fact] = true;
      var note = [f.source_text ? "“" + f.source_text + "”" : "", f.year ? f.year + "年" : "", ORIGIN[f.origin] || ""]
        .filter(function (x) { return x; }).join(" · ");
      chips.push('<button type="button" class="fact ' + esc(f.origin) + '" data-i="' + i + '">' + esc(f.label) + " <b>" +
        esc(f.display) + "</b>" + (note ? "<small>" + esc(note) + "</small>" : "") + "</button>");
    });
    (a.calculations || []).forEach(function (c) {
      (c.missing_facts || []).forEach(function (name, j) {
        if (seen[name]) { return; }
        seen[name] = true;
        chips.push('<button type="button" class="fact missing" data-missing="' + esc(name) + '" data-label="' +
          esc((c.missing || [])[j] || name) + '">' + esc((c.missing || [])[j] || name) + " <b>未说明</b></button>");
      });
    });
    return chips.length ? '<div class="facts"><div class="ft">我读到的信息（点击修改）</div>' + chips.join("") + "</div>" : "";
  }
  function bindFacts(el, a) {
    var old = msgs.querySelectorAll(".facts");
    for (var k = 0; k < old.length; k++) { if (!el.contains(old[k])) { old[k].className = "facts old"; } }
    var chipsEls = el.querySelectorAll(".facts .fact");
    for (var i = 0; i < chipsEls.length; i++) {
      chipsEls[i].addEventListener("click", function () {
        if (this.parentNode.className.indexOf("old") >= 0 || state.busy) { return; }
        var f = this.hasAttribute("data-i") ? a.facts_read[+this.getAttribute("data-i")] :
          { fact: this.getAttribute("data-missing"), label: this.getAttribute("data-label"), unit: "", origin: "missing", display: "" };
        editFact(this.parentNode, f);
      });
    }
  }
  function editFact(box, f) {
    var prev = box.querySelector(".fedit");
    if (prev) { prev.parentNode.removeChild(prev); }
    var form = document.createElement("div");
    form.className = "fedit";
    function go(value) { form.parentNode.removeChild(form); correct(f, value); }
    function btn(text, cls, fn) {
      var b = document.createElement("button");
      b.type = "button"; b.textContent = text; if (cls) { b.className = cls; }
      b.addEventListener("click", fn); form.appendChild(b); return b;
    }
    var input = null;
    if (f.unit === "bool") {
      btn("是", "", function () { go("是"); });
      btn("否", "", function () { go("否"); });
    } else {
      input = document.createElement("input");
      input.value = f.origin === "missing" ? "" : f.display;
      input.setAttribute("aria-label", f.label);
      input.placeholder = f.unit === "yuan" ? "如 120万（只填数字按万元计）" : "更正后的值";
      input.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" && !ev.isComposing && input.value.trim()) { ev.preventDefault(); go(input.value.trim()); }
      });
      form.appendChild(input);
      btn("重新计算", "go", function () { if (input.value.trim()) { go(input.value.trim()); } });
    }
    if (f.origin !== "missing" && f.origin !== "assumed") { btn("删除", "", function () { go(null); }); }
    btn("取消", "", function () { form.parentNode.removeChild(form); });
    box.appendChild(form);
    if (input) { input.focus(); input.select(); }
  }
  function correct(f, value) {
    if (state.busy || !state.sessionId) { return; }
    // a bare number on a money chip is 万元 (as in the web forms): “120” means 120万元, never 120元
    if (f.unit === "yuan" && typeof value === "string" && /^[0-9.,，\s]+$/.test(value)) { value = value.replace(/[\s，]/g, "") + "万"; }
    var override = {};
    override[f.fact] = value;
    state.busy = true;
    sendBtn.disabled = true;
    bubble("u", esc(value === null ? "更正：删除“" + f.label + "”" : "更正：" + f.label + "改为" + value));
    var el = bubble("a", '<span class="typing">正在重新计算……</span>');
    post("/api/chat", { session_id: state.sessionId, facts_override: override }).then(function (answer) {
      saveSession(answer.session_id);
      renderAnswer(el, answer);
    }, function (err) {
      el.parentNode.className = "m err";
      if (err && err.code === "session_not_found") {
        forgetSession();
        el.textContent = "这段对话已过期，无法更正，请重新提问。";
        return;
      }
      el.textContent = err && err.message ? err.message : "重新计算失败，请稍后再试。";
    }).then(function () { state.busy = false; sendBtn.disabled = false; scroll(); });
  }

  function renderAnswer(el, a) {
    var html = factsHtml(a);  // the facts read first: a misread number shows before any amount
    (a.validity || []).forEach(function (v, i) {  // then the documents' status, before any amount
      if (i === 0) { html += '<div class="badges">'; }
      var s = statusOf(v);
      html += '<div><span class="badge ' + s[1] + '">' + esc(s[0]) + '</span><span class="doc">《' + esc(v.document) +
        "》</span></div>";
      if (i === a.validity.length - 1) { html += "</div>"; }
    });
    html += markdown(a.answer);
    var cites = a.citations || [];
    if (cites.length) {
      html += '<div class="cites"><div class="ct">引用条款（点击查看原文）</div>';
      cites.forEach(function (c, i) {
        html += '<details data-n="' + (i + 1) + '"><summary>' + esc(citeLine(c, i + 1)) + "</summary><div>" +
          esc(c.text) + "</div></details>";
      });
      html += "</div>";
    }
    // a one-off answer has no turn_id until the conversation is kept: rating it keeps the conversation (the server
    // links the rating to its last turn), so the thumbs are offered whenever the answer belongs to a conversation
    if (a.turn_id || a.session_id) {
      html += '<div class="fb">有帮助吗？<button type="button" data-r="up" aria-label="有帮助" title="有帮助">' + THUMB +
        '</button><button type="button" data-r="down" aria-label="没帮助" title="没帮助" class="down">' + THUMB + "</button></div>";
    }
    el.innerHTML = html;
    el.setAttribute("data-status", a.status || "");
    bindFacts(el, a);
    var refs = el.querySelectorAll(".pa-ref");
    for (var i = 0; i < refs.length; i++) {
      refs[i].addEventListener("click", function (ev) {
        ev.preventDefault();
        var d = el.querySelector('details[data-n="' + this.getAttribute("data-ref") + '"]');
        if (d) { d.open = true; d.scrollIntoView({ block: "nearest" }); }
      });
    }
    var fbs = el.querySelectorAll(".fb button");
    for (var j = 0; j < fbs.length; j++) {
      fbs[j].addEventListener("click", function () {
        var box = this.parentNode;
        var body = { rating: this.getAttribute("data-r"), session_id: a.session_id || state.sessionId };
        if (a.turn_id) { body.turn_id = a.turn_id; }
        else { body.question = String(a.question || "").slice(0, 10000); body.answer = String(a.answer || "").slice(0, 20000); }
        post("/api/feedback", body)
          .then(function () { box.textContent = "感谢您的反馈！"; }, function () { box.textContent = "反馈未能提交。"; });
      });
    }
    scroll();
  }

  function headers() {
    var h = { "Content-Type": "application/json" };
    if (API_KEY) { h["X-API-Key"] = API_KEY; }
    return h;
  }
  function errorText(resp, data) {
    if (data && data.message) { return data.message; }
    return "服务暂时不可用（" + resp.status + "），请稍后再试。";
  }
  function httpError(resp, data) {  // the Chinese message, and the server's error code for the caller to act on
    var err = new Error(errorText(resp, data));
    err.code = data && data.error;
    return err;
  }
  function post(path, body) {
    return fetch(base + path, { method: "POST", headers: headers(), body: JSON.stringify(body) }).then(function (resp) {
      return resp.json().catch(function () { return null; }).then(function (data) {
        if (!resp.ok) { throw httpError(resp, data); }
        return data;
      });
    });
  }

  // Server-Sent Events over fetch (POST): token events stream in, the answer event carries citations.
  function streamChat(body, onToken) {
    return fetch(base + "/api/chat", { method: "POST", headers: headers(), body: JSON.stringify(body) }).then(function (resp) {
      var type = resp.headers.get("content-type") || "";
      if (!resp.ok || type.indexOf("text/event-stream") < 0 || !resp.body || !window.TextDecoder) {
        return resp.text().then(function (t) {
          var data = null;
          try { data = JSON.parse(t); } catch (e) { data = parseSSE(t).answer; }
          if (!resp.ok || !data) { throw httpError(resp, data); }
          return data;
        });
      }
      var reader = resp.body.getReader(), decoder = new TextDecoder("utf-8"), buf = "", answer = null, failure = null;
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) {
            if (failure) { throw new Error(failure); }
            if (!answer) { throw new Error("回答不完整，请重试。"); }
            return answer;
          }
          buf += decoder.decode(r.value, { stream: true });
          var parts = buf.split("\n\n");
          buf = parts.pop();
          parts.forEach(function (block) {
            var ev = parseEvent(block);
            if (!ev) { return; }
            if (ev.event === "token") { onToken(ev.data.text || ""); }
            else if (ev.event === "answer") { answer = ev.data; }
            else if (ev.event === "error") { failure = ev.data.message || "服务出错，请稍后再试。"; }
          });
          return pump();
        });
      }
      return pump();
    });
  }
  function parseEvent(block) {
    var event = "message", data = [];
    block.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) { event = line.slice(6).trim(); }
      else if (line.indexOf("data:") === 0) { data.push(line.slice(5).replace(/^ /, "")); }
    });
    if (!data.length) { return null; }
    try { return { event: event, data: JSON.parse(data.join("\n")) }; } catch (e) { return null; }
  }
  function parseSSE(text) {
    var result = {};
    text.split("\n\n").forEach(function (b) { var ev = parseEvent(b); if (ev) { result[ev.event] = ev.data; } });
    return result;
  }

  function ask(question) {
    question = String(question || "").trim();
    if (!question || state.busy) { return; }
    openPanel();
    chips.style.display = "none";
    state.busy = true;
    sendBtn.disabled = true;
    bubble("u", esc(question));
    var el = bubble("a", '<span class="typing">正在查询政策条款……</span>');
    var text = "", notice = "";
    function run(sessionId) {
      return streamChat({ question: question, session_id: sessionId, stream: true }, function (t) {
        text += t;
        el.innerHTML = markdown(text);
        scroll();
      }).catch(function (err) {
        if (!(err && err.code === "session_not_found" && sessionId)) { throw err; }
        forgetSession();  // the conversation is gone: the question starts a new one, and says so
        notice = EXPIRED;
        text = "";
        return run(null);
      });
    }
    run(state.sessionId).then(function (answer) {
      saveSession(answer.session_id);
      renderAnswer(el, answer);
      if (notice) { el.insertAdjacentHTML("afterbegin", '<div class="note">' + esc(notice) + "</div>"); }
    }).catch(function (err) {
      el.parentNode.className = "m err";
      // fetch rejects with a TypeError when the network fails or CORS blocks the page's origin
      el.textContent = err && err.name !== "TypeError" && err.message ? err.message :
        "无法连接政策助手服务：请检查网络，或确认本网站已加入服务端的跨域允许列表。";
    }).then(function () {
      state.busy = false;
      sendBtn.disabled = false;
    });
  }

  function restore() {
    if (state.loaded) { return; }
    state.loaded = true;
    bubble("a", markdown(WELCOME));
    if (!state.sessionId) { return; }
    var h = {};
    if (API_KEY) { h["X-API-Key"] = API_KEY; }
    fetch(base + "/api/sessions/" + encodeURIComponent(state.sessionId), { headers: h }).then(function (r) {
      if (r.status === 404) { forgetSession(); }  // nothing to restore: the next question starts a new conversation
      return r.ok ? r.json() : null;
    }).then(function (data) {
      if (!data || !data.turns || !data.turns.length) { return; }
      chips.style.display = "none";
      data.turns.forEach(function (t) {
        bubble("u", esc(t.question));
        var a = t.answer || {};
        a.turn_id = t.turn_id;
        renderAnswer(bubble("a", ""), a);
      });
    }).catch(function () { /* history is a convenience; the session still continues */ });
  }

  function openPanel() {
    if (!state.open) {
      state.open = true;
      panel.className = "panel open";
      restore();
      setTimeout(function () { input.focus(); }, 50);
    }
  }
  function closePanel() { state.open = false; panel.className = "panel"; }

  root.querySelector(".bubble").addEventListener("click", function () { state.open ? closePanel() : openPanel(); });
  root.querySelector(".close").addEventListener("click", closePanel);
  document.addEventListener("keydown", function (ev) {  // Escape closes the panel
    if ((ev.key === "Escape" || ev.key === "Esc") && state.open) { closePanel(); root.querySelector(".bubble").focus(); }
  });
  root.querySelector(".new").addEventListener("click", function () {
    state.sessionId = null;
    try { window.localStorage.removeItem(STORE_KEY); } catch (e) { /* ignore */ }
    msgs.innerHTML = "";
    chips.style.display = "";
    bubble("a", markdown(WELCOME));
  });
  function submitInput() {
    var q = input.value;
    if (state.busy || !q.trim()) { return; }
    input.value = "";
    ask(q);
  }
  form.addEventListener("submit", function (ev) { ev.preventDefault(); submitInput(); });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); submitInput(); }
  });

  function mount() {
    document.body.appendChild(host);
    if (attr("open", "") === "true") { openPanel(); }
  }
  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }

  window.PolicyAssistantWidget = { open: openPanel, close: closePanel, ask: ask, apiBase: base };
})();
