/*! Tandem chat widget. Embed with one tag:
 *
 *   <script src="https://YOUR-TANDEM-HOST/widget.js" defer></script>
 *
 * Optional attributes on that tag: data-open="true" (start opened), data-lang="zh|en",
 * data-title="…", data-customer-id / data-customer-name / data-customer-tier (who is chatting,
 * if the site knows), data-api="https://…" (API origin; default: where this script came from).
 * It talks to POST /v1/assist and POST /v1/feedback on that origin, renders inside a shadow
 * root (the site's CSS cannot break it, nor it the site's), and keeps the conversation in
 * sessionStorage so a page reload continues it. window.TandemWidget = {open, close, setLang}.
 */
(function () {
  'use strict';
  if (window.TandemWidget) return;

  const script = document.currentScript;
  const data = (script && script.dataset) || {};
  const origin = data.api || (script && script.src ? new URL(script.src, location.href).origin : location.origin);
  const STATE_KEY = 'tandem.widget.' + origin;
  const LANG_KEY = 'tandem.lang';

  const STRINGS = {
    en: {
      launcher: 'Chat with us', title: 'Customer service', close: 'Close chat', lang: '中文', langLabel: 'Switch to Chinese',
      log: 'Conversation', input: 'Your message', placeholder: 'Ask anything… (Enter to send)', send: 'Send',
      human: 'Talk to a person', humanMsg: 'I want to talk to a human agent, please',
      greeting: 'Hi! Ask me about orders, delivery, returns, refunds or payments. 您好，中文也可以。',
      you: 'You', bot: 'Assistant', system: 'Notice', typing: 'Assistant is typing…',
      'source.faq': 'FAQ', 'source.intent': 'Bot', 'source.fallback': 'Bot', 'source.handoff': 'Handoff',
      ticket: 'Ticket {id} · an agent will follow up', backAt: 'A person will be back: {time} (your time)', failed: 'Sorry, the message could not be sent ({detail}). Please try again.',
      offline: 'The service could not be reached. Please try again.',
      rateOpen: 'Rate this conversation', rateTitle: 'How was this conversation?', stars: '{n} of 5', resolved: 'Was your question answered?',
      yes: 'Yes', no: 'No', comment: 'Comment (optional)', submit: 'Send rating', cancel: 'Cancel',
      thanks: 'Thank you for your feedback! You rated this conversation {n}/5.', pickRating: 'Please choose a rating.',
      newChat: 'New conversation',
    },
    zh: {
      launcher: '联系客服', title: '在线客服', close: '关闭聊天', lang: 'English', langLabel: '切换到英文',
      log: '对话', input: '您的消息', placeholder: '请输入问题…（回车发送）', send: '发送',
      human: '转人工', humanMsg: '我要转人工客服',
      greeting: '您好！订单、物流、退换货、退款、支付问题都可以问我。English is fine too.',
      you: '我', bot: '智能助手', system: '提示', typing: '助手正在输入…',
      'source.faq': '知识库', 'source.intent': '机器人', 'source.fallback': '机器人', 'source.handoff': '转人工',
      ticket: '工单 {id} · 人工客服会尽快跟进', backAt: '人工客服将于 {time}（您的当地时间）上班', failed: '抱歉，消息发送失败（{detail}），请重试。',
      offline: '无法连接客服系统，请稍后重试。',
      rateOpen: '评价本次服务', rateTitle: '您对本次服务满意吗？', stars: '{n} 分（满分 5 分）', resolved: '您的问题解决了吗？',
      yes: '解决了', no: '没解决', comment: '留言（选填）', submit: '提交评价', cancel: '取消',
      thanks: '感谢您的评价！您给本次服务打了 {n}/5 分。', pickRating: '请选择评分。',
      newChat: '新对话',
    },
  };

  let lang = data.lang || (function () {
    try { const s = localStorage.getItem(LANG_KEY); if (s === 'zh' || s === 'en') return s; } catch (_) { /* ignore */ }
    return (navigator.language || '').toLowerCase().startsWith('zh') ? 'zh' : 'en';
  })();
  const t = (k, vars) => {
    let s = (STRINGS[lang] && STRINGS[lang][k]) || STRINGS.en[k] || k;
    if (vars) s = s.replace(/\{(\w+)\}/g, (m, v) => (v in vars ? String(vars[v]) : m));
    return s;
  };

  function load() {
    try { return JSON.parse(sessionStorage.getItem(STATE_KEY)) || null; } catch (_) { return null; }
  }
  let state = load() || { conversation_id: null, messages: [], ticket: null, intent: null, rated: null };
  function save() { try { sessionStorage.setItem(STATE_KEY, JSON.stringify(state)); } catch (_) { /* ignore */ } }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function h(tag, attrs, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      n.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return n;
  }
  // **bold** (the knowledge base's answers use it) as <strong>; everything else is text.
  function rich(text) {
    const f = document.createDocumentFragment();
    String(text).split('**').forEach((part, i) => { if (part) f.append(i % 2 ? h('strong', null, part) : document.createTextNode(part)); });
    return f;
  }

  // ---- DOM -----------------------------------------------------------------------------------
  const host = h('div', { id: 'tandem-widget', 'data-tandem-widget': '' });
  const root = host.attachShadow({ mode: 'open' });
  const ui = {};
  ui.css = h('link', { rel: 'stylesheet', href: new URL('/widget.css', origin).href });
  ui.launcher = h('button', { type: 'button', class: 'launcher', 'aria-expanded': 'false', 'aria-controls': 'tw-panel' });
  ui.title = h('h2', { id: 'tw-title' });
  ui.langBtn = h('button', { type: 'button', class: 'icon', 'data-action': 'lang' });
  ui.newBtn = h('button', { type: 'button', class: 'icon', 'data-action': 'new' });
  ui.closeBtn = h('button', { type: 'button', class: 'icon', 'data-action': 'close' }, '×');
  ui.log = h('ol', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', tabindex: '0' });
  ui.typing = h('p', { class: 'typing', hidden: true, 'aria-hidden': 'true' });
  ui.human = h('button', { type: 'button', class: 'chip', 'data-action': 'human' });
  ui.rateBtn = h('button', { type: 'button', class: 'chip', 'data-action': 'rate', hidden: true });
  ui.inputLabel = h('label', { for: 'tw-input', class: 'vh' });
  ui.input = h('textarea', { id: 'tw-input', rows: '2', maxlength: '1000', autocomplete: 'off' });
  ui.send = h('button', { type: 'submit', class: 'send' });
  ui.form = h('form', { class: 'composer' }, ui.inputLabel, ui.input, ui.send);

  // Rating: 1-5 as radio buttons (arrow keys move between them), whether it was resolved
  // (only asked when the bot handled it alone: a person's resolution is recorded by the agent),
  // and an optional comment.
  ui.rateLegend = h('legend');
  ui.stars = [1, 2, 3, 4, 5].map((n) => {
    const input = h('input', { type: 'radio', name: 'tw-rating', value: String(n), id: 'tw-star-' + n, class: 'vh' });
    const label = h('label', { for: 'tw-star-' + n, class: 'star' }, '★', h('span', { class: 'vh' }));
    return { input, label, n };
  });
  ui.resolvedLegend = h('legend');
  ui.resYes = h('input', { type: 'radio', name: 'tw-resolved', value: 'yes', id: 'tw-res-yes', checked: true });
  ui.resNo = h('input', { type: 'radio', name: 'tw-resolved', value: 'no', id: 'tw-res-no' });
  ui.resYesL = h('label', { for: 'tw-res-yes' });
  ui.resNoL = h('label', { for: 'tw-res-no' });
  ui.resolvedSet = h('fieldset', { class: 'resolved' }, ui.resolvedLegend, h('span', null, ui.resYes, ui.resYesL), h('span', null, ui.resNo, ui.resNoL));
  ui.commentLabel = h('label', { for: 'tw-comment' });
  ui.comment = h('textarea', { id: 'tw-comment', rows: '2', maxlength: '1000' });
  ui.rateSubmit = h('button', { type: 'submit', class: 'send' });
  ui.rateCancel = h('button', { type: 'button', class: 'plain', 'data-action': 'rate-cancel' });
  ui.rateMsg = h('p', { class: 'error', role: 'alert' });
  ui.rateForm = h('form', { class: 'rate', hidden: true, 'aria-labelledby': 'tw-rate-title' },
    h('fieldset', { class: 'stars' }, ui.rateLegend, ...ui.stars.map((s) => [s.input, s.label])),
    ui.resolvedSet, ui.commentLabel, ui.comment, ui.rateMsg, h('div', { class: 'row' }, ui.rateSubmit, ui.rateCancel));
  ui.rateLegend.id = 'tw-rate-title';

  ui.panel = h('section', { class: 'panel', id: 'tw-panel', role: 'region', 'aria-labelledby': 'tw-title', hidden: true },
    h('header', null, ui.title, h('span', { class: 'grow' }), ui.langBtn, ui.newBtn, ui.closeBtn),
    ui.log, ui.typing, ui.rateForm, h('div', { class: 'chips' }, ui.human, ui.rateBtn), ui.form);
  root.append(ui.css, ui.panel, ui.launcher);

  function renderStrings() {
    ui.launcher.textContent = t('launcher');
    ui.title.textContent = data.title || t('title');
    ui.langBtn.textContent = t('lang');
    ui.langBtn.setAttribute('aria-label', t('langLabel'));
    ui.newBtn.textContent = '⟲';
    ui.newBtn.setAttribute('aria-label', t('newChat'));
    ui.newBtn.title = t('newChat');
    ui.closeBtn.setAttribute('aria-label', t('close'));
    ui.log.setAttribute('aria-label', t('log'));
    ui.typing.textContent = t('typing');
    ui.human.textContent = t('human');
    ui.rateBtn.textContent = t('rateOpen');
    ui.inputLabel.textContent = t('input');
    ui.input.placeholder = t('placeholder');
    ui.send.textContent = t('send');
    ui.rateLegend.textContent = t('rateTitle');
    ui.stars.forEach((s) => { s.label.lastChild.textContent = t('stars', { n: s.n }); s.label.title = t('stars', { n: s.n }); });
    ui.resolvedLegend.textContent = t('resolved');
    ui.resYesL.textContent = t('yes');
    ui.resNoL.textContent = t('no');
    ui.commentLabel.textContent = t('comment');
    ui.rateSubmit.textContent = t('submit');
    ui.rateCancel.textContent = t('cancel');
    host.setAttribute('lang', lang === 'zh' ? 'zh-CN' : 'en');
  }

  // ---- messages ------------------------------------------------------------------------------
  function bubble(m) {
    const who = m.role === 'customer' ? t('you') : m.role === 'bot' ? t('bot') : t('system');
    const li = h('li', { class: 'msg ' + m.role, 'data-role': m.role, 'data-source': m.source || null },
      h('span', { class: 'vh' }, who + ': '),
      m.source ? h('span', { class: 'source' }, t('source.' + m.source)) : null,
      h('span', { class: 'text' }, rich(m.text)));
    if (m.ticket) {
      li.append(h('span', { class: 'ticket', 'data-ticket-id': m.ticket.id }, t('ticket', { id: m.ticket.id, queue: m.ticket.queue })));
    }
    if (m.backAt) {
      li.append(h('span', { class: 'back-at', 'data-next-open': m.backAt }, t('backAt', { time: localTime(m.backAt) })));
    }
    return li;
  }
  // The desk's next opening (RFC 3339 in the queue's offset) in the reader's own clock.
  function localTime(iso) {
    const d = new Date(iso);
    if (isNaN(d.getTime())) return iso;
    return d.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en', {
      weekday: 'short', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
    });
  }
  function renderLog() {
    ui.log.replaceChildren(bubble({ role: 'bot', text: t('greeting') }), ...state.messages.map(bubble));
    ui.rateBtn.hidden = !state.conversation_id || !!state.rated;
    ui.resolvedSet.hidden = !!state.ticket;
    ui.log.scrollTop = ui.log.scrollHeight;
  }
  function push(m) {
    state.messages.push(m);
    save();
    ui.log.append(bubble(m));
    ui.log.scrollTop = ui.log.scrollHeight;
    ui.rateBtn.hidden = !state.conversation_id || !!state.rated;
    ui.resolvedSet.hidden = !!state.ticket;
  }

  async function post(path, body) {
    const res = await fetch(new URL(path, origin).href, {
      method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body),
    });
    let json = null;
    try { json = await res.json(); } catch (_) { /* not JSON */ }
    return { status: res.status, ok: res.ok, body: json };
  }

  function customer() {
    const c = { channel: 'web' };
    if (data.customerId) c.id = data.customerId;
    if (data.customerName) c.name = data.customerName;
    if (data.customerTier) c.tier = data.customerTier;
    return c;
  }

  let busy = false;
  async function sendMessage(text) {
    text = text.trim();
    if (!text || busy) return;
    busy = true;
    ui.send.disabled = true;
    ui.human.disabled = true;
    push({ role: 'customer', text });
    ui.typing.hidden = false;
    ui.log.setAttribute('aria-busy', 'true');
    try {
      let res = await post('/v1/assist', { conversation_id: state.conversation_id || undefined, customer: customer(), message: text });
      if (res.status === 404 && state.conversation_id) {
        // The conversation expired on the server: carry on in a new one.
        state.conversation_id = null; state.ticket = null; state.rated = null; state.faq = null;
        res = await post('/v1/assist', { customer: customer(), message: text });
      }
      if (!res.ok) {
        push({ role: 'system', text: t('failed', { detail: (res.body && (res.body.detail || res.body.title)) || res.status }) });
        return;
      }
      const b = res.body;
      state.conversation_id = b.conversation_id;
      if (b.intent && !b.intent.out_of_scope) state.intent = b.intent.intent;
      // The FAQ entry that answered last: a resolved outcome credits it (knowledge graph).
      if (b.faq && b.faq.faq_id) state.faq = b.faq.faq_id;
      const reply = b.reply || {};
      const msg = { role: 'bot', text: reply.text || '', source: reply.source || null };
      if (b.ticket && b.ticket.id) {
        if (!state.ticket) msg.ticket = { id: b.ticket.id, queue: b.ticket.queue };
        state.ticket = { id: b.ticket.id, queue: b.ticket.queue };
      }
      // Outside the queue's business hours: when a person is back.
      const hours = b.handoff && b.handoff.business_hours;
      if (hours && !hours.open && hours.next_open) msg.backAt = hours.next_open;
      push(msg);
    } catch (_) {
      push({ role: 'system', text: t('offline') });
    } finally {
      busy = false;
      ui.send.disabled = false;
      ui.human.disabled = false;
      ui.typing.hidden = true;
      ui.log.removeAttribute('aria-busy');
    }
  }

  async function submitRating(e) {
    e.preventDefault();
    const chosen = ui.stars.find((s) => s.input.checked);
    if (!chosen) { ui.rateMsg.textContent = t('pickRating'); ui.stars[4].input.focus(); return; }
    ui.rateMsg.textContent = '';
    ui.rateSubmit.disabled = true;
    const conv = state.conversation_id;
    const rating = { event_id: uuid(), conversation_id: conv, kind: 'rating', rating: chosen.n, channel: 'web' };
    const comment = ui.comment.value.trim();
    if (comment) rating.comment = comment;
    if (state.intent) rating.intent_predicted = state.intent;
    try {
      const r = await post('/v1/feedback', rating);
      if (!r.ok) { ui.rateMsg.textContent = t('failed', { detail: (r.body && r.body.detail) || r.status }); return; }
      if (!state.ticket) {
        // The bot handled it alone: the customer says whether that resolved it.
        const outcome = {
          event_id: uuid(), conversation_id: conv, kind: 'outcome', resolved: ui.resYes.checked,
          handled_by: 'bot', contact_count: 1, channel: 'web',
        };
        if (state.intent) outcome.intent_predicted = state.intent;
        if (state.faq) outcome.faq_predicted = state.faq;
        const o = await post('/v1/feedback', outcome);
        if (!o.ok) { ui.rateMsg.textContent = t('failed', { detail: (o.body && o.body.detail) || o.status }); return; }
      }
      state.rated = chosen.n;
      ui.rateForm.hidden = true;
      push({ role: 'system', text: t('thanks', { n: chosen.n }) });
      ui.input.focus();
    } catch (_) {
      ui.rateMsg.textContent = t('offline');
    } finally {
      ui.rateSubmit.disabled = false;
    }
  }

  // ---- behaviour -----------------------------------------------------------------------------
  // `quiet`: opened by the page (data-open), not by the user, so focus stays where it is.
  function open(quiet) {
    ui.panel.hidden = false;
    ui.launcher.setAttribute('aria-expanded', 'true');
    ui.launcher.hidden = true;
    renderLog();
    if (quiet !== true) ui.input.focus();
  }
  function close() {
    ui.panel.hidden = true;
    ui.launcher.hidden = false;
    ui.launcher.setAttribute('aria-expanded', 'false');
    ui.launcher.focus();
  }
  function setLang(next) {
    lang = next === 'zh' ? 'zh' : 'en';
    renderStrings();
    renderLog();
  }

  ui.launcher.addEventListener('click', () => open());
  ui.closeBtn.addEventListener('click', close);
  ui.langBtn.addEventListener('click', () => {
    setLang(lang === 'zh' ? 'en' : 'zh');
    try { localStorage.setItem(LANG_KEY, lang); } catch (_) { /* ignore */ }
  });
  ui.newBtn.addEventListener('click', () => {
    state = { conversation_id: null, messages: [], ticket: null, intent: null, faq: null, rated: null };
    save();
    ui.rateForm.reset();
    ui.rateForm.hidden = true;
    ui.stars.forEach((s) => s.label.classList.remove('on'));
    renderLog();
    ui.input.focus();
  });
  ui.human.addEventListener('click', () => sendMessage(t('humanMsg')));
  ui.rateBtn.addEventListener('click', () => {
    ui.rateForm.hidden = !ui.rateForm.hidden;
    if (!ui.rateForm.hidden) ui.stars[4].input.focus();
  });
  ui.rateCancel.addEventListener('click', () => { ui.rateForm.hidden = true; ui.rateBtn.focus(); });
  ui.rateForm.addEventListener('submit', submitRating);
  ui.rateForm.addEventListener('change', () => {
    const n = (ui.stars.find((s) => s.input.checked) || { n: 0 }).n;
    ui.stars.forEach((s) => s.label.classList.toggle('on', s.n <= n));
  });
  ui.form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = ui.input.value;
    ui.input.value = '';
    sendMessage(text);
  });
  ui.input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); ui.form.requestSubmit(); }
  });
  ui.panel.addEventListener('keydown', (e) => { if (e.key === 'Escape') close(); });

  renderStrings();
  function mount() {
    document.body.append(host);
    if (data.open === 'true') open(true);
  }
  if (document.body) mount(); else document.addEventListener('DOMContentLoaded', mount);

  window.TandemWidget = { open, close, setLang };
})();
