/* survey.js: the questionnaire one page at a time, on top of the server-rendered form
   (which works without it, all pages on one form). It repeats the server's checks
   (survey_engine/definition/answers.py, which decides) so that mistakes show before
   sending: relevance, calculations, choice filters, types, limits, constraints. Answers
   are kept in localStorage as they are typed, and the submit survives a dropped
   connection by sending the same submission_id again until the server answers.
   Plain ES2017, no eval; expressions run in expr.js (window.SurveyExpr). */
(function () {
  'use strict';
  // The device token (one answer per browser): the page's copy is kept in localStorage,
  // so a browser whose cookie was cleared still sends the token it answered with.
  const field = document.querySelector('form.survey-form input[name="device_token"]');
  const genuine = t => typeof t === 'string' && /^[\w-]{8,150}\.[\w-]{20,100}$/.test(t);
  try {
    const kept = window.localStorage.getItem('se:device');
    if (field && genuine(kept) && kept !== field.value) field.value = kept;
    else if (field && !genuine(kept) && genuine(field.value)) window.localStorage.setItem('se:device', field.value);
  } catch (e) { /* no localStorage: the cookie alone */ }
})();
(function () {
  'use strict';
  const form = document.querySelector('form.survey-form');
  const data = document.getElementById('survey-logic');
  const X = window.SurveyExpr;
  if (!form || !data || !X || !window.fetch || !window.URLSearchParams) return;
  const L = JSON.parse(data.textContent), Q = Object.assign({}, L.questions), M = L.messages;
  // Every question in order; a roster's row questions follow it, one set per row shown,
  // as `members.2.age` (scan() redraws this list when rows come and go).
  let names = L.order;
  const $ = id => document.getElementById(id);
  const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
  const fmt = (key, p) => M[key].replace(/\{(\w+)\}/g, (m, k) => p && has(p, k) ? p[k] : m);
  const isA = Array.isArray, list = v => v == null ? [] : [].concat(v);
  const SELECTS = ['select_one', 'select_multiple', 'rank'];

  // --- the form's controls, by question -------------------------------------------
  let els = {};
  const opts = {}, labels = {}, groups = {};
  const nameOf = el => { const m = /^([A-Za-z_]\w*(\.\d+\.[A-Za-z_]\w*)?)(\[|$)/.exec(el.name || ''); return m && has(Q, m[1]) ? m[1] : null; };
  const other = n => $('f-' + n + '_other');
  const sections = [...form.querySelectorAll('section[data-page]')];
  const sectionOf = f => { const w = $('q-' + f); return w && w.closest('section'); };
  const byId = (s, n) => s.dataset.page === n;
  const rosterRows = n => [...$('q-' + n).querySelectorAll('.roster-rows > .roster-row')];
  function scan() {  // the questions and controls on the page now
    names = [];
    for (const n of L.order) {
      names.push(n);
      if (Q[n].type !== 'repeat' || !$('q-' + n)) continue;
      for (const row of rosterRows(n)) for (const b of Q[n].order) {
        const k = n + '.' + row.dataset.row + '.' + b;
        Q[k] = Object.assign({}, Q[n].questions[b], { page: Q[n].page, roster: n, row: row.dataset.row, bare: b });
        names.push(k);
      }
    }
    els = {};
    for (const el of form.elements) { const n = nameOf(el); if (n) (els[n] = els[n] || []).push(el); }
    for (const n of names) {  // each select's choices and their labels, before any filtering
      const e = els[n] || [];
      if (labels[n] && e[0] && e[0].dataset.scanned) continue;
      for (const x of e) x.dataset.scanned = '1';
      labels[n] = {};
      if (Q[n].type === 'rank') opts[n] = e.map(s => /\[(.+)\]$/.exec(s.name)[1]);
      else if (e[0] && e[0].tagName === 'SELECT') {
        groups[n] = [...e[0].children].map(c => c.cloneNode(true));
        opts[n] = [...e[0].options].filter(o => o.value).map(o => { labels[n][o.value] = o.text; return o.value; });
      } else opts[n] = e.map(i => { const s = i.closest('label'); labels[n][i.value] = s ? s.textContent.trim() : i.value; return i.value; });
    }
  }
  scan();

  // --- answers as the server reads them (answers.py) -------------------------------
  class Bad { constructor(key, p) { this.key = key; this.p = p || {}; } }
  const bad = (key, p) => { throw new Bad(key, p); };
  const empty = v => v == null ? true : typeof v === 'string' ? !v.trim()
    : isA(v) ? v.every(empty) : typeof v === 'object' ? Object.values(v).every(empty) : false;
  const single = v => { if (!isA(v)) return v; const f = v.filter(x => !empty(x)); if (f.length !== 1) bad('one_choice'); return f[0]; };
  const text = v => String(v).normalize('NFC').trim();
  const integer = v => {
    v = String(v).trim();
    if (!/^[+-]?\d{1,20}$/.test(v)) bad('not_integer');
    if (Math.abs(+v) > 9007199254740991) bad('number_range');
    return +v;
  };
  const decimal = v => {
    let t = String(v).trim();
    if (t.includes(',') && !t.includes('.')) t = t.replace(/,/g, '.');
    const x = t.length <= 40 && /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t) ? +t : NaN;
    if (!isFinite(x)) bad('not_decimal');
    if (Math.abs(x) > 1e15) bad('number_range');
    return x;
  };
  const shownNumber = x => Number.isInteger(x) ? String(x) : String(x).replace('.', ',');
  // the province's date (UTC+7 all year), as the server's local_today()
  const today = () => new Date(Date.now() + 252e5).toISOString().slice(0, 10);
  const dmy = s => s.split('-').reverse().join('/');
  const limit = (q, k) => q[k] == null ? null : q[k] === 'today' ? today() : q[k];
  const clean = (n, q, v) => {
    switch (q.type) {
      case 'select_one': return String(single(v));
      case 'select_multiple': {
        const picked = list(v).filter(x => !empty(x)), ordered = opts[n].filter(c => picked.includes(c));
        const ex = (els[n] || []).find(e => e.hasAttribute('data-exclusive') && ordered.includes(e.value));
        if (ex && ordered.length > 1) bad('exclusive', { choice: ex.value });
        if (q.min_choices != null && ordered.length < q.min_choices) bad('too_few_choices', { limit: q.min_choices });
        if (q.max_choices != null && ordered.length > q.max_choices) bad('too_many_choices', { limit: q.max_choices });
        return ordered;
      }
      case 'rank': {
        const pos = {};
        for (const c of Object.keys(v)) if (!empty(v[c])) pos[c] = integer(single(v[c]));
        const sorted = Object.values(pos).sort((a, b) => a - b);
        if (sorted.some((x, i) => x !== i + 1)) bad('rank_positions');
        const ranked = Object.keys(pos).sort((a, b) => pos[a] - pos[b]);
        if (ranked.length !== opts[n].length) bad('rank_incomplete');
        return ranked;
      }
      case 'matrix': {
        const a = {};
        for (const r of Object.keys(v)) if (!empty(v[r])) a[r] = String(single(v[r]));
        if (q.required && Object.keys(a).length < new Set(els[n].map(e => e.name)).size) bad('matrix_incomplete');
        return a;
      }
      case 'integer': case 'decimal': {
        const x = q.type === 'integer' ? integer(single(v)) : decimal(single(v));
        if (q.min != null && x < q.min) bad('number_min', { limit: shownNumber(q.min) });
        if (q.max != null && x > q.max) bad('number_max', { limit: shownNumber(q.max) });
        return x;
      }
      case 'rating': case 'nps': return integer(single(v));  // radios: always in range
      case 'date': {
        const t = String(single(v)).trim(), d = new Date(t + 'T00:00:00Z');
        if (!/^\d{4}-\d{2}-\d{2}$/.test(t) || isNaN(d) || d.toISOString().slice(0, 10) !== t) bad('not_date');
        const hi = limit(q, 'max'), lo = limit(q, 'min');
        if (hi && t > hi) bad(q.max === 'today' ? 'date_future' : 'date_max', { limit: dmy(hi) });
        if (lo && t < lo) bad('date_min', { limit: dmy(lo) });
        return t;
      }
      case 'email': {
        const t = text(single(v)), at = t.lastIndexOf('@');
        if (t.length > 254 || !/^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$/u.test(t)) bad('not_email');
        return t.slice(0, at) + '@' + t.slice(at + 1).toLowerCase();
      }
      case 'phone': {
        const m = /^(?:\+84|0084|84|0)([1-9]\d{8,9})$/.exec(String(single(v)).normalize('NFKC').replace(/[\s.\-()]/g, ''));
        if (!m) bad('not_phone');
        return '+84' + m[1];
      }
      case 'geopoint': {  // answer_types._clean_geopoint
        if (typeof v !== 'object' || isA(v) || empty(v.lat) || empty(v.lon)) bad('geo_incomplete');
        const num = (x, k) => { try { return +decimal(single(x)).toFixed(7); } catch (e) { return bad(k, { limit: 100000 }); } };
        const p = { lat: num(v.lat, 'geo_lat'), lon: num(v.lon, 'geo_lon') };
        if (p.lat < -90 || p.lat > 90) bad('geo_lat');
        if (p.lon < -180 || p.lon > 180) bad('geo_lon');
        if (!empty(v.acc)) {
          p.acc = num(v.acc, 'geo_accuracy');
          if (p.acc < 0 || p.acc > 100000) bad('geo_accuracy', { limit: 100000 });
        }
        return p;
      }
      case 'acknowledge':
        if (!['OK', 'ok', '1', 'true', 'on'].includes(single(v))) bad('not_acknowledged');
        return 'OK';
      default: return text(single(v));
    }
  };
  // a calculation's result as the server stores it (answers._stored_value)
  const stored = v => typeof v === 'boolean' ? String(v) : typeof v === 'number' ? (isFinite(v) ? v : null)
    : (isA(v) ? v.join(' ') : v) || null;
  const refs = (a, out) => {
    if (isA(a)) {
      if (a[0] === 'ref') out.push(a[1]);
      else (a[0] === 'fn' ? list(a[2]) : a.slice(1)).forEach(x => refs(x, out));
    }
    return out;
  };
  const relevant = (q, ctx) => [L.pages[q.page], q.relevant].every(a => a == null || X.truthy(X.evaluate(a, ctx)));
  // choices left by the filter; null when it reads an unanswered question (not applied)
  const allowed = (n, q, ctx) => {
    if (!refs(q.choice_filter, []).every(r => has(ctx, r))) return null;
    const props = L.choices[q.list] || {};
    return opts[n].filter(c => c === 'other' ||
      X.truthy(X.evaluate(q.choice_filter, ctx, '', Object.assign({ name: c }, props[c]))));
  };
  const own = (q, e) => ({ required: q.required_message, constraint: q.constraint_message })[e.key];

  // clean_answers(), in the same order: every answer typed, then relevance, calculations
  // and checks question by question; the context loses what is not relevant as it goes.
  // A roster's row is checked like a small survey: its expressions see the row's
  // answers by their own names, and every answer outside the roster.
  function check(v) {
    const typed = {}, typeErr = {}, R = { v, rel: {}, err: {}, allowed: {}, rows: {} };
    for (const n of names) {
      const q = Q[n];
      if (q.type === 'note' || q.type === 'calculate' || q.type === 'repeat' || empty(v[n])) continue;
      try { typed[n] = clean(n, q, v[n]); } catch (e) { if (!(e instanceof Bad)) throw e; typeErr[n] = fmt(e.key, e.p); }
    }
    const ctx = R.ctx = {};
    for (const n of Object.keys(typed)) if (!Q[n].roster) ctx[n] = typed[n];
    for (const n of names) {
      const q = Q[n], row = q.roster && q.roster + '.' + q.row;
      if (row && !R.rel[q.roster]) { R.rel[n] = false; continue; }
      if (row && !R.rows[row]) {  // the row's context: the answers outside, then the row's
        R.rows[row] = Object.assign({}, ctx);
        for (const b of Q[q.roster].order) if (has(typed, row + '.' + b)) R.rows[row][b] = typed[row + '.' + b];
      }
      const c = row ? R.rows[row] : ctx, b = row ? q.bare : n;
      if (!(R.rel[n] = relevant(q, c))) { delete c[b]; continue; }
      if (q.choice_filter) R.allowed[n] = allowed(n, q, c);
      if (q.type === 'calculate') {
        const r = stored(X.evaluate(q.calculation, c));
        if (r !== null) c[b] = r;
        continue;
      }
      if (q.type === 'repeat') { rowCount(n, q, v); continue; }
      if (q.type === 'note') continue;
      if (typeErr[n]) { R.err[n] = typeErr[n]; continue; }
      const val = typed[n], ok = R.allowed[n];
      let e = null;
      if (val === undefined) { if (q.required) e = new Bad('required'); else continue; }
      else if (ok && list(val).some(x => !ok.includes(x))) e = new Bad('unknown_choice', { value: list(val).find(x => !ok.includes(x)) });
      else if (q.constraint && !X.truthy(X.evaluate(q.constraint, c, val))) e = new Bad('constraint');
      if (e) { delete c[b]; R.err[n] = own(q, e) != null ? own(q, e) : fmt(e.key, e.p); continue; }
      if (q.other && list(val).includes('other') && empty(other(n).value)) R.err[n + '_other'] = fmt('required');
    }
    return R;
    // the rows the citizen sizes: blank rows at the end are none (as answers_from_form)
    function rowCount(n, q, v) {
      if (q.count != null) return;
      const filled = rosterRows(n).map(r => q.order.some(b => !empty(v[n + '.' + r.dataset.row + '.' + b])));
      while (filled.length && !filled[filled.length - 1]) filled.pop();
      if (filled.length < q.min_count) R.err[n] = fmt('rows_too_few', { limit: q.min_count });
      else if (filled.length > q.max_count) R.err[n] = fmt('rows_too_many', { limit: q.max_count });
    }
  }
  // the answers the form would send: lists for repeated names, {row: value} for a[row]
  function raw() {
    const v = {};
    for (const n of names) for (const el of els[n] || []) {
      if ((el.type === 'checkbox' || el.type === 'radio') && !el.checked) continue;
      const sub = /\[(.+)\]$/.exec(el.name);
      if (sub) (v[n] = v[n] && !isA(v[n]) ? v[n] : {})[sub[1]] = el.value;
      else (v[n] = v[n] || []).push(el.value);
    }
    return v;
  }
  // What is not relevant is disabled, so not sent: check again without it, as the server will.
  function state() {
    const v = raw(), first = check(v);
    for (const n of names) if (!first.rel[n]) delete v[n];
    return check(v);
  }

  // --- showing it: relevance, filters, "other", piping, pages -----------------------
  let R = null, cur = null;
  function filter() {  // true when a choice that the filter removed was picked: look again
    let cleared = false;
    for (const n of names) {
      if (!Q[n].choice_filter || !R.rel[n] || !els[n]) continue;
      const ok = R.allowed[n], e = els[n];
      if (groups[n]) {  // a dropdown: the grouped list when unfiltered, else a flat filtered one
        const sel = e[0], key = ok ? ok.join(' ') : '*', was = sel.value;
        if (sel.dataset.f === key) continue;
        sel.dataset.f = key;
        sel.textContent = '';
        for (const c of groups[n]) {
          if (!ok || (c.tagName === 'OPTION' && !c.value)) sel.appendChild(c.cloneNode(true));
          else for (const o of c.tagName === 'OPTION' ? [c] : c.children) if (ok.includes(o.value)) sel.appendChild(o.cloneNode(true));
        }
        sel.value = was;
        if (sel.value !== was) { sel.selectedIndex = 0; cleared = true; }
      } else for (const el of e) {
        const c = Q[n].type === 'rank' ? /\[(.+)\]$/.exec(el.name)[1] : el.value, out = !!ok && !ok.includes(c);
        el.dataset.out = out ? '1' : '';
        el.closest(Q[n].type === 'rank' ? 'li' : 'label').hidden = out;
        if (out && el.checked) { el.checked = false; cleared = true; }
        if (out && el.tagName === 'SELECT' && el.value) { el.value = ''; cleared = true; }
      }
    }
    return cleared;
  }
  const visible = () => sections.filter(s => s.dataset.on);

  // --- rosters: rows added and removed in place, from the roster's <template> ----------
  const ROW_ATTRS = ['id', 'name', 'for', 'aria-describedby', 'data-pipe', 'data-name', 'data-for'];
  function renumber(el, n, from, to) {  // members.<from> -> members.<to> in ids, names, texts
    const re = new RegExp('(^|[^\\w.])' + n + '\\.' + from + '(?=[.\\s-]|$)', 'g');
    for (const x of [el, ...el.querySelectorAll('*')]) {
      for (const a of ROW_ATTRS) if (x.hasAttribute(a)) x.setAttribute(a, x.getAttribute(a).replace(re, '$1' + n + '.' + to));
    }
    el.dataset.row = to;
    const tpl = $('t-' + n).content;
    for (const sel of ['.roster-row-title', '.roster-remove']) {
      const mine = el.querySelector(sel), words = tpl.querySelector(sel);
      if (mine && words) mine.textContent = words.textContent.replace('__row__', to);
    }
    const rm = el.querySelector('.roster-remove');
    if (rm) rm.value = to;
  }
  function addRow(n) {
    const box = $('q-' + n).querySelector('.roster-rows'), i = rosterRows(n).length + 1;
    const row = $('t-' + n).content.firstElementChild.cloneNode(true);
    renumber(row, n, '__row__', i);
    box.appendChild(row);
    return row;
  }
  function removeRow(n, row) {
    const rows = rosterRows(n), at = rows.indexOf(row);
    row.remove();
    rows.slice(at + 1).forEach((r, j) => renumber(r, n, r.dataset.row, at + j + 1));
  }
  function follow() {  // a count's rows follow the answer it reads; true when rows changed
    let moved = false;
    for (const n of L.order) {
      const q = Q[n];
      if (q.type !== 'repeat' || q.count == null || !R.rel[n] || !$('q-' + n)) continue;
      const x = Number(X.evaluate(q.count, R.ctx)), want = isFinite(x) && x > 0 ? Math.min(Math.trunc(x), q.max_count) : 0;
      const rows = rosterRows(n);
      if (rows.length === want) continue;
      for (let i = rows.length; i < want; i++) addRow(n);
      for (const r of rows.slice(want)) r.remove();
      moved = true;
    }
    if (moved) scan();
    return moved;
  }
  function rosterButtons() {  // add up to max_count rows, remove down to min_count
    for (const n of L.order) {
      if (Q[n].type !== 'repeat' || !$('q-' + n)) continue;
      const w = $('q-' + n), rows = rosterRows(n).length, add = w.querySelector('.roster-add');
      if (add) add.hidden = rows >= Q[n].max_count;
      for (const b of w.querySelectorAll('.roster-rows .roster-remove')) b.hidden = rows <= Q[n].min_count;
      const upd = w.querySelector('.roster-update'), wait = w.querySelector('.roster-waiting');
      if (upd) upd.hidden = true;  // the rows follow the answer as it is typed
      if (wait) wait.hidden = rows > 0;
    }
  }
  form.addEventListener('click', e => {
    const b = e.target.closest && e.target.closest('.roster-add, .roster-remove');
    if (!b) return;
    e.preventDefault();
    const n = b.name.slice(0, b.name.lastIndexOf('.'));
    let focus;
    if (b.classList.contains('roster-add')) focus = addRow(n).querySelector('input:not([type=hidden]), select, textarea');
    else {
      const row = b.closest('.roster-row'), rows = rosterRows(n), at = rows.indexOf(row);
      removeRow(n, row);
      const left = rosterRows(n);
      focus = left[Math.min(at, left.length - 1)] || $('f-' + n + '-add');
      if (focus && focus.classList.contains('roster-row')) focus.tabIndex = -1;
    }
    scan();
    update();
    if (focus) focus.focus();
    touched = true;
    save();
  });
  function update() {
    for (let i = 0; i < 4; i++) { R = state(); if (!filter() && !follow()) break; }
    rosterButtons();
    for (const n of names) {
      const on = R.rel[n], box = $('q-' + n);
      if (box) box.hidden = !on;
      for (const el of els[n] || []) el.disabled = !on || el.dataset.out === '1';
      if (Q[n].other) {
        const pick = on && list(R.v[n]).includes('other');
        $('q-' + n + '_other').hidden = !pick;
        other(n).disabled = !pick;
      }
    }
    for (const s of sections) s.dataset.on = names.some(n => R.rel[n] && byId(s, Q[n].page) && $('q-' + n)) ? '1' : '';
    for (const p of document.querySelectorAll('[data-pipe]')) p.textContent = piped(p.dataset.pipe);
    if (cur) { refresh(); nav(); }
  }
  function piped(n) {
    if (!has(Q, n)) return '';
    if (Q[n].type === 'calculate') return R.ctx[n] == null ? '' : String(R.ctx[n]);
    const v = R.v[n];
    if (v == null || !isA(v)) return '';
    if (!SELECTS.includes(Q[n].type)) return v.join(' ');
    return v.map(c => c === 'other' && other(n) && other(n).value.trim() ? other(n).value.trim() : labels[n][c] || c).join(', ');
  }
  const progressBox = form.querySelector('.progress'), bar = $('progress'), barText = $('progress-text');
  const next = form.querySelector('.next'), back = form.querySelector('.back'), submit = form.querySelector('.submit');
  const status = $('form-status');
  function nav() {
    const vis = visible(), i = Math.max(0, vis.indexOf(cur));
    barText.textContent = fmt('progress', { page: i + 1, total: vis.length });
    bar.max = vis.length;
    bar.value = i + 1;
    back.hidden = i === 0;
    next.hidden = i >= vis.length - 1;
    submit.hidden = !next.hidden;
  }
  // the pages shown, counted once each: paradata (pages_visited), never an answer
  const pagesSeen = form.querySelector('input[data-pages-seen]'), seen = new Set();
  function show(s, focus) {
    for (const x of sections) x.hidden = x !== s;
    cur = s;
    seen.add(s.dataset.page);
    if (pagesSeen) pagesSeen.value = String(Math.max(seen.size, parseInt(pagesSeen.value, 10) || 0));
    nav();
    if (focus) {
      const h = s.querySelector('h2') || s;
      h.tabIndex = -1;
      progressBox.scrollIntoView();
      h.focus({ preventScroll: true });
      save();
    }
  }
  const go = (s, push) => {
    clearErrors();
    show(s, true);
    // pushed: the entry below is this form's previous page, so Back can be history.back()
    if (push) history.pushState({ sePage: s.dataset.page, pushed: true }, '');
    else history.replaceState({ sePage: s.dataset.page }, '');
  };

  // --- errors: at each field, and a summary linking to them -------------------------
  // a roster's own error (too few rows) is told at its add button
  const fieldEls = f => has(Q, f) ? (Q[f].type === 'repeat' ? [$('f-' + f + '-add')].filter(Boolean) : els[f] || []) : [other(f.slice(0, -6))];
  function target(f) {
    const e = fieldEls(f).find(x => !x.disabled) || fieldEls(f)[0];
    const w = $('q-' + f), fs = w && w.querySelector('fieldset');
    return { e, w, desc: fs && has(Q, f) ? fs : e };
  }
  function mark(f, msg) {
    const p = $('q-' + f + '-error'), t = target(f);
    if (!p) return;
    p.textContent = msg;
    p.hidden = false;
    t.w.classList.add('has-error');
    for (const el of fieldEls(f)) el.setAttribute('aria-invalid', 'true');
    const d = (t.desc.getAttribute('aria-describedby') || '').split(' ').filter(x => x && x !== p.id);
    t.desc.setAttribute('aria-describedby', d.concat(p.id).join(' '));
  }
  function unmark(f) {
    const p = $('q-' + f + '-error'), t = target(f);
    if (!p || !t.e) return;
    p.hidden = true;
    p.textContent = '';
    t.w.classList.remove('has-error');
    for (const el of fieldEls(f)) el.removeAttribute('aria-invalid');
    const d = (t.desc.getAttribute('aria-describedby') || '').split(' ').filter(x => x && x !== p.id);
    if (d.length) t.desc.setAttribute('aria-describedby', d.join(' ')); else t.desc.removeAttribute('aria-describedby');
  }
  const shown = () => [...form.querySelectorAll('p.error[id]:not([hidden])')].map(p => p.id.slice(2, -6));
  let summary = $('error-summary'), notice = null;  // notice: the group is full (quotas)
  function clearErrors() {
    for (const f of shown()) unmark(f);
    if (summary) { summary.remove(); summary = null; }
    if (notice) { notice.remove(); notice = null; }
  }
  function labelOf(f) {
    const w = $('q-' + f), l = w && w.querySelector(has(Q, f) ? '.q-label, .acknowledge > span' : 'label');
    if (!l) return f;
    const c = l.cloneNode(true);
    for (const x of c.querySelectorAll('.req, .visually-hidden')) x.remove();
    const row = w.closest('.roster-row'), title = row && row.querySelector('.roster-row-title');
    return (title ? title.textContent.trim() + ': ' : '') + c.textContent.trim();
  }
  function showErrors(errs, title) {
    clearErrors();
    summary = document.createElement('div');
    summary.className = 'error-summary';
    summary.id = 'error-summary';
    summary.tabIndex = -1;
    summary.setAttribute('role', 'alert');
    const p = summary.appendChild(document.createElement('p')).appendChild(document.createElement('strong'));
    p.textContent = fmt(title, { count: errs.length });
    const ul = summary.appendChild(document.createElement('ul'));
    for (const [f, msg] of errs) {
      mark(f, msg);
      const li = ul.appendChild(document.createElement('li')), a = li.appendChild(document.createElement('a'));
      li.dataset.field = f;
      a.href = '#' + target(f).e.id;
      a.textContent = labelOf(f);
      li.appendChild(document.createTextNode(' — ' + msg));
    }
    form.parentNode.insertBefore(summary, form);
    summary.focus();
  }
  // A field showing an error is checked again as it changes: fixed, its message goes.
  function refresh() {
    for (const f of shown()) {
      const msg = R.err[f], t = target(f);
      if (msg && t.e && !t.e.disabled) { if ($('q-' + f + '-error').textContent !== msg) mark(f, msg); continue; }
      unmark(f);
      const li = summary && summary.querySelector('li[data-field="' + f + '"]');
      if (li) li.remove();
    }
    if (summary && !summary.querySelector('li')) clearErrors();
  }
  const errorsOn = s => {
    const out = [];
    for (const n of names) {
      if (!R.rel[n] || !byId(s, Q[n].page) || !$('q-' + n)) continue;
      for (const f of [n, n + '_other']) if (R.err[f] && $('q-' + f + '-error')) out.push([f, R.err[f]]);
    }
    return out;
  };
  document.addEventListener('click', e => {  // a link of the summary: to the field, label in view
    const a = e.target.closest && e.target.closest('#error-summary a');
    const el = a && $(a.getAttribute('href').slice(1));
    if (!el) return;
    e.preventDefault();
    el.focus();
    (el.closest('.question') || el).scrollIntoView();
  });

  // --- quotas: leaving the page of a quota's last question asks whether the group is full
  let checking = false;
  function quotaQuery(s) {  // the answers of each quota this page completes
    const p = new URLSearchParams();
    for (const qs of L.quotas || []) {
      if (!qs.some(n => has(Q, n) && byId(s, Q[n].page))) continue;
      if (!qs.every(n => typeof R.ctx[n] === 'string' && R.ctx[n])) continue;
      for (const n of qs) p.set(n, R.ctx[n]);
    }
    return String(p);
  }
  async function quotaFull(s) {  // unknown (offline, an error) is not full: the server decides
    const q = L.quota_url && quotaQuery(s);
    if (!q) return false;
    const stop = window.AbortController ? new AbortController() : null;
    const timer = setTimeout(() => stop && stop.abort(), 5000);  // a slow network: go on
    try {
      const res = await fetch(L.quota_url + '?' + q, { credentials: 'same-origin', signal: stop && stop.signal });
      return res.ok && (await res.json()).full === true;
    } catch (e) { return false; } finally { clearTimeout(timer); }
  }
  function fullNotice() {  // the answers stay: a wrong choice can still be changed
    clearErrors();
    notice = document.createElement('div');
    notice.className = 'error-summary quota-full';
    notice.id = 'quota-full';
    notice.tabIndex = -1;
    notice.setAttribute('role', 'alert');
    notice.appendChild(document.createElement('h2')).textContent = M.quota_full_title;
    notice.appendChild(document.createElement('p')).textContent = M.quota_full_body;
    form.parentNode.insertBefore(notice, form);
    notice.focus();
  }

  // --- moving between pages ---------------------------------------------------------
  async function forward() {
    update();
    const errs = errorsOn(cur), vis = visible(), from = cur, to = vis[vis.indexOf(cur) + 1];
    if (errs.length) return showErrors(errs, 'errors_page');
    if (!to || checking) return;
    checking = true;
    next.disabled = true;
    const full = await quotaFull(from);
    checking = false;
    next.disabled = false;
    if (cur !== from) return;
    if (full) fullNotice(); else go(to, true);
  }
  next.addEventListener('click', forward);
  back.addEventListener('click', () => {
    const vis = visible(), s = vis[vis.indexOf(cur) - 1];
    if (!s) return;
    if (history.state && history.state.sePage === cur.dataset.page && history.state.pushed) history.back();
    else go(s, false);
  });
  window.addEventListener('popstate', e => {
    if (ended) return location.reload();  // Back from a message page: the form again
    if (sending) return;
    update();
    const vis = visible(), want = e.state && e.state.sePage;
    const s = vis.find(x => byId(x, want)) || vis[0];
    if (s === cur) return;
    if (vis.indexOf(s) > vis.indexOf(cur) && errorsOn(cur).length) {  // forward: not past errors
      history.replaceState({ sePage: cur.dataset.page }, '');
      return showErrors(errorsOn(cur), 'errors_page');
    }
    clearErrors();
    show(s, true);
  });

  // --- kept on the phone ------------------------------------------------------------
  const KEY = 'se:' + L.key;
  let store = null, done = false, touched = false, saveTimer = 0;
  try { store = window.localStorage; store.getItem(KEY); } catch (e) { store = null; }
  const sid = form.elements.submission_id;
  function save() {
    clearTimeout(saveTimer);
    if (!store || done || !touched) return;  // only once the citizen has answered something
    const v = [];
    for (const el of form.elements) {
      if (!el.name || el === sid || !el.type || el.tagName === 'BUTTON' || el.value === '') continue;
      if ((el.type === 'checkbox' || el.type === 'radio') && !el.checked) continue;
      v.push([el.name, el.value]);
    }
    try {
      store.setItem(KEY, JSON.stringify({ id: sid.value, page: cur && cur.dataset.page, v, t: Date.now() }));
      $('form-saved').hidden = false;
    } catch (e) { /* full or refused: the form still works */ }
  }
  const forget = () => { done = true; clearTimeout(saveTimer); try { store && store.removeItem(KEY); } catch (e) { /* */ } };
  function restore() {
    let s = null;
    try {
      s = store && JSON.parse(store.getItem(KEY));
      for (let i = store ? store.length - 1 : -1; i >= 0; i--) {  // older versions' answers
        const k = store.key(i);
        if (k && k !== KEY && k.indexOf(KEY.slice(0, KEY.lastIndexOf(':') + 1)) === 0) store.removeItem(k);
      }
    } catch (e) { s = null; }
    if (!s || !isA(s.v)) return null;
    const m = {};
    for (const [n, x] of s.v) (m[n] = m[n] || []).push(x);
    for (const n of L.order) {  // a roster's rows first, as many as were answered
      if (Q[n].type !== 'repeat' || !$('q-' + n)) continue;
      let most = 0;
      for (const k of Object.keys(m)) if (k.indexOf(n + '.') === 0) most = Math.max(most, parseInt(k.slice(n.length + 1), 10) || 0);
      for (let i = rosterRows(n).length; i < Math.min(most, Q[n].max_count); i++) addRow(n);
    }
    scan();
    for (const el of form.elements) {
      if (!el.name || el === sid || !el.type || el.tagName === 'BUTTON') continue;
      const got = m[el.name] || [];
      if (el.type === 'checkbox' || el.type === 'radio') el.checked = got.includes(el.value);
      else el.value = got.length ? got[0] : '';
      if (el.tagName === 'SELECT' && el.selectedIndex < 0) el.selectedIndex = 0;
    }
    if (/^[0-9a-f-]{36}$/.test(s.id)) sid.value = s.id;
    return s;
  }

  // --- answering --------------------------------------------------------------------
  function changed(e) {
    const el = e.target, n = nameOf(el);
    if (e.type === 'change' && n && Q[n].type === 'select_multiple' && el.checked) {
      // an exclusive choice ("none of these") and the others untick each other
      const ex = el.hasAttribute('data-exclusive');
      for (const o of els[n]) if (o !== el && (ex || o.hasAttribute('data-exclusive'))) o.checked = false;
    }
    if (e.type === 'change' && n && Q[n].type === 'rank') {
      // a position already given to another choice: the two swap
      const prev = el.dataset.prev || '';
      if (el.value) for (const o of els[n]) if (o !== el && o.value === el.value) { o.value = prev; o.dataset.prev = prev; }
      el.dataset.prev = el.value;
    }
    update();
    touched = true;
    clearTimeout(saveTimer);
    saveTimer = setTimeout(save, 300);
  }
  form.addEventListener('input', changed);
  form.addEventListener('change', changed);
  window.addEventListener('pagehide', save);
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'hidden') save(); });

  // --- sending ------------------------------------------------------------------------
  let sending = false, tries = 0, retry = null;
  const say = (msg, warn) => { status.textContent = msg; status.classList.toggle('warn', !!warn); };
  const thanks = url => { try { return new URL(url).pathname === new URL(form.action).pathname + '/thanks'; } catch (e) { return false; } };
  let ended = false;
  function page(html) {  // a message page from the server (already sent, closed ...)
    ended = true;
    const doc = new DOMParser().parseFromString(html, 'text/html');
    document.title = doc.title;
    document.body.replaceWith(document.adoptNode(doc.body));
    const h = document.querySelector('h1');
    if (h) { h.tabIndex = -1; h.focus(); }
  }
  function serverErrors(html) {  // a 422: its messages at our fields, else its whole page
    const doc = new DOMParser().parseFromString(html, 'text/html'), errs = [];
    for (const p of doc.querySelectorAll('p.error[id]:not([hidden])')) {
      const f = p.id.slice(2, -6), s = sectionOf(f), t = $(p.id) && target(f);
      if (t && t.e && !t.e.disabled && s && s.dataset.on && p.textContent.trim()) errs.push([f, p.textContent.trim(), s]);
    }
    if (!errs.length) return page(html);
    const s = errs[0][2];
    if (s !== cur) go(s, false);
    showErrors(errs.filter(x => x[2] === s).map(x => x.slice(0, 2)), 'errors_title');
  }
  async function send(body) {
    retry = null;
    sending = true;
    submit.disabled = true;
    if (!tries) say(M.sending);
    let res = null, html = '';
    const stop = window.AbortController ? new AbortController() : null;
    const timeout = setTimeout(() => stop && stop.abort(), 60000);
    try {
      res = await fetch(form.action, { method: 'POST', body, credentials: 'same-origin', signal: stop && stop.signal });
      html = await res.text();
    } catch (e) { res = null; }
    clearTimeout(timeout);
    if (res && res.ok && thanks(res.url)) { forget(); location.replace(res.url); return; }
    if (res && res.status === 429 && challenged(html, body)) return;
    if (res && [409, 410].includes(res.status)) forget();  // sent before, or closed: nothing to keep
    if (!res || res.ok || [429, 502, 503, 504].includes(res.status)) {
      // Not answered (or not by us): keep everything, send the same again, later.
      const after = res && +res.headers.get('Retry-After');
      say(M.offline_retrying, true);
      retry = () => { clearTimeout(timer); send(body); };
      const timer = setTimeout(retry, Math.min(30, Math.max(2 ** ++tries, after || 0)) * 1000);
      return;
    }
    sending = false;
    submit.disabled = false;
    tries = 0;
    say('');
    if (res.status === 422) serverErrors(html); else page(html);
  }
  // Over a limit (many answers at once from one network or phone): the 429 page
  // carries a proof of work (pow.js solves it), then the same answers go again.
  // pow.js is fetched only then (from this server: form[data-pow]).
  let proofs = 0;
  const powScript = () => window.SurveyPow ? Promise.resolve() : new Promise((ok, fail) => {
    const s = document.head.appendChild(document.createElement('script'));
    s.onload = ok;
    s.onerror = () => { s.remove(); fail(); };
    s.src = form.dataset.pow;
  });
  function challenged(html, body) {
    const c = new DOMParser().parseFromString(html, 'text/html').querySelector('input[name=pow_challenge]');
    if (!c || !c.value || !form.dataset.pow || ++proofs > 3) return false;
    say(M.busy_check, true);
    powScript().then(() => window.SurveyPow.solve(c.value, +c.dataset.bits)).then(counter => {
      body.set('pow_challenge', c.value);
      body.set('pow_counter', counter);
      send(body);
    }, () => { say(M.offline_retrying, true); setTimeout(() => send(body), 5000); });
    return true;
  }
  window.addEventListener('online', () => { if (retry) retry(); });
  form.addEventListener('submit', e => {
    e.preventDefault();
    if (sending) return;
    const vis = visible();
    if (vis.indexOf(cur) < vis.length - 1) return void forward();  // Enter in a field
    update();
    for (const s of vis) {
      const errs = errorsOn(s);
      if (errs.length) {
        if (s !== cur) go(s, false);
        return showErrors(errs, 'errors_title');
      }
    }
    save();
    send(new URLSearchParams(new FormData(form)));
  });

  // --- start ------------------------------------------------------------------------
  const restored = restore();
  for (const n of names) if (Q[n].type === 'rank') for (const s of els[n]) s.dataset.prev = s.value;
  update();
  const vis = visible(), errs = shown();  // errors from the server come first
  const first = errs.length ? vis.find(s => s === sectionOf(errs[0]))
    : restored && vis.find(s => byId(s, restored.page)) || vis.find(s => history.state && byId(s, history.state.sePage));
  progressBox.hidden = false;
  show(first || vis[0], false);
  history.replaceState(Object.assign({}, history.state, { sePage: cur.dataset.page }), '');
  // The server sees that this script sends: over a limit it asks for a proof of work
  // rather than storing the answers with a flag (intake/admission.py).
  const js = form.appendChild(document.createElement('input'));
  js.type = 'hidden';
  js.name = 'js';
  js.value = '1';
  if (restored) { touched = true; say(M.restored); $('form-saved').hidden = false; }
})();
