// Shared by the pages (not by widget.js, which stands alone on other sites): language switch,
// translations, the API client, the agent token (session storage only) and small DOM helpers.
'use strict';

(function () {
  const LANG_KEY = 'tandem.lang';
  const TOKEN_KEY = 'tandem.agent_token';
  const strings = { en: {}, zh: {} };
  const listeners = [];

  function detectLang() {
    try {
      const saved = localStorage.getItem(LANG_KEY);
      if (saved === 'en' || saved === 'zh') return saved;
    } catch (_) { /* storage disabled */ }
    return (navigator.language || '').toLowerCase().startsWith('zh') ? 'zh' : 'en';
  }

  let lang = detectLang();

  const i18n = {
    add(dict) {
      for (const l of ['en', 'zh']) Object.assign(strings[l], dict[l] || {});
    },
    get lang() { return lang; },
    // t('key', {n: 3}) → the string with {n} replaced.
    t(key, vars) {
      let s = strings[lang][key];
      if (s === undefined) s = strings.en[key];
      if (s === undefined) return key;
      if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
      return s;
    },
    // Elements with data-i18n get their text; data-i18n-attr="placeholder:key;aria-label:key".
    apply(root) {
      root = root || document;
      root.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = i18n.t(el.dataset.i18n); });
      root.querySelectorAll('[data-i18n-attr]').forEach((el) => {
        for (const pair of el.dataset.i18nAttr.split(';')) {
          const [attr, key] = pair.split(':');
          if (attr && key) el.setAttribute(attr.trim(), i18n.t(key.trim()));
        }
      });
      document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
      const title = document.querySelector('meta[name="tandem-title"]');
      if (title) document.title = i18n.t(title.content);
    },
    set(next) {
      lang = next === 'zh' ? 'zh' : 'en';
      try { localStorage.setItem(LANG_KEY, lang); } catch (_) { /* ignore */ }
      i18n.apply();
      listeners.forEach((f) => f(lang));
    },
    onChange(f) { listeners.push(f); },
    // A {zh, en} object (KB names) in the current language.
    pick(names, fallback) {
      if (!names) return fallback;
      return names[lang] || names.en || names.zh || fallback;
    },
  };

  i18n.add({
    en: {
      'nav.chat': 'Chat demo', 'nav.agent': 'Agent console', 'nav.dashboard': 'Dashboard',
      'nav.label': 'Pages', 'lang.switch': '中文', 'lang.switch.label': 'Switch to Chinese',
      'skip': 'Skip to content',
      'signin.title': 'Sign in', 'signin.token': 'Agent token',
      'signin.help': 'The agent token printed by ./dev up (kept in .spin/agent-token). It is kept in this tab only (session storage).',
      'signin.submit': 'Sign in', 'signin.out': 'Sign out',
      'signin.wrong': 'That is not the agent token.', 'signin.failed': 'Could not sign in: {detail}',
      'error.network': 'The server could not be reached.',
      'none': '—',
      // Knowledge-graph edges, as the console's related knowledge and the dashboard's graph
      // name them (docs/graph.md).
      'edge.answers': 'FAQ entry', 'edge.resolved_by': 'Resolved it before', 'edge.similar_to': 'Similar',
      'edge.confused_with': 'Often confused with', 'edge.routes_to': 'Routed to', 'edge.handled_in': 'Tickets went to',
      'edge.uses_template': 'Reply template', 'edge.mentions': 'Mentions', 'edge.about': 'Handoff rule',
      'edge.fills': 'Fills', 'edge.staffed_by': 'Staffed by', 'edge.count': '{n}×',
    },
    zh: {
      'nav.chat': '聊天演示', 'nav.agent': '坐席工作台', 'nav.dashboard': '服务看板',
      'nav.label': '页面', 'lang.switch': 'English', 'lang.switch.label': '切换到英文',
      'skip': '跳到正文',
      'signin.title': '登录', 'signin.token': '坐席令牌',
      'signin.help': '即 ./dev up 打印的坐席令牌（保存在 .spin/agent-token）。令牌只保存在当前标签页（会话存储）。',
      'signin.submit': '登录', 'signin.out': '退出',
      'signin.wrong': '令牌不正确。', 'signin.failed': '登录失败：{detail}',
      'error.network': '无法连接服务器。',
      'none': '—',
      'edge.answers': 'FAQ 条目', 'edge.resolved_by': '曾解决此类问题', 'edge.similar_to': '相似',
      'edge.confused_with': '常被混淆为', 'edge.routes_to': '分配队列', 'edge.handled_in': '工单去向',
      'edge.uses_template': '回复模板', 'edge.mentions': '提及', 'edge.about': '转人工规则',
      'edge.fills': '填充', 'edge.staffed_by': '值班日历', 'edge.count': '{n} 次',
    },
  });

  const token = {
    get() { try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (_) { return ''; } },
    set(v) { try { sessionStorage.setItem(TOKEN_KEY, v); } catch (_) { /* ignore */ } },
    clear() { try { sessionStorage.removeItem(TOKEN_KEY); } catch (_) { /* ignore */ } },
  };

  // fetch() with JSON in and out. Resolves {status, ok, body, headers}; a problem+json body
  // is in `body` (with `detail`). Rejects only when the network fails.
  async function api(path, opts) {
    opts = opts || {};
    const headers = Object.assign({ accept: 'application/json' }, opts.headers || {});
    if (opts.auth !== false && token.get()) headers.authorization = 'Bearer ' + token.get();
    let body;
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    let res;
    try {
      res = await fetch(path, { method: opts.method || 'GET', headers, body, cache: 'no-store' });
    } catch (e) {
      const err = new Error(i18n.t('error.network'));
      err.network = true;
      throw err;
    }
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (_) { json = { detail: text }; }
    return { status: res.status, ok: res.ok, body: json, headers: res.headers };
  }

  function problemText(res) {
    const b = res.body || {};
    return (b.detail || b.title || ('HTTP ' + res.status));
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // el('div', {class: 'x', onclick: f}, child, 'text', ...): text is always text, never HTML.
  function build(n, attrs, children) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') n.addEventListener(k.slice(2), v);
      else if (k === 'text') n.textContent = v;
      else n.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      n.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return n;
  }
  function el(tag, attrs, ...children) {
    return build(document.createElement(tag), attrs, children);
  }
  // The same for SVG elements (charts).
  function svg(tag, attrs, ...children) {
    return build(document.createElementNS('http://www.w3.org/2000/svg', tag), attrs, children);
  }

  // A figures table: the first column names the row (a row header), the others are numbers.
  // `attr(row, i)`, when given, returns the row's own attributes (data-* hooks for tests).
  function table(head, rows, attr) {
    return el('table', { class: 'data' },
      el('thead', null, el('tr', null, ...head.map((h, i) => el('th', { scope: 'col', class: i ? 'num' : null }, h)))),
      el('tbody', null, ...rows.map((r, n) => el('tr', attr ? attr(r, n) : null,
        ...(Array.isArray(r) ? r : r.cells).map((c, i) => (i ? el('td', { class: 'num' }, c) : el('th', { scope: 'row' }, c)))))));
  }

  // Text with **bold** spans (the KB's answers use them), as DOM nodes, never innerHTML.
  function richText(text) {
    const frag = document.createDocumentFragment();
    String(text).split('**').forEach((part, i) => {
      if (!part) return;
      frag.append(i % 2 ? el('strong', null, part) : document.createTextNode(part));
    });
    return frag;
  }

  function fmtTime(iso) {
    if (!iso) return i18n.t('none');
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    return d.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-GB', {
      month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
    });
  }

  function fmtPct(x, digits) {
    if (x === null || x === undefined) return i18n.t('none');
    return (x * 100).toFixed(digits === undefined ? 0 : digits) + '%';
  }

  // Header: marks the current page, wires the language button.
  function initChrome() {
    const here = location.pathname.replace(/\.html$/, '').replace(/\/$/, '') || '/';
    document.querySelectorAll('.topbar nav a').forEach((a) => {
      const target = a.getAttribute('href').replace(/\/$/, '') || '/';
      if (target === here || (target === '/' && here === '/index')) a.setAttribute('aria-current', 'page');
    });
    const btn = document.getElementById('lang-switch');
    if (btn) btn.addEventListener('click', () => i18n.set(i18n.lang === 'zh' ? 'en' : 'zh'));
    i18n.apply();
  }

  // A sign-in form (#signin) guarding the page's content (#app). `onReady` runs once the token
  // is accepted by `probe` (a call that needs it); a 401/403 shows the error and asks again.
  function guard(probe, onReady) {
    const signin = document.getElementById('signin');
    const app = document.getElementById('app');
    const form = document.getElementById('signin-form');
    const input = document.getElementById('token');
    const msg = document.getElementById('signin-msg');
    const out = document.getElementById('signout');

    function show(signedIn) {
      signin.hidden = signedIn;
      app.hidden = !signedIn;
      if (out) out.hidden = !signedIn;
    }
    async function attempt() {
      let res;
      try {
        res = await probe();
      } catch (e) {
        msg.textContent = e.message;
        show(false);
        return;
      }
      if (res.status === 401 || res.status === 403) {
        token.clear();
        msg.textContent = i18n.t('signin.wrong');
        show(false);
        input.focus();
        return;
      }
      if (!res.ok) {
        msg.textContent = i18n.t('signin.failed', { detail: problemText(res) });
        show(false);
        return;
      }
      msg.textContent = '';
      show(true);
      onReady(res);
    }
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = input.value.trim();
      if (!v) { input.focus(); return; }
      token.set(v);
      input.value = '';
      attempt();
    });
    if (out) {
      out.addEventListener('click', () => {
        token.clear();
        show(false);
        input.focus();
      });
    }
    if (token.get()) attempt(); else { show(false); }
  }

  window.Tandem = { i18n, token, api, problemText, uuid, el, svg, table, richText, fmtTime, fmtPct, initChrome, guard };
})();
