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
    if (form.classList.contains("choice-form")) {
      key = key || {choice: choiceField(submitter || document.activeElement)};
    }
    key = key || focusKey(submitter || document.activeElement);
    var move = /_(up|down)(:\d+)?$|^place_/.test(data.get("change") || "");
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
    var row = (reply.url.match(/[?&]row=(\d+)/) || [])[1];
    if (editor && reply.ok && row && doc.querySelector("form.choice-form")) {
      // One choice changed: its table again, on that choice's row; the overview's
      // counts and the preview follow.
      fillEditor(editor, doc, reply.url.replace(/[?&]row=\d+/, ""));
      return reloadOverview().then(function () {
        refreshPreview();
        var tr = focusChoice(editor, row, move && key ? key.choice : "name");
        if (move && tr) say(T.tMoved.replace("{position}", tr.dataset.position || ""));
        else say(said || T.tSaved);
      });
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
    // A form that posts to its own page (no action: the list's delete form too) posts to
    // that page's address, not the builder's; a roster's row forms keep theirs.
    Array.prototype.forEach.call(editor.querySelectorAll("form.builder-form:not([action])"), function (f) {
      f.setAttribute("action", url.split("#")[0]);
    });
    if (form.classList.contains("choice-form")) addHandles(form);
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

  // -- the choices of a list, in its table -------------------------------------------

  // What of a choice's row had focus: a field ("label.vi") or a button's change.
  function choiceField(el) {
    if (!el || !el.closest || !el.closest("tr.choice-row")) return "name";
    var field = /^choice-\d+-(.+)$/.exec(el.name || "");
    var button = /^(\w+):\d+$/.exec(el.value || "");
    return field ? field[1] : (button ? button[1] : "name");
  }

  function focusChoice(editor, row, what) {
    var tr = editor.querySelector("#choice-row-" + row);
    if (!tr) return null;
    var el = tr.querySelector("[name=\"choice-" + row + "-" + CSS.escape(what || "name") + "\"]") ||
             tr.querySelector("button[value^=\"" + CSS.escape(what || "") + ":\"]") ||
             tr.querySelector("input[type=text]");
    if (el) el.focus();
    return tr;
  }

  function addHandles(form) {
    Array.prototype.forEach.call(form.querySelectorAll("tr.choice-row td.order"), function (cell) {
      var handle = document.createElement("span");
      handle.className = "drag-handle";
      handle.draggable = true;
      handle.title = T.tDrag;
      handle.setAttribute("aria-hidden", "true");  // the keyboard has Alt+Arrow and the buttons
      handle.textContent = "⠿";
      cell.prepend(handle);
    });
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
    var row = e.target.closest("tr.choice-row");
    if (row) {  // a choice, from any field of its row
      var change = e.key === "ArrowUp" ? "choice_up:" : "choice_down:";
      var button = row.querySelector("button[value^=\"" + change + "\"]");
      e.preventDefault();
      if (button) send(button.form, button, {choice: choiceField(e.target)});
      return;
    }
    if (e.target.closest(".inline-editor") || /INPUT|SELECT|TEXTAREA/.test(e.target.tagName)) return;
    var item = e.target.closest(".builder-question, .builder-page[data-page]");
    var form = item && moveForm(item, e.key === "ArrowUp" ? "up" : "down");
    if (!form) return;
    e.preventDefault();
    send(form, null);
  }

  // A question onto a question or a page's list; a page onto a page (by its title
  // row); a choice by its handle onto a row of its table.
  var dragged = null;
  var dragKind = null;
  function onDragStart(e) {
    if (!e.target.closest) return;  // selected text dragged: not a move
    var handle = e.target.closest(".drag-handle");
    var pageRow = e.target.closest(".builder-page[data-page] > .row");
    dragged = handle ? handle.closest("tr.choice-row")
            : (e.target.closest(".builder-question") || (pageRow && pageRow.parentNode));
    if (!dragged) return;
    dragKind = handle ? "choice" : (dragged.matches(".builder-question") ? "question" : "page");
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", dragged.id);
  }

  function dropZone(target) {
    if (!dragged || !target.closest) return null;
    if (dragKind === "question") return target.closest(".builder-questions");
    if (dragKind === "page") return target.closest(".builder-page[data-page]");
    var table = target.closest(".choice-table");
    return table && table.contains(dragged) ? table : null;
  }

  function onDragOver(e) {
    if (dropZone(e.target)) e.preventDefault();
  }

  // Where a dragged item lands: before `onto` when it comes from below, else after it.
  function landing(items, item, onto) {
    var from = items.indexOf(item), to = items.indexOf(onto);
    if (to < 0) return null;  // past the last: at the end
    return from < to ? items[to + 1] || null : onto;
  }

  function sendWith(form, fields, key) {
    var shell = document.createElement("form");  // sent as the buttons' forms are
    shell.action = form.action;
    shell.method = "post";
    var data = new FormData(form);
    Object.keys(fields).forEach(function (name) { data.set(name, fields[name]); });
    Array.from(data.entries()).forEach(function (pair) {
      var input = document.createElement("input");
      input.type = "hidden"; input.name = pair[0]; input.value = pair[1];
      shell.append(input);
    });
    shell.className = form.className;
    form.after(shell);  // where the form is: in an editor, its answer goes there
    send(shell, null, key);
    shell.remove();
  }

  function onDrop(e) {
    var zone = dropZone(e.target);
    if (!zone) return;
    e.preventDefault();
    var item = dragged, kind = dragKind;
    dragged = dragKind = null;
    if (kind === "choice") {
      var rows = Array.from(zone.querySelectorAll("tr.choice-row"));
      var onto = landing(rows, item, e.target.closest("tr.choice-row"));
      if (onto === item) return;
      var table = item.closest("form");
      sendWith(table, {change: "place_choice:" + item.dataset.row, before: onto ? onto.dataset.row : ""},
               {choice: "name"});
      return;
    }
    if (kind === "page") {
      var pages = Array.from(body.querySelectorAll(".builder-page[data-page]"));
      var next = landing(pages, item, zone);
      if (zone === item || next === item) return;
      sendWith(moveForm(item, "up") || moveForm(item, "down"),
               {change: "place_page", target: item.dataset.page, before: next ? next.dataset.page : ""},
               {item: item.id});
      return;
    }
    var before = e.target.closest(".builder-question");
    var form = moveForm(item, "up") || moveForm(item, "down");
    if (!form || before === item) return;
    sendWith(form, {change: "place_question", target: item.dataset.name,
                    page: zone.closest("[data-page]").dataset.page,
                    before: before ? before.dataset.name : ""}, {item: item.id});
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
      s.tabIndex = 0;  // Alt+Arrow moves it
      if (s.querySelector(":scope > .row input[value=page_up], :scope > .row input[value=page_down]")) {
        s.querySelector(":scope > .row").draggable = true;
      }
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
  body.addEventListener("dragend", function () { dragged = dragKind = null; });
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
