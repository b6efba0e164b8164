// Agent console: tickets by queue, a ticket's conversation with the bot's intent and
// confidence, FAQ suggestions (agent mode), take / reply / resolve / correct the intent.
'use strict';

(function () {
  const { i18n, api, problemText, el, richText, fmtTime, fmtPct, uuid } = window.Tandem;
  const t = (k, v) => i18n.t(k, v);
  const $ = (id) => document.getElementById(id);
  const ME_KEY = 'tandem.agent_id';
  const POLL_MS = 5000;

  i18n.add({
    en: {
      'agent.title': 'Agent console · Tandem', 'agent.signin': 'Agent console',
      'agent.me.title': 'Who is working', 'agent.me': 'I am', 'agent.me.none': '(choose an agent)',
      'agent.status': 'My status', 'agent.status.online': 'online', 'agent.status.away': 'away',
      'agent.status.offline': 'offline',
      'agent.edit': 'Add or edit an agent', 'agent.id': 'Agent id', 'agent.name': 'Name',
      'agent.capacity': 'Capacity (open tickets)', 'agent.queues': 'Queues', 'agent.save': 'Save agent',
      'agent.saved': 'Agent {id} saved.', 'agent.tickets': 'Tickets', 'agent.queue': 'Queue',
      'agent.allQueues': 'All queues', 'agent.statusFilter': 'Status', 'agent.any': 'any',
      'agent.refresh': 'Refresh', 'agent.count': '{n} tickets', 'agent.count.one': '1 ticket',
      'agent.empty': 'No tickets here.', 'agent.pick': 'Pick a ticket',
      'agent.summary': 'Summary', 'agent.conversation': 'Conversation', 'agent.history': 'History',
      'agent.take': 'Take', 'agent.resolve': 'Resolve', 'agent.reply': 'Reply to the customer',
      'agent.send': 'Send reply', 'agent.suggestions': 'Suggested answers (FAQ, agent mode)',
      'agent.use': 'Use', 'agent.template': 'Reply template · {intent}', 'agent.missing': 'Fill in: {fields}',
      'agent.noSuggestions': 'No suggestions for this conversation.',
      'agent.related': 'Related knowledge (the intent in the knowledge graph)',
      'agent.noRelated': 'No intent, so nothing related.',
      'agent.resolvedBefore': 'Resolved ticket',
      'agent.correct': 'Correct the intent', 'agent.correct.intent': 'Right intent',
      'agent.correct.submit': 'Save correction',
      'agent.needMe': 'Choose who you are first (I am …).',
      'agent.taken': 'You took {id}.', 'agent.resolved': '{id} is resolved.', 'agent.replied': 'Reply saved on {id}.',
      'agent.corrected': 'Correction saved: {from} → {to}.',
      'agent.stale': 'Someone else changed this ticket; it has been reloaded. Try again.',
      'agent.failed': 'That did not work: {detail}',
      'fact.id': 'Ticket', 'fact.status': 'Status', 'fact.priority': 'Priority', 'fact.queue': 'Queue',
      'fact.assignee': 'Assignee', 'fact.customer': 'Customer', 'fact.category': 'Intent',
      'fact.confidence': 'Confidence', 'fact.sla': 'Due', 'fact.created': 'Created',
      'fact.reasons': 'Why this priority', 'unassigned': 'unassigned',
      'source.classified': 'classified by the bot', 'source.given': 'given by the caller', 'source.agent': 'set by an agent',
      'role.customer': 'Customer', 'role.bot': 'Bot', 'role.agent': 'Agent', 'role.note': 'Agent reply',
      'status.new': 'new', 'status.open': 'open', 'status.pending': 'pending', 'status.resolved': 'resolved',
      'status.closed': 'closed', 'prio.low': 'low', 'prio.normal': 'normal', 'prio.high': 'high', 'prio.urgent': 'urgent',
      'event.created': 'created', 'event.assigned': 'assigned', 'event.status': 'status',
      'event.priority': 'priority', 'event.queue': 'queue', 'event.category': 'intent', 'event.note': 'reply',
      'event.escalated': 'escalated',
      'badge.overdue': 'overdue', 'badge.escalated': 'escalated',
      'fact.escalated': 'Escalated', 'fact.firstResponse': 'First response',
      'agent.customer': 'Customer (CRM record)', 'agent.noRecord': 'No CRM record for this customer.',
      'customer.tier': 'Tier', 'customer.language': 'Language', 'customer.orders': 'Recent orders',
      'customer.tickets': '{n} tickets in all', 'customer.tickets.one': '1 ticket in all', 'customer.source': 'From {source}',
    },
    zh: {
      'agent.title': '坐席工作台 · Tandem', 'agent.signin': '坐席工作台',
      'agent.me.title': '当前坐席', 'agent.me': '我是', 'agent.me.none': '（选择坐席）',
      'agent.status': '我的状态', 'agent.status.online': '在线', 'agent.status.away': '离开',
      'agent.status.offline': '离线',
      'agent.edit': '新增或编辑坐席', 'agent.id': '坐席 ID', 'agent.name': '姓名',
      'agent.capacity': '容量（同时处理的工单）', 'agent.queues': '队列', 'agent.save': '保存坐席',
      'agent.saved': '坐席 {id} 已保存。', 'agent.tickets': '工单', 'agent.queue': '队列',
      'agent.allQueues': '全部队列', 'agent.statusFilter': '状态', 'agent.any': '全部',
      'agent.refresh': '刷新', 'agent.count': '共 {n} 张工单', 'agent.count.one': '共 1 张工单',
      'agent.empty': '这里没有工单。', 'agent.pick': '请选择一张工单',
      'agent.summary': '摘要', 'agent.conversation': '对话记录', 'agent.history': '处理记录',
      'agent.take': '接单', 'agent.resolve': '标记已解决', 'agent.reply': '回复客户',
      'agent.send': '发送回复', 'agent.suggestions': '推荐答案（FAQ 坐席模式）',
      'agent.use': '采用', 'agent.template': '回复模板 · {intent}', 'agent.missing': '需补充：{fields}',
      'agent.noSuggestions': '这段对话没有推荐答案。',
      'agent.related': '相关知识（该意图在知识图谱中的邻居）',
      'agent.noRelated': '没有意图，暂无相关知识。',
      'agent.resolvedBefore': '已解决的同类工单',
      'agent.correct': '纠正意图', 'agent.correct.intent': '正确的意图',
      'agent.correct.submit': '保存纠正',
      'agent.needMe': '请先选择您是哪位坐席（“我是”）。',
      'agent.taken': '您已接单 {id}。', 'agent.resolved': '{id} 已解决。', 'agent.replied': '已保存对 {id} 的回复。',
      'agent.corrected': '已保存纠正：{from} → {to}。',
      'agent.stale': '这张工单刚被别人修改，已重新加载，请再试一次。',
      'agent.failed': '操作失败：{detail}',
      'fact.id': '工单', 'fact.status': '状态', 'fact.priority': '优先级', 'fact.queue': '队列',
      'fact.assignee': '处理人', 'fact.customer': '客户', 'fact.category': '意图',
      'fact.confidence': '置信度', 'fact.sla': '截止', 'fact.created': '创建时间',
      'fact.reasons': '优先级原因', 'unassigned': '未分配',
      'source.classified': '机器人识别', 'source.given': '调用方指定', 'source.agent': '坐席设置',
      'role.customer': '客户', 'role.bot': '机器人', 'role.agent': '坐席', 'role.note': '坐席回复',
      'status.new': '新建', 'status.open': '处理中', 'status.pending': '等待中', 'status.resolved': '已解决',
      'status.closed': '已关闭', 'prio.low': '低', 'prio.normal': '普通', 'prio.high': '高', 'prio.urgent': '紧急',
      'event.created': '创建', 'event.assigned': '分配', 'event.status': '状态',
      'event.priority': '优先级', 'event.queue': '队列', 'event.category': '意图', 'event.note': '回复',
      'event.escalated': '已升级',
      'badge.overdue': '已超时', 'badge.escalated': '已升级',
      'fact.escalated': '升级时间', 'fact.firstResponse': '首次响应',
      'agent.customer': '客户（CRM 资料）', 'agent.noRecord': '该客户没有 CRM 资料。',
      'customer.tier': '等级', 'customer.language': '语言', 'customer.orders': '最近订单',
      'customer.tickets': '共 {n} 张工单', 'customer.tickets.one': '共 1 张工单', 'customer.source': '来自 {source}',
    },
  });

  const state = { kb: { queues: [], intents: {} }, agents: [], tickets: [], current: null, etag: null, events: [] };

  const queueName = (id) => i18n.pick((state.kb.queues.find((q) => q.id === id) || {}).name, id);
  const intentName = (id) => (id === 'none' || !id ? t('none') : i18n.pick((state.kb.intents[id] || {}).name, id));
  const me = () => $('me').value;
  const say = (text, kind) => {
    const s = $('status');
    s.className = 'notice ' + (kind || 'info');
    s.textContent = text;
  };

  // A ticket's conversation id for feedback events: assist files the ticket under the
  // conversation id (cv_…) when the customer gave no id of their own; otherwise the ticket is
  // its own contact.
  const conversationOf = (tk) => (/^cv_[0-9a-z]{26}$/.test(tk.customer.id) ? tk.customer.id : tk.id);
  const customerWords = (tk) => clipBytes(tk.transcript.filter((x) => x.role === 'customer').map((x) => x.text).join('\n'), 4000);
  function clipBytes(s, max) {
    const enc = new TextEncoder();
    while (enc.encode(s).length > max) s = s.slice(0, Math.floor(s.length * 0.9));
    return s;
  }

  // ---- agents ------------------------------------------------------------------------------
  function renderAgents() {
    const sel = $('me');
    const chosen = sessionStorage.getItem(ME_KEY) || '';
    sel.replaceChildren(el('option', { value: '' }, t('agent.me.none')),
      ...state.agents.map((a) => el('option', { value: a.id, selected: a.id === chosen }, `${a.name} (${a.id})`)));
    if (!state.agents.some((a) => a.id === chosen) && state.agents.length === 1) sel.value = state.agents[0].id;
    syncMe();
  }
  function syncMe() {
    const a = state.agents.find((x) => x.id === me());
    sessionStorage.setItem(ME_KEY, me());
    $('my-status').disabled = !a;
    if (a) {
      $('my-status').value = a.status;
      $('agent-id').value = a.id;
      $('agent-name').value = a.name;
      $('agent-capacity').value = a.capacity;
      document.querySelectorAll('#agent-queues input').forEach((c) => { c.checked = a.queues.includes(c.value); });
    }
    renderButtons();
  }
  async function loadAgents() {
    const res = await api('/v1/agents');
    if (res.ok) {
      state.agents = res.body.items;
      renderAgents();
    }
  }
  async function putAgent(body, id) {
    const res = await api('/v1/agents/' + encodeURIComponent(id), { method: 'PUT', body });
    if (!res.ok) { say(t('agent.failed', { detail: problemText(res) }), 'error'); return false; }
    sessionStorage.setItem(ME_KEY, id);
    await loadAgents();
    return true;
  }
  function renderQueueChoices() {
    $('agent-queues').replaceChildren(...state.kb.queues.map((q) => el('label', null,
      el('input', { type: 'checkbox', value: q.id, name: 'queues' }), queueName(q.id))));
    const sel = $('queue');
    const v = sel.value;
    sel.replaceChildren(el('option', { value: '' }, t('agent.allQueues')),
      ...state.kb.queues.map((q) => el('option', { value: q.id }, queueName(q.id))));
    sel.value = v;
    const ci = $('correct-intent');
    const cv = ci.value;
    const ids = Object.keys(state.kb.intents).sort((a, b) => intentName(a).localeCompare(intentName(b), i18n.lang));
    ci.replaceChildren(...ids.map((id) => el('option', { value: id }, `${intentName(id)} (${id})`)));
    if (cv) ci.value = cv;
  }

  // ---- list --------------------------------------------------------------------------------
  async function loadTickets() {
    const q = new URLSearchParams({ limit: '50' });
    if ($('queue').value) q.set('queue', $('queue').value);
    if ($('status-filter').value) q.set('status', $('status-filter').value);
    const res = await api('/v1/tickets?' + q);
    if (!res.ok) { say(t('agent.failed', { detail: problemText(res) }), 'error'); return; }
    state.tickets = res.body.items;
    renderList();
  }
  function renderList() {
    const n = state.tickets.length;
    $('list-count').textContent = n === 1 ? t('agent.count.one') : t('agent.count', { n });
    const current = state.current && state.current.id;
    $('tickets').replaceChildren(...(n ? state.tickets.map((tk) => el('li', null,
      el('button', {
        type: 'button', class: 'ticket-item', 'data-ticket-id': tk.id,
        'aria-current': tk.id === current ? 'true' : 'false',
        onclick: () => openTicket(tk.id, true),
      },
      el('span', { class: 'subject' }, tk.subject || tk.id),
      el('span', { class: 'meta' },
        el('span', { class: 'badge status-' + tk.status }, t('status.' + tk.status)),
        el('span', { class: 'badge prio-' + tk.priority }, t('prio.' + tk.priority)),
        ...clockBadges(tk),
        el('span', null, queueName(tk.queue)), '·', el('span', null, intentName(tk.category)), '·',
        el('span', null, tk.assignee || t('unassigned')), '·', el('time', { datetime: tk.created_at }, fmtTime(tk.created_at))))))
      : [el('li', { class: 'empty' }, t('agent.empty'))]));
  }

  // Overdue: past its SLA and not done; escalated: the schedule moved it (docs/tickets.md).
  function clockBadges(tk) {
    const done = tk.status === 'resolved' || tk.status === 'closed';
    const overdue = !done && Date.parse(tk.sla_due) < Date.now();
    return [
      overdue ? el('span', { class: 'badge overdue', 'data-badge': 'overdue' }, t('badge.overdue')) : null,
      tk.escalated_at ? el('span', { class: 'badge escalated', 'data-badge': 'escalated' }, t('badge.escalated')) : null,
    ].filter(Boolean);
  }

  // ---- one ticket --------------------------------------------------------------------------
  async function openTicket(id, focus) {
    const res = await api('/v1/tickets/' + encodeURIComponent(id));
    if (!res.ok) { say(t('agent.failed', { detail: problemText(res) }), 'error'); return; }
    state.current = res.body;
    state.etag = res.headers.get('etag');
    const ev = await api('/v1/tickets/' + encodeURIComponent(id) + '/events');
    state.events = ev.ok ? ev.body.items || ev.body : [];
    renderTicket();
    renderList();
    if (focus) $('detail').focus();
    loadSuggestions(state.current);
    loadRelated(state.current);
    loadCustomer(state.current);
  }

  // What the CRM pushed about the customer (PUT /v1/customers/{id}), and how many tickets they have.
  async function loadCustomer(tk) {
    const list = $('customer');
    list.replaceChildren();
    const res = await api('/v1/customers/' + encodeURIComponent(tk.customer.id));
    if (state.current !== tk) return;
    if (!res.ok) { list.append(el('li', { class: 'muted' }, t('agent.failed', { detail: problemText(res) }))); return; }
    const r = res.body.record;
    const items = [];
    if (!r) items.push(el('li', { class: 'muted' }, t('agent.noRecord')));
    else {
      items.push(el('li', { 'data-field': 'customer-name' }, r.name || tk.customer.id,
        r.source ? el('span', { class: 'muted small' }, ' · ' + t('customer.source', { source: r.source })) : null));
      if (r.tier) items.push(el('li', null, el('span', { class: 'muted small' }, t('customer.tier') + ' '), el('span', { class: 'badge', 'data-field': 'customer-tier' }, r.tier)));
      if (r.language) items.push(el('li', null, el('span', { class: 'muted small' }, t('customer.language') + ' '), r.language));
      for (const [k, v] of Object.entries(r.attributes || {})) items.push(el('li', null, el('span', { class: 'muted small' }, k + ' '), v));
      if (r.recent_orders.length) {
        items.push(el('li', { class: 'muted small' }, t('customer.orders')));
        for (const o of r.recent_orders) {
          items.push(el('li', { 'data-order': o.id }, el('code', null, o.id),
            o.status ? ' · ' + o.status : '',
            o.total !== null && o.total !== undefined ? ` · ${o.total} ${o.currency || ''}` : '',
            o.items && o.items.length ? el('span', { class: 'muted small' }, ' · ' + o.items.join(', ')) : null));
        }
      }
    }
    items.push(el('li', { class: 'muted small', 'data-field': 'customer-tickets' }, res.body.tickets.length === 1 ? t('customer.tickets.one') : t('customer.tickets', { n: res.body.tickets.length })));
    list.replaceChildren(...items);
  }

  function renderTicket() {
    const tk = state.current;
    if (!tk) return;
    $('detail-body').hidden = false;
    $('detail-title').textContent = tk.subject || tk.id;
    const conf = tk.category_confidence;
    const fact = (k, ...v) => [el('dt', null, t(k)), el('dd', null, ...v)];
    $('facts').replaceChildren(
      ...fact('fact.id', el('code', { 'data-field': 'id' }, tk.id)),
      ...fact('fact.status', el('span', { class: 'badge status-' + tk.status, 'data-field': 'status', 'data-value': tk.status }, t('status.' + tk.status))),
      ...fact('fact.priority', el('span', { class: 'badge prio-' + tk.priority }, t('prio.' + tk.priority))),
      ...fact('fact.queue', queueName(tk.queue)),
      ...fact('fact.assignee', el('span', { 'data-field': 'assignee' }, tk.assignee || t('unassigned'))),
      ...fact('fact.customer', [tk.customer.name, tk.customer.channel, tk.customer.contact].filter(Boolean).join(' · ') || tk.customer.id),
      ...fact('fact.category', el('span', { 'data-field': 'category', 'data-value': tk.category }, `${intentName(tk.category)} (${tk.category})`),
        ' ', el('span', { class: 'muted small' }, t('source.' + tk.category_source))),
      ...fact('fact.confidence', conf === null || conf === undefined ? t('none') : el('span', { class: 'confidence', 'data-field': 'confidence' },
        el('span', { class: 'meter', role: 'img', 'aria-label': fmtPct(conf) }, el('span', { style: null })), fmtPct(conf))),
      ...fact('fact.sla', fmtTime(tk.sla_due), ' ', ...clockBadges(tk)),
      ...fact('fact.created', fmtTime(tk.created_at)),
      ...(tk.escalated_at ? fact('fact.escalated', fmtTime(tk.escalated_at)) : []),
      ...(tk.first_response_at ? fact('fact.firstResponse', fmtTime(tk.first_response_at)) : []),
      ...(tk.priority_reasons && tk.priority_reasons.length
        ? fact('fact.reasons', tk.priority_reasons.map((r) => (i18n.lang === 'zh' ? r.message_zh : r.message_en)).join('; '))
        : []),
    );
    const meter = $('facts').querySelector('.meter > span');
    if (meter) meter.style.width = Math.round((conf || 0) * 100) + '%';
    $('summary').textContent = tk.summary || '';
    const notes = state.events.filter((e) => e.kind === 'note');
    $('transcript').replaceChildren(
      ...tk.transcript.map((turn) => el('li', { class: turn.role },
        el('span', { class: 'who' }, t('role.' + turn.role)), richText(turn.text))),
      ...notes.map((n) => el('li', { class: 'note' },
        el('span', { class: 'who' }, `${t('role.note')} · ${n.actor || ''}`), n.text)));
    $('events').replaceChildren(...state.events.map((e) => el('li', null,
      el('time', { datetime: e.created_at }, fmtTime(e.created_at)), ' · ', el('strong', null, t('event.' + e.kind)),
      e.actor ? ` · ${e.actor}` : '',
      e.from !== null && e.from !== undefined || e.to !== null && e.to !== undefined ? ` · ${e.from ?? '∅'} → ${e.to ?? '∅'}` : '',
      e.kind === 'note' && e.text ? ` · ${e.text}` : '')));
    if (tk.category && state.kb.intents[tk.category]) $('correct-intent').value = tk.category;
    renderButtons();
  }

  function renderButtons() {
    const tk = state.current;
    if (!tk) return;
    const closed = tk.status === 'resolved' || tk.status === 'closed';
    $('take').disabled = tk.assignee === me() && tk.status === 'open';
    $('resolve').disabled = closed;
  }

  async function loadSuggestions(tk) {
    const list = $('suggestions');
    list.replaceChildren();
    const question = clipBytes(tk.transcript.filter((x) => x.role === 'customer').map((x) => x.text).slice(-3).join(' '), 4000);
    if (!question.trim()) return;
    const res = await api('/v1/faq', { method: 'POST', body: { question, lang: 'auto', mode: 'agent', top_k: 3 } });
    if (state.current !== tk) return;
    if (!res.ok) { list.append(el('li', { class: 'muted' }, t('agent.failed', { detail: problemText(res) }))); return; }
    const items = [];
    for (const tpl of res.body.templates || []) {
      items.push(el('li', { 'data-kind': 'template' },
        el('div', { class: 'q' }, t('agent.template', { intent: intentName(tpl.intent) })),
        el('p', null, richText(tpl.text)),
        tpl.missing && tpl.missing.length ? el('p', { class: 'muted small' }, t('agent.missing', { fields: tpl.missing.join(', ') })) : null,
        useButton(tpl.text)));
    }
    for (const s of res.body.suggestions || []) {
      items.push(el('li', { 'data-kind': 'faq', 'data-faq-id': s.faq_id },
        el('div', { class: 'q' }, s.matched_question, ' ', el('span', { class: 'muted small' }, `${s.faq_id} · ${fmtPct(s.score)}`)),
        el('p', null, richText(s.answer)),
        useButton(s.answer)));
    }
    list.replaceChildren(...(items.length ? items : [el('li', { class: 'muted' }, t('agent.noSuggestions'))]));
  }
  // The ticket's intent in the knowledge graph: its FAQ entries, template, similar and confused
  // intents, the FAQ entries that resolved it before (GET /v1/graph/nodes/intent:<category>).
  async function loadRelated(tk) {
    const list = $('related');
    list.replaceChildren();
    if (!tk.category || !state.kb.intents[tk.category]) {
      list.append(el('li', { class: 'muted' }, t('agent.noRelated')));
      return;
    }
    // The graph's neighbours, and the latest resolved tickets of the same intent (how a
    // colleague closed the same kind of question).
    const [res, solved] = await Promise.all([
      api('/v1/graph/nodes/' + encodeURIComponent('intent:' + tk.category) + '?limit=12'),
      api('/v1/tickets?' + new URLSearchParams({ status: 'resolved', category: tk.category, limit: 4 })),
    ]);
    if (state.current !== tk) return;
    if (!res.ok) { list.append(el('li', { class: 'muted' }, t('agent.failed', { detail: problemText(res) }))); return; }
    const resolved = solved.ok ? solved.body.items.filter((x) => x.id !== tk.id).slice(0, 3) : [];
    list.replaceChildren(...res.body.neighbours.map((n) => el('li', {
      'data-edge': n.edge, 'data-node': n.node.id, 'data-origin': n.origin,
    },
    el('span', { class: 'muted small' }, t('edge.' + n.edge)), ' ',
    i18n.pick(n.node.label, n.node.id),
    n.count ? el('span', { class: 'muted small' }, ' · ' + t('edge.count', { n: n.count })) : null,
    n.weight < 1 ? el('span', { class: 'muted small' }, ' · ' + fmtPct(n.weight)) : null)),
    ...resolved.map((x) => el('li', { 'data-resolved-ticket': x.id },
      el('span', { class: 'muted small' }, t('agent.resolvedBefore')), ' ',
      el('button', { type: 'button', class: 'btn btn-ghost btn-small', onclick: () => openTicket(x.id, true) }, x.subject || x.id))));
  }

  function useButton(text) {
    return el('button', {
      type: 'button', class: 'btn btn-small',
      onclick: () => { $('reply').value = text.replace(/\*\*/g, ''); $('reply').focus(); },
    }, t('agent.use'));
  }

  // PATCH with the ticket's version; a stale version (412) reloads the ticket.
  async function patch(body) {
    const tk = state.current;
    const res = await api('/v1/tickets/' + encodeURIComponent(tk.id), {
      method: 'PATCH', body: Object.assign({ actor: me() || undefined }, body), headers: { 'if-match': state.etag || '"0"' },
    });
    if (res.status === 412) { say(t('agent.stale'), 'error'); await openTicket(tk.id); return null; }
    if (!res.ok) { say(t('agent.failed', { detail: problemText(res) }), 'error'); return null; }
    state.current = res.body;
    state.etag = res.headers.get('etag');
    return res.body;
  }

  async function feedback(event) {
    const res = await api('/v1/feedback', { method: 'POST', body: event, auth: false });
    if (!res.ok) say(t('agent.failed', { detail: problemText(res) }), 'error');
    return res.ok;
  }

  async function take() {
    if (!me()) { say(t('agent.needMe'), 'error'); $('me').focus(); return; }
    const tk = state.current;
    const body = { assignee: me() };
    if (tk.status !== 'open') body.status = 'open';
    if (await patch(body)) {
      say(t('agent.taken', { id: tk.id }), 'ok');
      await Promise.all([openTicket(tk.id), loadTickets()]);
    }
  }

  async function resolve() {
    const tk = state.current;
    const done = await patch({ status: 'resolved' });
    if (!done) return;
    // The conversation's outcome: resolved by a person (replaces the handoff's "not yet").
    const repeated = (done.priority_reasons || []).some((r) => r.code === 'repeated_contact');
    const outcome = {
      event_id: `agent:${done.id}:resolved:${done.version}`,
      conversation_id: conversationOf(done),
      kind: 'outcome', resolved: true, handled_by: 'human', contact_count: repeated ? 2 : 1,
    };
    if (me()) outcome.agent_id = me();
    if (done.customer.channel) outcome.channel = done.customer.channel;
    if (done.category && done.category !== 'none') outcome.intent_predicted = done.category;
    await feedback(outcome);
    say(t('agent.resolved', { id: tk.id }), 'ok');
    await Promise.all([openTicket(tk.id), loadTickets()]);
  }

  async function reply(e) {
    e.preventDefault();
    const tk = state.current;
    const text = $('reply').value.trim();
    if (!text) { $('reply').focus(); return; }
    const res = await api('/v1/tickets/' + encodeURIComponent(tk.id) + '/events', {
      method: 'POST', body: { kind: 'note', text, actor: me() || undefined },
    });
    if (!res.ok) { say(t('agent.failed', { detail: problemText(res) }), 'error'); return; }
    $('reply').value = '';
    say(t('agent.replied', { id: tk.id }), 'ok');
    await openTicket(tk.id);
    // A reply to a question the bot could not answer made a FAQ draft.
    window.TandemDrafts.load();
  }

  async function correct(e) {
    e.preventDefault();
    const tk = state.current;
    const to = $('correct-intent').value;
    if (!to) return;
    const from = tk.category;
    const event = {
      event_id: uuid(), conversation_id: conversationOf(tk), kind: 'correction',
      intent_corrected: to, text: customerWords(tk) || tk.subject,
    };
    if (from && from !== 'none') event.intent_predicted = from;
    if (tk.customer.channel) event.channel = tk.customer.channel;
    if (me()) event.agent_id = me();
    if (!(await feedback(event))) return;
    if (from !== to && !(await patch({ category: to }))) return;
    say(t('agent.corrected', { from: intentName(from), to: intentName(to) }), 'ok');
    await Promise.all([openTicket(tk.id), loadTickets()]);
  }

  // ---- start -------------------------------------------------------------------------------
  async function start(agentsRes) {
    state.agents = agentsRes.body.items;
    const kb = await api('/kb.json', { auth: false });
    if (kb.ok) state.kb = kb.body;
    renderQueueChoices();
    renderAgents();
    await loadTickets();
    window.TandemDrafts.load();
    setInterval(() => { if (!document.hidden && !$('app').hidden) loadTickets(); }, POLL_MS);
  }

  document.addEventListener('DOMContentLoaded', () => {
    window.Tandem.initChrome();
    $('me').addEventListener('change', syncMe);
    $('my-status').addEventListener('change', async () => {
      const a = state.agents.find((x) => x.id === me());
      if (a) await putAgent({ name: a.name, queues: a.queues, capacity: a.capacity, status: $('my-status').value }, a.id);
    });
    $('agent-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const id = $('agent-id').value.trim();
      const queues = Array.from(document.querySelectorAll('#agent-queues input:checked'), (c) => c.value);
      if (!id || !$('agent-name').value.trim()) { (id ? $('agent-name') : $('agent-id')).focus(); return; }
      const existing = state.agents.find((a) => a.id === id);
      const ok = await putAgent({
        name: $('agent-name').value.trim(), queues, capacity: Number($('agent-capacity').value) || 5,
        status: existing ? existing.status : 'online',
      }, id);
      if (ok) { say(t('agent.saved', { id }), 'ok'); $('agent-editor').open = false; }
    });
    $('filters').addEventListener('submit', (e) => { e.preventDefault(); loadTickets(); });
    $('queue').addEventListener('change', loadTickets);
    $('status-filter').addEventListener('change', loadTickets);
    $('take').addEventListener('click', take);
    $('resolve').addEventListener('click', resolve);
    $('reply-form').addEventListener('submit', reply);
    $('correct-form').addEventListener('submit', correct);
    i18n.onChange(() => { renderQueueChoices(); renderAgents(); renderList(); renderTicket(); if (state.current) loadSuggestions(state.current); });
    window.Tandem.guard(() => api('/v1/agents'), start);
  });
})();
