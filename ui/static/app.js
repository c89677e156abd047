/* 政策通 web page helpers (inlined into the page head; plain ES5, no network).
 * - copy: a chat message's copy button puts the clean text (answer + citation lines) on the clipboard, not the raw
 *   message with its HTML; the text travels in the message as <!--pa-copy:BASE64--> (ui/format.py copy_marker).
 * - IME: Enter that confirms a pinyin candidate never sends the question.
 * - scrolling: after a question is sent or answered, the question and the start of the answer are in view.
 * - focus: the question box (desktop) and the hotline search box (when its tab opens) take focus without scrolling
 *   the page header away.
 */
(function () {
  "use strict";
  if (window.__paPage) { return; }
  window.__paPage = true;

  var MARK = /<!--pa-copy:([A-Za-z0-9+\/=]*)-->/;
  function decode(b64) {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    return new TextDecoder("utf-8").decode(bytes);
  }
  function clean(text) {
    var m = MARK.exec(String(text == null ? "" : text));
    return m ? decode(m[1]) : null;
  }
  window.paCopyText = clean;
  var clip = navigator.clipboard;
  if (clip && clip.writeText) {
    var write = clip.writeText.bind(clip);
    clip.writeText = function (text) { var c = clean(text); return write(c === null ? text : c); };
  }
  // Without the async clipboard (plain http on a LAN address) Gradio copies through a textarea and execCommand.
  document.addEventListener("copy", function (ev) {
    var t = ev.target;
    var c = t && typeof t.value === "string" ? clean(t.value) : null;
    if (c !== null && ev.clipboardData) { ev.clipboardData.setData("text/plain", c); ev.preventDefault(); }
  }, true);

  // --- IME guard ----------------------------------------------------------------------------------------------
  var composing = false, endedAt = 0;
  function inQuestion(t) { return t && t.closest && t.closest("#pa-question"); }
  document.addEventListener("compositionstart", function (ev) { if (inQuestion(ev.target)) { composing = true; } }, true);
  document.addEventListener("compositionend", function (ev) {
    if (inQuestion(ev.target)) { composing = false; endedAt = Date.now(); }
  }, true);
  function guard(ev) {
    if (ev.key !== "Enter" || !inQuestion(ev.target)) { return; }
    // Safari reports the confirming Enter just after compositionend
    if (ev.isComposing || ev.keyCode === 229 || composing || Date.now() - endedAt < 80) {
      ev.stopImmediatePropagation();
      if (ev.type === "keypress") { ev.preventDefault(); }
    }
  }
  window.addEventListener("keydown", guard, true);
  window.addEventListener("keypress", guard, true);

  // --- one question at a time -------------------------------------------------------------------------------
  // While an answer is pending 发送 is disabled; Enter in the box and the example questions are held back the same
  // way, and what was typed stays in the box. An empty box sends nothing.
  function pending() { var b = document.querySelector("#pa-send"); return !!(b && b.disabled); }
  window.addEventListener("keypress", function (ev) {
    if (ev.key !== "Enter" || ev.shiftKey || !inQuestion(ev.target)) { return; }
    if (pending() || !String(ev.target.value || "").trim()) { ev.stopImmediatePropagation(); ev.preventDefault(); }
  }, true);
  document.addEventListener("click", function (ev) {
    var t = ev.target && ev.target.closest ? ev.target.closest(".pa-example, #pa-send") : null;
    if (t && pending()) { ev.stopImmediatePropagation(); ev.preventDefault(); }
  }, true);

  // --- Chinese accessible names ----------------------------------------------------------------------------------
  // A few labels Gradio hard-codes in English, and its chat messages' labels, which carry the raw message (HTML and
  // all): a screen reader reads “回答：” and the clean text instead.
  var LABELS = { "Copy": "复制", "Copied": "已复制", "More tabs": "更多标签页", "chatbot conversation": "对话记录",
                 "Clear": "清除", "Submit": "发送", "Stop": "停止" };
  function relabel(el) {
    if (!el || !el.getAttribute) { return; }
    ["aria-label", "title"].forEach(function (a) {
      var v = el.getAttribute(a);
      if (v === null) { return; }
      var out = v;
      if (LABELS.hasOwnProperty(v)) { out = LABELS[v]; }
      else if (v.indexOf("bot's message: ") === 0) {
        var c = clean(v);
        out = "回答：" + (c !== null ? c : (el.innerText || "").trim());
      } else if (v.indexOf("user's message: ") === 0) { out = "您的问题：" + v.slice(16); }
      if (out !== v) { el.setAttribute(a, out); }
    });
  }
  function relabelTree(node) {
    if (node.nodeType !== 1) { return; }
    relabel(node);
    var all = node.querySelectorAll("[aria-label],[title]");
    for (var i = 0; i < all.length; i++) { relabel(all[i]); }
  }
  new MutationObserver(function (records) {
    records.forEach(function (r) {
      if (r.type === "attributes") { relabel(r.target); }
      else { for (var i = 0; i < r.addedNodes.length; i++) { relabelTree(r.addedNodes[i]); } }
    });
  }).observe(document.documentElement, { subtree: true, childList: true, attributes: true,
                                         attributeFilter: ["aria-label", "title"] });

  // --- fact chips: correct what was read in one step -------------------------------------------------------------
  // The chips of the latest chat answer (and of the hotline answer) open a small editor; 重新计算 sends
  // {"fact", "value"} (null removes the fact) through a hidden field and button to the server, which recomputes with
  // the calculator. Older answers' chips are read-only.
  var TARGETS = {
    chat: { edit: "#pa-fact-edit textarea", apply: "#pa-fact-apply" },
    hotline: { edit: "#pa-hotline-fact-edit textarea", apply: "#pa-hotline-fact-apply" }
  };
  function chipTarget(chip) {
    if (chip.closest("#pa-hotline-answer")) { return "hotline"; }
    var rows = document.querySelectorAll("#pa-chat .message-row.bot-row");
    var last = rows[rows.length - 1];
    if (last && last.contains(chip) && !pending()) { return "chat"; }
    return null;
  }
  // A bare number on a money chip is 万元, as in the forms (“120” means 120万元, never 120元); 元/万/亿 typed are kept.
  function moneyValue(unit, value) {
    return unit === "yuan" && typeof value === "string" && /^[0-9.,，\s]+$/.test(value) ? value.replace(/[\s，]/g, "") + "万" : value;
  }
  window.paMoneyValue = moneyValue;
  function send(target, fact, value, unit) {
    value = moneyValue(unit, value);
    var t = TARGETS[target], box = document.querySelector(t.edit), btn = document.querySelector(t.apply);
    if (!box || !btn) { return; }
    box.value = JSON.stringify({ fact: fact, value: value });
    box.dispatchEvent(new Event("input", { bubbles: true }));
    setTimeout(function () { btn.click(); }, 30);
  }
  var editor = null;
  function closeEditor() { if (editor) { editor.remove(); editor = null; } }
  window.paCloseFactEditor = closeEditor;
  function button(label, cls, onclick) {
    var b = document.createElement("button");
    b.type = "button"; b.textContent = label; b.className = cls; b.addEventListener("click", onclick);
    return b;
  }
  function openEditor(chip, target) {
    closeEditor();
    // the chip's fact, unit and origin ride in its classes (Gradio's sanitizer drops data- attributes)
    function cls(prefix) {
      for (var i = 0; i < chip.classList.length; i++) {
        if (chip.classList[i].indexOf(prefix) === 0) { return chip.classList[i].slice(prefix.length); }
      }
      return "";
    }
    var fact = cls("pa-f--"), unit = cls("pa-u--"), origin = cls("pa-o--");
    var labelEl = chip.querySelector(".pa-fact-label"), valueEl = chip.querySelector(".pa-fact-value");
    var label = labelEl ? labelEl.textContent : "", value = origin === "missing" || !valueEl ? "" : valueEl.textContent;
    editor = document.createElement("div");
    editor.className = "pa-fact-editor";
    editor.setAttribute("role", "dialog");
    editor.setAttribute("aria-label", "修改：" + label);
    var title = document.createElement("div");
    title.className = "pa-fact-editor-title";
    title.textContent = label;
    editor.appendChild(title);
    var row = document.createElement("div");
    row.className = "pa-fact-editor-row";
    var input = null;
    if (unit === "bool") {
      row.appendChild(button("是", "pa-fe-yes", function () { closeEditor(); send(target, fact, "是"); }));
      row.appendChild(button("否", "pa-fe-no", function () { closeEditor(); send(target, fact, "否"); }));
    } else {
      input = document.createElement("input");
      input.type = "text";
      input.value = value;
      input.setAttribute("aria-label", label);
      input.placeholder = unit === "yuan" ? "如 120万（只填数字按万元计）" : "填写更正后的值";
      input.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" && !ev.isComposing && input.value.trim()) { ev.preventDefault(); closeEditor(); send(target, fact, input.value.trim(), unit); }
        if (ev.key === "Escape") { closeEditor(); chip.focus(); }
      });
      row.appendChild(input);
      row.appendChild(button("重新计算", "pa-fe-apply", function () {
        if (input.value.trim()) { closeEditor(); send(target, fact, input.value.trim(), unit); }
      }));
    }
    if (origin !== "missing" && origin !== "assumed") {
      row.appendChild(button("删除", "pa-fe-remove", function () { closeEditor(); send(target, fact, null); }));
    }
    row.appendChild(button("取消", "pa-fe-cancel", function () { closeEditor(); chip.focus(); }));
    editor.appendChild(row);
    chip.parentNode.insertBefore(editor, chip.nextSibling);
    if (input) { input.focus(); input.select(); } else { editor.querySelector("button").focus(); }
  }
  function onChip(ev) {
    var chip = ev.target && ev.target.closest ? ev.target.closest(".pa-fact") : null;
    if (!chip) { return; }
    if (ev.type === "keydown" && ev.key !== "Enter" && ev.key !== " ") { return; }
    var target = chipTarget(chip);
    if (!target) { return; }
    ev.preventDefault();
    ev.stopPropagation();
    openEditor(chip, target);
  }
  document.addEventListener("click", onChip, true);
  document.addEventListener("keydown", onChip, true);
  document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { closeEditor(); } });

  // --- scrolling and focus ----------------------------------------------------------------------------------
  window.paScrollToQuestion = function () {
    var log = document.querySelector("#pa-chat [role=log]");
    if (!log) { return; }
    var rows = log.querySelectorAll(".message-row.user-row");
    var last = rows[rows.length - 1];
    if (!last) { return; }
    log.scrollTop += last.getBoundingClientRect().top - log.getBoundingClientRect().top - 8;
  };
  window.paFocus = function (selector) {
    var el = document.querySelector(selector);
    if (el) { try { el.focus({ preventScroll: true }); } catch (e) { el.focus(); } }
  };
  window.paFocusQuestion = function () {
    if (window.matchMedia && window.matchMedia("(min-width: 768px)").matches) { window.paFocus("#pa-question textarea"); }
  };
})();
