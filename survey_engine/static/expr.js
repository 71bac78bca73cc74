/* SurveyExpr: evaluates the expression AST built by survey_engine/definition/expressions.py,
   whose docstring defines every rule; this follows it line by line (checked against it by
   tests/test_expressions_browser.py). No eval, no Function: a tree walk over plain arrays. */
(function () {
  'use strict';
  const isS = v => typeof v === 'string', isN = v => typeof v === 'number',
    isB = v => typeof v === 'boolean', isA = Array.isArray,
    own = (o, k) => Object.prototype.hasOwnProperty.call(o, k),
    NUM = /^[ \t\n\r]*-?([0-9]+(\.[0-9]*)?|\.[0-9]+)[ \t\n\r]*$/,
    DATE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
  const str = v => isS(v) ? v : isA(v) ? v.join(' ') : String(v);
  const num = v => isN(v) ? v : isB(v) ? +v : NUM.test(v = str(v)) ? +v.trim() : NaN;
  const truthy = v => isN(v) ? v !== 0 && v === v : isB(v) ? v : v != null && v.length > 0;
  // an answer, `.` or choice property (JSON) as a value
  const data = v => isS(v) || isN(v) ? v : isB(v) ? String(v)
    : isA(v) ? v.filter(e => isS(e) || isN(e)).map(str) : '';
  const get = (o, k) => o && typeof o === 'object' && !isA(o) && isS(k) && own(o, k) ? data(o[k]) : '';
  const names = v => isA(v) ? v : str(v).split(' ').filter(Boolean);
  const eq = (a, b) => isN(a) || isN(b) ? num(a) === num(b)
    : isB(a) || isB(b) ? truthy(a) === truthy(b) : str(a) === str(b);
  const isDate = v => (isS(v) || isA(v)) && DATE.test(str(v));
  const ord = f => (a, b) => isDate(a) && isDate(b) ? f(str(a), str(b)) : f(num(a), num(b));
  const pad = n => (n < 10 ? '0' : '') + n;
  const round = (x, d) => {
    if (d !== d) return NaN;
    const p = Number('1e' + Math.trunc(Math.max(-400, Math.min(400, d))));
    return (x < 0 ? -1 : 1) * Math.floor(Math.abs(x) * p + 0.5) / p;
  };
  const B = {  // binary operators on evaluated operands (and/or short-circuit in ev)
    '=': eq, '!=': (a, b) => !eq(a, b),
    '<': ord((x, y) => x < y), '<=': ord((x, y) => x <= y),
    '>': ord((x, y) => x > y), '>=': ord((x, y) => x >= y),
    '+': (a, b) => num(a) + num(b), '-': (a, b) => num(a) - num(b),
    '*': (a, b) => num(a) * num(b), div: (a, b) => num(a) / num(b), mod: (a, b) => num(a) % num(b)
  };
  const extreme = (big, v) => {  // min()/max(): NaN if any is, else the first smallest/largest
    if (!v.length || v.some(x => x !== x)) return NaN;
    return v.reduce((b, x) => (big ? x > b : x < b) ? x : b);
  };
  const F = {  // functions on evaluated arguments a (padded with ''), n = how many were given
    not: a => !truthy(a[0]),
    selected: a => names(a[0]).indexOf(str(a[1])) >= 0,
    'count-selected': a => names(a[0]).length,
    'string-length': a => [...str(a[0])].length,
    regex: a => { try { return new RegExp(str(a[1]), 'u').test(str(a[0])); } catch (e) { return false; } },
    if: a => truthy(a[0]) ? a[1] : a[2],
    coalesce: a => str(a[0]) !== '' ? a[0] : a[1],
    today: () => {
      const d = new Date();
      return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate());
    },
    number: a => num(a[0]),
    int: a => Math.trunc(num(a[0])),
    round: (a, n) => round(num(a[0]), n > 1 ? num(a[1]) : 0),
    concat: (a, n) => a.slice(0, n).map(str).join(''),
    min: (a, n) => extreme(false, a.slice(0, n).map(num)),
    max: (a, n) => extreme(true, a.slice(0, n).map(num))
  };
  const ev = (n, c) => {
    if (!isA(n)) return '';
    const [t, x, y] = n;
    if (t === 'num') return isN(x) ? x : NaN;
    if (t === 'str') return isS(x) ? x : '';
    if (t === 'ref') return get(c.a, x);
    if (t === 'cur') return data(c.cur);
    if (t === 'prop') return get(c.ch, x);
    if (t === 'neg') return -num(ev(x, c));
    if (t === 'and') return truthy(ev(x, c)) && truthy(ev(y, c));
    if (t === 'or') return truthy(ev(x, c)) || truthy(ev(y, c));
    if (t === 'fn') {
      const a = isA(y) ? y.map(e => ev(e, c)) : [], k = a.length;
      while (a.length < 3) a.push('');
      return isS(x) && own(F, x) ? F[x](a, k) : '';
    }
    return isS(t) && own(B, t) ? B[t](ev(x, c), ev(y, c)) : '';
  };
  window.SurveyExpr = {
    evaluate: (ast, answers, current, choice) => ev(ast, { a: answers, cur: current, ch: choice }),
    truthy: truthy
  };
})();
