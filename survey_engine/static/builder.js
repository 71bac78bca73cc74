// The builder in place. Without this script every button and form of the builder
// posts and reloads the page, as before. With it, the same forms are posted with
// fetch; the server answers with the page it would have shown (the overview after a
// change, or a form with its problems) and the script puts the part that changed in
// place: #builder-body, or the form in an editor under its question. The server stays
// the one judge (validation, revision numbers). Texts come from #builder-body's
// data-t-* attributes, translated by the server.
(function () {
  "use strict";
  var body = document.getElementById("builder-body");
  if (!body || !window.fetch || !window.DOMParser || !window.FormData) return;
  var T = body.dataset;
  var live = document.getElementById("builder-status");
  var frame = document.getElementById("preview-frame");
  var busy = false;
  var CHECK_DELAY = 400;  // ms after the last key before an expression is checked
  var POLL_EVERY = 15000;  // ms between two looks at the draft's revision

  function say(text) {
    if (!text) return;
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 30);
  }

  function parse(html) { return new DOMParser().parseFromString(html, "text/html"); }

  function messagesOf(doc) {
    var found = doc.querySelectorAll("main .messages li, main .error-summary p, main #problems li");
    return Array.prototype.map.call(found, function (el) { return el.textContent.trim(); }).join(" ");
  }

  function refreshPreview() {
    if (frame && frame.contentWindow) frame.contentWindow.location.replace(frame.src);
  }

  function ask(url, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.headers = {"X-Requested-With": "fetch"};
    return fetch(url, options).then(function (reply) {
      return reply.text().then(function (html) {
        return {reply: reply, doc: parse(html)};
      });
    });
  }

  // -- the overview swapped in ------------------------------------------------------

  function replaceMessages(doc) {
    var main = document.querySelector("main");
    Array.prototype.forEach.call(main.querySelectorAll(":scope > .error-summary, :scope > div[role=status]"),
      function (el) { el.remove(); });
    Array.prototype.forEach.call(doc.querySelectorAll("main > .error-summary, main > div[role=status]"),
      function (el) { main.insertBefore(document.importNode(el, true), live); });
  }

  function swap(doc) {
    var fresh = doc.getElementById("builder-body");
    if (!fresh) return false;
    var editor = document.querySelector(".inline-editor");
    if (editor) editor.remove();
    replaceMessages(doc);
    body.innerHTML = fresh.innerHTML;
    body.dataset.revision = fresh.dataset.revision;
    hideNotice();
    enhance();
    if (editor) {
      var anchor = document.getElementById(editor.dataset.anchor);
      if (anchor) place(editor, anchor); else if (editor.dataset.dirty) body.prepend(editor);
    }
    return true;
  }

  function reloadOverview() {
    return ask(T.overviewUrl).then(function (r) { swap(r.doc); });
  }

  // Where focus goes back after a swap: the same button (by its label), else the item.
  function focusKey(el) {
    if (!el) return null;
    var item = el.closest("[data-name], .builder-page[id]");
    return {label: el.getAttribute("aria-label"), item: item && item.id};
  }

  function restoreFocus(key) {
    if (!key) return null;
    var el = key.label && body.querySelector("[aria-label=\"" + CSS.escape(key.label) + "\"]");
    var item = key.item && document.getElementById(key.item);
    (el || item || body).focus();
    return item;
  }

  // -- posting a form ---------------------------------------------------------------

  function send(form, submitter, key) {
    if (busy) return;
    busy = true;
    var data = new FormData(form);
    if (submitter && submitter.name) data.append(submitter.name, submitter.value);
    var editor = form.closest(".inline-editor");
    key = key || focusKey(submitter || document.activeElement);
    var move = /_(up|down)$|^place_question$/.test(data.get("change") || "");
    var getting = (form.getAttribute("method") || "get").toLowerCase() === "get";
    var url = form.action;
    if (getting) url += (url.indexOf("?") < 0 ? "?" : "&") + new URLSearchParams(data).toString();
    ask(url, getting ? {} : {method: "POST", body: data})
      .then(function (r) { return answered(r.reply, r.doc, editor, key, move); })
      .catch(function () { say(T.tOffline); })
      .then(function () { busy = false; });
  }

  function answered(reply, doc, editor, key, move) {
    var said = messagesOf(doc);
    if (doc.getElementById("builder-body")) {  // the overview: saved, or a change refused
      if (editor && reply.ok) editor.remove();
      swap(doc);
      if (!reply.ok) { say(said || T.tNotSaved); checkRevision(); return; }
      refreshPreview();
      var item = restoreFocus(key);
      if (move && item) say(T.tMoved.replace("{position}", item.dataset.position || ""));
      else say(said || T.tSaved);
      return;
    }
    var form = doc.querySelector("form.builder-form");
    if (form && reply.ok) {  // a question just added or duplicated: the overview, then its form
      // (or a roster's row question saved: its roster's form; what was typed is saved)
      if (editor) delete editor.dataset.dirty;
      return reloadOverview().then(function () {
        refreshPreview();
        var name = (reply.url.match(/\/edit\/questions\/([^/?#]+)/) || [])[1];
        var anchor = name ? document.getElementById("q-" + decodeURIComponent(name))
                          : document.getElementById("lists");
        openEditor(doc, reply.url, anchor || body);
        say(said || T.tSaved);
      });
    }
    if (form) {  // this form again, with its problems: nothing was saved
      fillEditor(editor, doc, reply.url);
      say(said || T.tNotSaved);
      checkRevision();
      return;
    }
    // Elsewhere (publishing lands on the survey's page): the overview again.
    return reloadOverview().then(function () { refreshPreview(); say(said || T.tSaved); });
  }

  // -- the editor under a question, a page or the lists ------------------------------

  function place(editor, anchor) {
    var row = anchor.querySelector(":scope > .row");
    if (row) row.after(editor); else anchor.append(editor);
  }

  function openEditor(doc, url, anchor) {
    var old = document.querySelector(".inline-editor");
    if (old && old.dataset.dirty && !window.confirm(T.tUnsaved)) return;
    if (old) old.remove();
    var editor = document.createElement("section");
    editor.className = "inline-editor";
    editor.dataset.anchor = anchor.id || "";
    fillEditor(editor, doc, url);
    place(editor, anchor);
    var first = editor.querySelector("input:not([type=hidden]), select, textarea");
    if (first) first.focus();
  }

  function fillEditor(editor, doc, url) {
    editor.innerHTML = "";
    delete editor.dataset.dirty;
    var heading = doc.querySelector("main h1");
    var title = document.createElement("h3");
    title.textContent = heading ? heading.textContent : "";
    title.id = "inline-editor-title";
    editor.setAttribute("aria-labelledby", title.id);
    var close = document.createElement("button");
    close.type = "button";
    close.className = "small close-editor";
    close.textContent = T.tClose;
    close.addEventListener("click", function () {
      if (editor.dataset.dirty && !window.confirm(T.tUnsaved)) return;
      var anchor = document.getElementById(editor.dataset.anchor);
      editor.remove();
      if (anchor) anchor.focus();
    });
    var head = document.createElement("div");
    head.className = "row editor-head";
    head.append(title, close);
    editor.append(head);
    // a roster's page also lists its row's questions (their forms post like the others)
    Array.prototype.forEach.call(doc.querySelectorAll("main > .errors, main > form.builder-form, main > .row-questions"),
      function (el) { editor.append(document.importNode(el, true)); });
    var form = editor.querySelector("form.builder-form");
    if (!form) return;
    form.setAttribute("action", url.split("#")[0]);
    var back = form.querySelector("a[href*='/edit#'], a[href$='/edit']");
    if (back) back.parentNode.remove();  // "back without saving": the close button
    form.addEventListener("input", function (e) {
      editor.dataset.dirty = "1";
      labelAsTyped(form, e.target);
      if (e.target.classList.contains("code")) checkLater(form, e.target);
    });
    form.addEventListener("change", function () { editor.dataset.dirty = "1"; });
    Array.prototype.forEach.call(form.querySelectorAll("input.code"), function (input) {
      if (input.value) checkLater(form, input);
    });
  }

  // The label typed shows in the preview at once (saved, the preview reloads).
  function labelAsTyped(form, input) {
    var match = /^label\.(\w+)$/.exec(input.name || "");
    var old = (form.action.match(/\/edit\/questions\/([^/?#]+)/) || [])[1];
    if (!match || !old || !frame || !frame.contentDocument) return;
    var doc = frame.contentDocument;
    if ((doc.documentElement.lang || "") !== match[1]) return;
    var label = doc.querySelector("#q-" + CSS.escape(decodeURIComponent(old)) + " .q-label");
    if (label && label.firstChild && label.firstChild.nodeType === 3) {
      label.firstChild.nodeValue = input.value;
    }
  }

  // -- expressions checked as typed, with the validator's own messages ---------------

  var timers = {};
  function checkLater(form, input) {
    window.clearTimeout(timers[input.name]);
    timers[input.name] = window.setTimeout(function () { check(form, input); }, CHECK_DELAY);
  }

  function check(form, input) {
    var out = document.getElementById(input.id + "-check");
    if (!out) {
      out = document.createElement("p");
      out.id = input.id + "-check";
      out.className = "expr-check";
      out.setAttribute("aria-live", "polite");
      input.after(out);
      input.setAttribute("aria-describedby",
        ((input.getAttribute("aria-describedby") || "") + " " + out.id).trim());
    }
    var where = form.action.match(/\/edit\/(questions|pages)\/([^/?#]+)/);
    if (!where) return;
    var data = new FormData();
    data.append("csrf_token", form.querySelector("[name=csrf_token]").value);
    data.append(where[1] === "questions" ? "question" : "page", decodeURIComponent(where[2]));
    data.append("field", input.name);
    data.append("expression", input.value);
    out.textContent = T.tChecking;
    fetch(T.checkUrl, {method: "POST", body: data, credentials: "same-origin"})
      .then(function (reply) { return reply.ok ? reply.json() : null; })
      .then(function (result) {
        if (!result) { out.textContent = ""; return; }
        out.textContent = result.ok ? T.tOk : result.problems.join(" ");
        out.className = "expr-check " + (result.ok ? "ok" : "error");
        if (result.ok) input.removeAttribute("aria-invalid");
        else input.setAttribute("aria-invalid", "true");
      })
      .catch(function () { out.textContent = ""; });
  }

  // -- moving by keyboard and by drag and drop ---------------------------------------

  function moveForm(item, direction) {
    var change = (item.matches(".builder-question") ? "question_" : "page_") + direction;
    var own = item.matches(".builder-question") ? item : item.querySelector(":scope > .row");
    var hidden = own && own.querySelector("input[name=change][value=" + change + "]");
    return hidden && hidden.form;
  }

  function onKey(e) {
    if (!e.altKey || (e.key !== "ArrowUp" && e.key !== "ArrowDown")) return;
    if (e.target.closest(".inline-editor") || /INPUT|SELECT|TEXTAREA/.test(e.target.tagName)) return;
    var item = e.target.closest(".builder-question, .builder-page[data-page]");
    var form = item && moveForm(item, e.key === "ArrowUp" ? "up" : "down");
    if (!form) return;
    e.preventDefault();
    send(form, null);
  }

  var dragged = null;
  function onDragStart(e) {
    dragged = e.target.closest(".builder-question");
    if (!dragged) return;
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", dragged.dataset.name);
  }

  function onDragOver(e) {
    if (dragged && e.target.closest(".builder-questions")) e.preventDefault();
  }

  function onDrop(e) {
    var list = dragged && e.target.closest(".builder-questions");
    if (!list) return;
    e.preventDefault();
    var onto = e.target.closest(".builder-question");
    var section = list.closest("[data-page]");
    var form = moveForm(dragged, "up") || moveForm(dragged, "down");
    if (!form || onto === dragged) { dragged = null; return; }
    var data = new FormData(form);
    data.set("change", "place_question");
    data.set("target", dragged.dataset.name);
    data.set("page", section.dataset.page);
    data.set("before", onto ? onto.dataset.name : "");
    var shell = document.createElement("form");  // sent as the up/down forms are
    shell.action = form.action;
    shell.method = "post";
    Array.from(data.entries()).forEach(function (pair) {
      var input = document.createElement("input");
      input.type = "hidden"; input.name = pair[0]; input.value = pair[1];
      shell.append(input);
    });
    body.append(shell);
    var key = {item: dragged.id};
    dragged = null;
    send(shell, null, key);
    shell.remove();
  }

  // -- two editors: the draft's revision looked at now and then ----------------------

  var notice = null;
  function hideNotice() { if (notice) { notice.remove(); notice = null; } }

  function checkRevision() {
    return fetch(T.revisionUrl, {credentials: "same-origin"})
      .then(function (reply) { return reply.ok ? reply.json() : null; })
      .then(function (now) {
        if (!now || now.revision === body.dataset.revision || notice) return;
        notice = document.createElement("div");
        notice.className = "stale-note";
        notice.setAttribute("role", "alert");
        var text = document.createElement("p");
        text.textContent = T.tStale;
        var button = document.createElement("button");
        button.type = "button";
        button.className = "button secondary";
        button.textContent = T.tReload;
        button.addEventListener("click", function () {
          var editor = document.querySelector(".inline-editor");
          if (editor) { delete editor.dataset.dirty; editor.remove(); }
          reloadOverview().then(refreshPreview);
        });
        notice.append(text, button);
        (body.closest(".builder-layout") || body).before(notice);
      })
      .catch(function () {});
  }

  // -- wiring -----------------------------------------------------------------------

  function enhance() {
    Array.prototype.forEach.call(body.querySelectorAll(".builder-question"), function (item) {
      item.tabIndex = 0;
      item.draggable = true;
    });
    Array.prototype.forEach.call(body.querySelectorAll(".builder-page[data-page]"), function (s) {
      s.tabIndex = -1;
    });
  }

  body.addEventListener("submit", function (e) {
    if (e.defaultPrevented) return;
    e.preventDefault();
    send(e.target, e.submitter);
  });
  body.addEventListener("click", function (e) {
    var link = e.target.closest("a[href]");
    if (!link || e.ctrlKey || e.metaKey || e.shiftKey) return;
    if (!/\/edit\/(questions|pages|lists)\//.test(link.getAttribute("href"))) return;
    e.preventDefault();
    var anchor = link.closest(".builder-question, .builder-page[id]") || body;
    ask(link.href).then(function (r) { openEditor(r.doc, r.reply.url, anchor); })
      .catch(function () { say(T.tOffline); });
  });
  body.addEventListener("keydown", onKey);
  body.addEventListener("dragstart", onDragStart);
  body.addEventListener("dragover", onDragOver);
  body.addEventListener("drop", onDrop);
  window.addEventListener("beforeunload", function (e) {
    if (!document.querySelector(".inline-editor[data-dirty]")) return;
    e.preventDefault();
    e.returnValue = T.tUnsaved;
    return T.tUnsaved;
  });
  window.setInterval(function () {
    if (document.visibilityState === "visible" && !busy) checkRevision();
  }, POLL_EVERY);
  var box = document.getElementById("preview-box");
  if (box && window.matchMedia("(max-width: 60rem)").matches) box.open = false;
  enhance();
})();
