// Service dashboard: CSAT, FCR, self-service and handoff rates from GET /v1/feedback/stats,
// per day and per intent, drawn as inline SVG by hand (no chart library).
'use strict';

(function () {
  const { i18n, api, problemText, el, svg, table, fmtPct } = window.Tandem;
  const t = (k, v) => i18n.t(k, v);
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 30000;

  i18n.add({
    en: {
      'dash.title': 'Dashboard · Tandem', 'dash.heading': 'Service dashboard',
      'dash.range': 'Conversations started', 'dash.range.7': 'in the last 7 days', 'dash.range.14': 'in the last 14 days', 'dash.range.30': 'in the last 30 days',
      'dash.range.90': 'in the last 90 days', 'dash.range.all': 'at any time', 'dash.refresh': 'Refresh',
      'dash.kpis': 'Key figures', 'dash.trend': 'Over time (per day)', 'dash.byIntent': 'Per intent',
      'dash.metric': 'Metric', 'dash.table': 'Show the numbers as a table',
      'dash.corrections': 'Most corrected intents', 'dash.noCorrections': 'No corrections yet.',
      'dash.empty': 'No conversations in this range yet.', 'dash.updated': 'Updated {time}.',
      'dash.failed': 'Could not load the figures: {detail}',
      'dash.trend.desc': 'Daily CSAT, first-contact resolution, self-service and handoff rates, in percent.',
      'dash.intent.desc': '{metric} per intent, in percent; the number of conversations is in brackets.',
      'metric.conversations': 'Conversations', 'metric.csat': 'CSAT', 'metric.fcr': 'FCR',
      'metric.self': 'Self-service rate', 'metric.handoff': 'Handoff rate', 'metric.rating': 'Average rating',
      'metric.resolution': 'Resolution rate',
      'sub.conversations': '{n} with an outcome', 'sub.csat': '{a} of {b} rated 4–5', 'sub.fcr': '{a} of {b} resolved at first contact',
      'sub.self': '{a} of {b} resolved by the bot', 'sub.handoff': '{a} of {b} handed to a person',
      'sub.rating': '{b} ratings', 'sub.resolution': '{a} of {b} outcomes resolved',
      'col.day': 'Day', 'col.intent': 'Intent', 'col.n': 'Conversations', 'noIntent': '(no intent)',
      'corr.row': '{from} → {to}: {n}',
      'dash.gaps': 'Questions the bot could not answer',
      'dash.gaps.desc': 'Grouped by meaning, Chinese and English together; most asked and most often handed to a person first.',
      'dash.noGaps': 'The bot answered every question in this range.',
      'gap.examples': 'Questions (examples)', 'gap.questions': 'Asked', 'gap.handed': 'Then a person',
      'gap.langs': 'Languages', 'gap.more': '{n} clusters in all; the top {k} are shown.',
      'drill.show': 'Conversations', 'drill.title': 'Conversations behind: {figure}', 'drill.inIntent': '{figure} · {intent}',
      'drill.count': '{total} conversations; the newest {shown} are listed. The downloads hold all of them, one row each (no personal data: ids and outcomes only).',
      'drill.csv': 'Download CSV', 'drill.jsonl': 'Download JSON Lines', 'drill.close': 'Close',
      'col.conversation': 'Conversation', 'col.started': 'Started', 'col.channel': 'Channel', 'col.resolved': 'Resolved',
      'col.handled': 'Handled by', 'col.rating': 'Rating', 'yes': 'yes', 'no': 'no',
    },
    zh: {
      'dash.title': '服务看板 · Tandem', 'dash.heading': '服务看板',
      'dash.range': '会话开始于', 'dash.range.7': '最近 7 天', 'dash.range.14': '最近 14 天', 'dash.range.30': '最近 30 天',
      'dash.range.90': '最近 90 天', 'dash.range.all': '全部时间', 'dash.refresh': '刷新',
      'dash.kpis': '关键指标', 'dash.trend': '按天趋势', 'dash.byIntent': '按意图',
      'dash.metric': '指标', 'dash.table': '以表格显示数据',
      'dash.corrections': '纠正最多的意图', 'dash.noCorrections': '还没有纠正。',
      'dash.empty': '这个时间段还没有会话。', 'dash.updated': '更新于 {time}。',
      'dash.failed': '无法加载指标：{detail}',
      'dash.trend.desc': '每天的满意度、首次解决率、自助解决率和转人工率（百分比）。',
      'dash.intent.desc': '各意图的{metric}（百分比），括号内为会话数。',
      'metric.conversations': '会话数', 'metric.csat': '满意度 CSAT', 'metric.fcr': '首次解决率 FCR',
      'metric.self': '自助解决率', 'metric.handoff': '转人工率', 'metric.rating': '平均评分',
      'metric.resolution': '解决率',
      'sub.conversations': '{n} 个有结果', 'sub.csat': '{b} 个评分中 {a} 个为 4–5 分', 'sub.fcr': '{b} 个已解决中 {a} 个首次解决',
      'sub.self': '{b} 个会话中 {a} 个由机器人解决', 'sub.handoff': '{b} 个会话中 {a} 个转人工',
      'sub.rating': '共 {b} 个评分', 'sub.resolution': '{b} 个结果中 {a} 个已解决',
      'col.day': '日期', 'col.intent': '意图', 'col.n': '会话数', 'noIntent': '（无意图）',
      'corr.row': '{from} → {to}：{n} 次',
      'dash.gaps': '机器人答不上的问题',
      'dash.gaps.desc': '按语义归类，中英文合并；问得最多、最常转人工的排在前面。',
      'dash.noGaps': '这个时间段内机器人回答了所有问题。',
      'gap.examples': '问题（示例）', 'gap.questions': '提问次数', 'gap.handed': '随后转人工',
      'gap.langs': '语言', 'gap.more': '共 {n} 类，显示前 {k} 类。',
      'drill.show': '查看会话', 'drill.title': '该指标背后的会话：{figure}', 'drill.inIntent': '{figure} · {intent}',
      'drill.count': '共 {total} 个会话，列出最新的 {shown} 个。下载文件包含全部会话，每个一行（不含个人信息，只有编号和结果）。',
      'drill.csv': '下载 CSV', 'drill.jsonl': '下载 JSON Lines', 'drill.close': '关闭',
      'col.conversation': '会话', 'col.started': '开始时间', 'col.channel': '渠道', 'col.resolved': '已解决',
      'col.handled': '处理方', 'col.rating': '评分', 'yes': '是', 'no': '否',
    },
  });

  // The four rates, as fractions (CSAT comes as a percentage).
  const SERIES = [
    { key: 'csat', label: 'metric.csat', color: '#0a5fb4', value: (m) => (m.csat === null ? null : m.csat / 100) },
    { key: 'fcr', label: 'metric.fcr', color: '#17703a', value: (m) => m.fcr },
    { key: 'self_service_rate', label: 'metric.self', color: '#8a5a00', value: (m) => m.self_service_rate },
    { key: 'handoff_rate', label: 'metric.handoff', color: '#b42318', value: (m) => m.handoff_rate },
  ];
  const state = { kb: { intents: {} }, byDay: null, byIntent: null, gaps: null, drill: null };
  // The conversations each figure counts (GET /v1/feedback/conversations?subset=): a tile's
  // numerator, or the whole range for the conversation count.
  const SUBSET = {
    conversations: 'all', csat: 'satisfied', fcr: 'resolved_first_contact', self_service_rate: 'self_served',
    handoff_rate: 'handed_off', average_rating: 'rated',
  };
  const DRILL_ROWS = 50;
  const GAPS_SHOWN = 10;
  const intentName = (id) => (id ? i18n.pick((state.kb.intents[id] || {}).name, id) : t('noIntent'));
  const say = (text, kind) => { const s = $('status'); s.className = 'notice ' + (kind || 'info'); s.textContent = text; };

  function isoDay(d) { return d.toISOString().slice(0, 10); }
  function rangeQuery() {
    const v = $('range').value;
    if (v === 'all') return {};
    const from = new Date(Date.now() - (Number(v) - 1) * 86400000);
    return { from: isoDay(from) };
  }
  function statsUrl(groupBy) {
    return '/v1/feedback/stats?' + new URLSearchParams(Object.assign({ group_by: groupBy }, rangeQuery()));
  }

  async function load() {
    let day, intent, gaps;
    const gapsUrl = '/v1/knowledge/gaps?' + new URLSearchParams(Object.assign({ limit: GAPS_SHOWN }, rangeQuery()));
    try {
      [day, intent, gaps] = await Promise.all([api(statsUrl('day')), api(statsUrl('intent')), api(gapsUrl)]);
    } catch (e) { say(e.message, 'error'); return; }
    const bad = [day, intent, gaps].find((r) => !r.ok);
    if (bad) { say(t('dash.failed', { detail: problemText(bad) }), 'error'); return; }
    state.byDay = day.body;
    state.byIntent = intent.body;
    state.gaps = gaps.body;
    // An open drill-down follows the range (and the 30 s refresh).
    if (state.drill) await drill(state.drill, false);
    render();
    await window.TandemService.load(rangeQuery(), state.kb);
    say(t('dash.updated', { time: new Date().toLocaleTimeString(i18n.lang === 'zh' ? 'zh-CN' : 'en-GB') }));
  }

  function render() {
    if (!state.byDay) return;
    renderKpis(state.byDay);
    renderTrend(state.byDay);
    renderIntents(state.byIntent);
    renderCorrections(state.byDay);
    renderGaps(state.gaps);
    if (state.drillBody) renderDrill(state.drillBody);
  }

  // ---- key figures -------------------------------------------------------------------------
  function renderKpis(s) {
    const c = s.counts;
    const m = s.metrics;
    const tile = (key, label, value, sub, color) => el('div', { class: 'kpi', 'data-metric': key },
      el('div', { class: 'label' }, color ? el('span', { class: 'swatch', 'data-color': color }) : null, t(label)),
      el('div', { class: 'value', 'data-value': key }, value),
      el('div', { class: 'sub' }, sub),
      el('button', { type: 'button', class: 'btn btn-ghost btn-small drill', 'data-drill': key,
        onclick: () => drill({ metric: key, label }) }, t('drill.show')));
    $('kpis').replaceChildren(
      tile('conversations', 'metric.conversations', String(c.conversations), t('sub.conversations', { n: c.with_outcome })),
      tile('csat', 'metric.csat', m.csat === null ? t('none') : m.csat.toFixed(0) + '%', t('sub.csat', { a: c.satisfied, b: c.rated }), SERIES[0].color),
      tile('fcr', 'metric.fcr', fmtPct(m.fcr), t('sub.fcr', { a: c.resolved_first_contact, b: c.resolved }), SERIES[1].color),
      tile('self_service_rate', 'metric.self', fmtPct(m.self_service_rate), t('sub.self', { a: c.self_served, b: c.conversations }), SERIES[2].color),
      tile('handoff_rate', 'metric.handoff', fmtPct(m.handoff_rate), t('sub.handoff', { a: c.handed_off, b: c.conversations }), SERIES[3].color),
      tile('average_rating', 'metric.rating', m.average_rating === null ? t('none') : m.average_rating.toFixed(2), t('sub.rating', { b: c.rated })),
    );
    paintSwatches($('kpis'));
  }
  // Colours are set through the CSSOM (the page's CSP allows no inline style attributes).
  function paintSwatches(root) {
    root.querySelectorAll('[data-color]').forEach((n) => { n.style.background = n.dataset.color; });
  }

  // ---- per day -----------------------------------------------------------------------------
  function days(s) {
    const groups = new Map((s.groups || []).filter((g) => g.key).map((g) => [g.key, g]));
    const keys = Array.from(groups.keys()).sort();
    const q = rangeQuery();
    const first = q.from || keys[0];
    if (!first) return [];
    const out = [];
    const end = isoDay(new Date());
    const last = keys.length && keys[keys.length - 1] > end ? keys[keys.length - 1] : end;
    for (let d = new Date(first + 'T00:00:00Z'); isoDay(d) <= last && out.length < 400; d = new Date(d.getTime() + 86400000)) {
      out.push({ key: isoDay(d), group: groups.get(isoDay(d)) || null });
    }
    return out;
  }

  function renderTrend(s) {
    $('trend-legend').replaceChildren(...SERIES.map((se) => el('li', null, el('span', { class: 'swatch', 'data-color': se.color }), t(se.label))));
    paintSwatches($('trend-legend'));
    const rows = days(s);
    const box = $('trend-chart');
    if (!rows.some((r) => r.group)) {
      box.replaceChildren(el('p', { class: 'empty' }, t('dash.empty')));
      $('trend-table').replaceChildren();
      return;
    }
    const W = 640, H = 260, L = 44, R = 14, T = 12, B = 34;
    const x = (i) => (rows.length === 1 ? L + (W - L - R) / 2 : L + (i * (W - L - R)) / (rows.length - 1));
    const y = (v) => T + (1 - v) * (H - T - B);
    const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'trend-svg-title trend-svg-desc', 'data-chart': 'trend' },
      svg('title', { id: 'trend-svg-title' }, t('dash.trend')),
      svg('desc', { id: 'trend-svg-desc' }, t('dash.trend.desc')));
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
      chart.append(svg('line', { class: v ? 'grid' : 'axis', x1: L, x2: W - R, y1: y(v), y2: y(v) }),
        svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, `${v * 100}%`));
    }
    // About eight day labels; the last day always, without a regular label crowding it.
    const step = Math.max(1, Math.ceil(rows.length / 8));
    const labelled = new Set();
    for (let i = 0; i < rows.length; i += step) labelled.add(i);
    const lastI = rows.length - 1;
    const prev = Math.floor(lastI / step) * step;
    if (prev !== lastI && lastI - prev < step * 0.6) labelled.delete(prev);
    labelled.add(lastI);
    for (const i of labelled) {
      chart.append(svg('text', { x: x(i), y: H - B + 16, 'text-anchor': 'middle' }, rows[i].key.slice(5)));
    }
    for (const se of SERIES) {
      // A line through consecutive days with a value; a gap (no data) breaks it.
      let d = '';
      let pen = false;
      rows.forEach((r, i) => {
        const v = r.group ? se.value(r.group.metrics) : null;
        if (v === null || v === undefined) { pen = false; return; }
        d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
        pen = true;
      });
      chart.append(svg('path', { d, fill: 'none', stroke: se.color, 'stroke-width': 2.5, 'stroke-linejoin': 'round', 'data-series': se.key }));
      rows.forEach((r, i) => {
        const v = r.group ? se.value(r.group.metrics) : null;
        if (v === null || v === undefined) return;
        chart.append(svg('circle', { cx: x(i), cy: y(v), r: 4, fill: '#fff', stroke: se.color, 'stroke-width': 2, 'data-series': se.key },
          svg('title', null, `${r.key} · ${t(se.label)}: ${fmtPct(v)} (${r.group.counts.conversations})`)));
      });
    }
    box.replaceChildren(chart);
    const withData = rows.filter((r) => r.group);
    $('trend-table').replaceChildren(table(
      [t('col.day'), t('col.n'), ...SERIES.map((se) => t(se.label))],
      withData.map((r) => [r.key, r.group.counts.conversations, ...SERIES.map((se) => fmtPct(se.value(r.group.metrics)))])));
  }

  // ---- per intent --------------------------------------------------------------------------
  function renderIntents(s) {
    const metric = $('intent-metric').value;
    const se = SERIES.find((x) => x.key === metric);
    const groups = (s.groups || []).slice().sort((a, b) => b.counts.conversations - a.counts.conversations || String(a.key).localeCompare(String(b.key))).slice(0, 12);
    const box = $('intent-chart');
    if (!groups.length) {
      box.replaceChildren(el('p', { class: 'empty' }, t('dash.empty')));
      $('intent-table').replaceChildren();
      return;
    }
    const W = 640, LABEL = 210, R = 70, ROW = 28, T = 8;
    const H = T * 2 + groups.length * ROW;
    const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'intent-svg-title intent-svg-desc', 'data-chart': 'intent' },
      svg('title', { id: 'intent-svg-title' }, `${t('dash.byIntent')} · ${t(se.label)}`),
      svg('desc', { id: 'intent-svg-desc' }, t('dash.intent.desc', { metric: t(se.label) })));
    const len = (v) => v * (W - LABEL - R);
    chart.append(svg('line', { class: 'axis', x1: LABEL, x2: LABEL, y1: T, y2: H - T }));
    groups.forEach((g, i) => {
      const v = se.value(g.metrics);
      const yTop = T + i * ROW;
      let name = intentName(g.key);
      if (name.length > 24) name = name.slice(0, 23) + '…';
      chart.append(svg('text', { class: 'bar-label', x: LABEL - 8, y: yTop + ROW / 2 + 4, 'text-anchor': 'end' }, name));
      const bar = svg('rect', { x: LABEL, y: yTop + 5, width: Math.max(v ? 2 : 0, len(v || 0)).toFixed(1), height: ROW - 10, rx: 3, fill: se.color, 'data-intent': g.key || '', class: 'drillable' },
        svg('title', null, `${intentName(g.key)}: ${fmtPct(v)} (${g.counts.conversations})`));
      bar.addEventListener('click', () => drill({ metric, label: se.label, intent: g.key }));
      chart.append(bar);
      chart.append(svg('text', { x: LABEL + len(v || 0) + 6, y: yTop + ROW / 2 + 4 }, `${fmtPct(v)} (${g.counts.conversations})`));
    });
    box.replaceChildren(chart);
    $('intent-table').replaceChildren(table(
      [t('col.intent'), t('col.n'), ...SERIES.map((x) => t(x.label)), ''],
      groups.map((g) => [intentName(g.key), g.counts.conversations, ...SERIES.map((x) => fmtPct(x.value(g.metrics))),
        el('button', { type: 'button', class: 'btn btn-ghost btn-small', 'data-drill-intent': g.key || '',
          onclick: () => drill({ metric, label: se.label, intent: g.key }) }, t('drill.show'))])));
  }

  // ---- drill-down: the conversations behind a figure ----------------------------------------
  function drillQuery(d, extra) {
    const q = Object.assign({ subset: SUBSET[d.metric] }, rangeQuery(), extra);
    if (d.intent !== undefined) { q.group_by = 'intent'; if (d.intent) q.key = d.intent; }
    return '/v1/feedback/conversations?' + new URLSearchParams(q);
  }

  async function drill(d, focus = true) {
    state.drill = d;
    const res = await api(drillQuery(d, { limit: DRILL_ROWS }));
    if (!res.ok) { say(t('dash.failed', { detail: problemText(res) }), 'error'); return; }
    state.drillBody = res.body;
    renderDrill(res.body);
    $('drill').hidden = false;
    if (focus) $('drill').focus();
  }

  function renderDrill(body) {
    const d = state.drill;
    const figure = t(d.label);
    $('drill-title').textContent = t('drill.title', { figure: d.intent !== undefined ? t('drill.inIntent', { figure, intent: intentName(d.intent) }) : figure });
    $('drill-count').textContent = t('drill.count', { total: body.total, shown: body.returned });
    const yesNo = (v) => (v === null ? '–' : t(v ? 'yes' : 'no'));
    $('drill-table').replaceChildren(table(
      [t('col.conversation'), t('col.started'), t('col.channel'), t('col.intent'), t('col.resolved'), t('col.handled'), t('col.rating')],
      body.items.map((r) => [r.conversation_id, r.started_at.slice(0, 16).replace('T', ' '), r.channel || '–', intentName(r.intent),
        yesNo(r.resolved), r.handled_by || '–', r.rating === null ? '–' : String(r.rating)])));
  }

  // Downloads go through fetch (the token is a header, not a cookie), then a blob link.
  async function download(format) {
    const d = state.drill;
    const res = await fetch(drillQuery(d, { format, limit: 100000 }), {
      headers: { authorization: 'Bearer ' + window.Tandem.token.get() }, cache: 'no-store',
    });
    if (!res.ok) { say(t('dash.failed', { detail: 'HTTP ' + res.status }), 'error'); return; }
    const url = URL.createObjectURL(await res.blob());
    const a = el('a', { href: url, download: `conversations-${SUBSET[d.metric]}${d.intent ? '-' + d.intent : ''}.${format}` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function renderCorrections(s) {
    const list = s.top_corrections || [];
    $('corrections').replaceChildren(list.length
      ? el('ul', null, ...list.map((c) => el('li', null, t('corr.row', { from: intentName(c.from), to: intentName(c.to), n: c.count }))))
      : el('p', { class: 'muted' }, t('dash.noCorrections')));
  }

  // GET /v1/knowledge/gaps: one row per cluster, its examples in the first column.
  function renderGaps(g) {
    if (!g.clusters.length) { $('gaps').replaceChildren(el('p', { class: 'muted' }, t('dash.noGaps'))); return; }
    const examples = (c) => el('ul', { class: 'examples' }, ...c.examples.map((e) => el('li', { lang: e.lang === 'zh' ? 'zh-CN' : 'en' }, e.text)));
    const langs = (c) => Object.entries(c.languages).map(([l, n]) => `${l} ${n}`).join(' · ');
    const rows = g.clusters.map((c) => [examples(c), c.questions, c.handed_off, langs(c)]);
    const parts = [table([t('gap.examples'), t('gap.questions'), t('gap.handed'), t('gap.langs')], rows)];
    if (g.clusters_found > g.clusters.length) parts.push(el('p', { class: 'muted small' }, t('gap.more', { n: g.clusters_found, k: g.clusters.length })));
    $('gaps').replaceChildren(...parts);
    $('gaps').querySelectorAll('tbody tr').forEach((tr, i) => tr.setAttribute('data-gap', g.clusters[i].id));
  }

  document.addEventListener('DOMContentLoaded', () => {
    window.Tandem.initChrome();
    $('range-form').addEventListener('submit', (e) => { e.preventDefault(); load(); });
    $('range').addEventListener('change', load);
    $('intent-metric').addEventListener('change', () => state.byIntent && renderIntents(state.byIntent));
    $('drill-csv').addEventListener('click', () => download('csv'));
    $('drill-jsonl').addEventListener('click', () => download('jsonl'));
    $('drill-close').addEventListener('click', () => { $('drill').hidden = true; state.drill = null; state.drillBody = null; });
    i18n.onChange(render);
    window.Tandem.guard(() => api(statsUrl('day')), async () => {
      const kb = await api('/kb.json', { auth: false });
      if (kb.ok) state.kb = kb.body;
      await load();
      window.TandemGraph.load();
      setInterval(() => { if (!document.hidden && !$('app').hidden) load(); }, REFRESH_MS);
    });
  });
})();
