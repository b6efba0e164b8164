// Dashboard: SLA discipline and webhooks (docs/web.md). SLA met %, overdue, escalated and time
// to first response per queue and per agent (GET /v1/tickets/sla); webhook subscriptions,
// delivery counts and the dead-letter list with replay (GET /v1/webhooks, .../deliveries).
(function () {
  const { i18n, api, problemText, el, table, fmtTime, fmtPct } = window.Tandem;
  const t = (k, v) => i18n.t(k, v);
  const $ = (id) => document.getElementById(id);

  i18n.add({
    en: {
      'sla.title': 'SLA', 'sla.desc': 'Tickets created in the range: resolved within their due time, overdue now, escalated by the schedule, time to first response.',
      'sla.queue': 'Queue', 'sla.agent': 'Agent', 'sla.tickets': 'Tickets', 'sla.met': 'SLA met', 'sla.overdue': 'Overdue',
      'sla.escalated': 'Escalated', 'sla.first': 'First response p50', 'sla.none': 'No tickets in this range.',
      'sla.all': 'All queues', 'sla.byAgent': 'Per agent',
      'hooks.title': 'Webhooks', 'hooks.desc': 'Subscriptions and deliveries; a delivery that ran out of tries is a dead letter until replayed.',
      'hooks.url': 'Receiver', 'hooks.events': 'Events', 'hooks.active': 'Active', 'hooks.none': 'No subscriptions (POST /v1/webhooks).',
      'hooks.counts': '{pending} pending · {delivered} delivered · {dead} dead', 'hooks.dead': 'Dead letters',
      'hooks.noDead': 'No dead letters.', 'hooks.replay': 'Replay', 'hooks.replayed': 'Delivery {id} is pending again.',
      'hooks.event': 'Event', 'hooks.tries': 'Tries', 'hooks.error': 'Last error', 'yes': 'yes', 'no': 'no',
    },
    zh: {
      'sla.title': '服务时效（SLA）', 'sla.desc': '所选时间内创建的工单：按时解决、当前超时、被自动升级的数量，以及首次响应时间。',
      'sla.queue': '队列', 'sla.agent': '坐席', 'sla.tickets': '工单数', 'sla.met': '按时解决率', 'sla.overdue': '已超时',
      'sla.escalated': '已升级', 'sla.first': '首次响应中位数', 'sla.none': '这段时间没有工单。',
      'sla.all': '全部队列', 'sla.byAgent': '按坐席',
      'hooks.title': 'Webhook 推送', 'hooks.desc': '订阅与推送记录；重试用尽的推送进入死信列表，可手动重发。',
      'hooks.url': '接收地址', 'hooks.events': '事件', 'hooks.active': '启用', 'hooks.none': '暂无订阅（POST /v1/webhooks）。',
      'hooks.counts': '待推送 {pending} · 已送达 {delivered} · 死信 {dead}', 'hooks.dead': '死信',
      'hooks.noDead': '没有死信。', 'hooks.replay': '重发', 'hooks.replayed': '推送 {id} 已重新排队。',
      'hooks.event': '事件', 'hooks.tries': '尝试次数', 'hooks.error': '最近错误', 'yes': '是', 'no': '否',
    },
  });

  const state = { sla: null, hooks: null, dead: null, kb: { queues: [] } };

  function seconds(s) {
    if (s === null || s === undefined) return '—';
    if (s < 90) return `${Math.round(s)} s`;
    if (s < 5400) return `${Math.round(s / 60)} min`;
    return `${(s / 3600).toFixed(1)} h`;
  }

  function figures(name, f) {
    return [name, f.tickets, f.met_rate === null ? '—' : fmtPct(f.met_rate), f.overdue, f.escalated, seconds(f.first_response_p50_seconds)];
  }

  function renderSla() {
    const s = state.sla;
    if (!s) return;
    if (!s.overall.tickets) { $('sla').replaceChildren(el('p', { class: 'muted' }, t('sla.none'))); return; }
    const queueName = (id) => i18n.pick((state.kb.queues.find((q) => q.id === id) || {}).name, id);
    const head = (first) => [first, t('sla.tickets'), t('sla.met'), t('sla.overdue'), t('sla.escalated'), t('sla.first')];
    const queues = [{ key: '', cells: figures(t('sla.all'), s.overall) },
      ...Object.entries(s.queues).map(([q, f]) => ({ key: q, cells: figures(queueName(q), f) }))];
    const agents = Object.entries(s.agents).map(([a, f]) => ({ key: a, cells: figures(a, f) }));
    $('sla').replaceChildren(
      table(head(t('sla.queue')), queues, (r) => ({ 'data-sla-queue': r.key })),
      ...(agents.length ? [el('h3', null, t('sla.byAgent')), table(head(t('sla.agent')), agents, (r) => ({ 'data-sla-agent': r.key }))] : []));
  }

  function renderHooks() {
    const h = state.hooks;
    if (!h) return;
    const subs = h.subscriptions.map((s) => ({ key: s.id, cells: [el('code', null, s.url), s.events.join(', '), s.active ? t('yes') : t('no')] }));
    const dead = (state.dead || []).map((d) => ({ key: d.id, cells: [
      el('span', null, d.event_type, ' ', el('code', { class: 'small' }, d.event_id)), d.attempts, d.last_error || String(d.last_status || ''),
      el('button', { type: 'button', class: 'btn btn-small', onclick: () => replay(d.id) }, t('hooks.replay'))] }));
    $('hooks').replaceChildren(
      el('p', { class: 'muted small', 'data-field': 'delivery-counts' }, t('hooks.counts', h.deliveries)),
      subs.length ? table([t('hooks.url'), t('hooks.events'), t('hooks.active')], subs, (r) => ({ 'data-subscription': r.key }))
        : el('p', { class: 'muted' }, t('hooks.none')),
      el('h3', null, t('hooks.dead')),
      dead.length ? table([t('hooks.event'), t('hooks.tries'), t('hooks.error'), ''], dead, (r) => ({ 'data-dead-letter': r.key }))
        : el('p', { class: 'muted' }, t('hooks.noDead')));
  }

  async function replay(id) {
    const res = await api(`/v1/webhooks/deliveries/${id}/replay`, { method: 'POST' });
    $('hooks-status').textContent = res.ok ? t('hooks.replayed', { id }) : problemText(res);
    await loadHooks();
  }

  async function loadHooks() {
    const [hooks, dead] = await Promise.all([api('/v1/webhooks'), api('/v1/webhooks/deliveries?state=dead&limit=20')]);
    if (!hooks.ok || !dead.ok) { $('hooks-status').textContent = problemText(hooks.ok ? dead : hooks); return; }
    state.hooks = hooks.body;
    state.dead = dead.body.deliveries;
    renderHooks();
  }

  async function load(range, kb) {
    if (kb) state.kb = kb;
    const sla = await api('/v1/tickets/sla?' + new URLSearchParams(range));
    if (sla.ok) { state.sla = sla.body; renderSla(); } else $('sla').replaceChildren(el('p', { class: 'muted' }, problemText(sla)));
    await loadHooks();
  }

  i18n.onChange(() => { renderSla(); renderHooks(); });
  window.TandemService = { load };
})();
