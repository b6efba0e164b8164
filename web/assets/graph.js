// The knowledge graph on the dashboard: GET /v1/graph/subgraph for the chosen node kinds, laid
// out by a small force simulation (run to rest before drawing, so the picture does not move),
// drawn as SVG. Click a node, or pick one in the list (the keyboard way), to see its neighbours
// (GET /v1/graph/nodes/{id}); live edges (what operation added) are drawn darker.
'use strict';

(function () {
  const { i18n, api, problemText, el, svg } = window.Tandem;
  const t = (k, v) => i18n.t(k, v);
  const $ = (id) => document.getElementById(id);

  const KINDS = ['intent', 'faq', 'queue', 'template', 'entity', 'tag', 'topic', 'rule', 'calendar'];
  const COLORS = {
    intent: '#0a5fb4', faq: '#17703a', queue: '#b42318', template: '#8a5a00', entity: '#6941c6',
    tag: '#667085', topic: '#c11574', rule: '#dc6803', calendar: '#0e9384',
  };
  const SHOWN = new Set(['intent', 'faq', 'queue']);
  // Labels are drawn for these kinds; the rest show theirs on hover and in the details.
  const LABELLED = new Set(['intent', 'queue', 'calendar', 'topic']);

  i18n.add({
    en: {
      'graph.title': 'Knowledge graph', 'graph.kinds': 'Show',
      'graph.desc': '{nodes} nodes and {edges} edges: what the knowledge base says, and what operation added (darker edges).',
      'graph.pick': 'Look at a node', 'graph.none': '(choose)', 'graph.neighbours': 'Neighbours of {node}',
      'kind.intent': 'Intents', 'kind.faq': 'FAQ entries', 'kind.queue': 'Queues', 'kind.template': 'Templates',
      'kind.entity': 'Entities', 'kind.tag': 'Tags', 'kind.topic': 'Sensitive topics', 'kind.rule': 'Handoff rules',
      'kind.calendar': 'Calendars', 'graph.edge': '{edge} · {weight}',
    },
    zh: {
      'graph.title': '知识图谱', 'graph.kinds': '显示',
      'graph.desc': '{nodes} 个节点、{edges} 条边：知识库的内容，以及运营中新增的关系（颜色较深的边）。',
      'graph.pick': '查看节点', 'graph.none': '（请选择）', 'graph.neighbours': '{node} 的邻居',
      'kind.intent': '意图', 'kind.faq': 'FAQ 条目', 'kind.queue': '队列', 'kind.template': '回复模板',
      'kind.entity': '实体', 'kind.tag': '标签', 'kind.topic': '敏感话题', 'kind.rule': '转人工规则',
      'kind.calendar': '值班日历', 'graph.edge': '{edge} · {weight}',
    },
  });

  const state = { data: null, layout: null, selected: null };

  // Fruchterman–Reingold with a pull to the centre (without it a third of the nodes pile up on
  // the frame), deterministic start (a circle), 250 rounds, cooling; then stretched to fill the
  // frame, room left on the right for labels. Tuned on the sample KB: 116 and 249 nodes, none
  // on the frame, at most one pair closer than 10 px.
  function layout(nodes, edges, W, H) {
    const n = nodes.length;
    const index = new Map(nodes.map((x, i) => [x.id, i]));
    const pos = nodes.map((_, i) => ({ x: W / 2 + (W / 3) * Math.cos((2 * Math.PI * i) / n), y: H / 2 + (H / 3) * Math.sin((2 * Math.PI * i) / n) }));
    const k = Math.sqrt((W * H) / Math.max(n, 1)) * 0.6;
    const GRAVITY = 3;
    const links = edges.map((e) => [index.get(e.from), index.get(e.to)]).filter(([a, b]) => a !== undefined && b !== undefined);
    for (let round = 0, temp = W / 8; round < 250; round++, temp *= 0.985) {
      const disp = pos.map(() => ({ x: 0, y: 0 }));
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) {
          const dx = pos[i].x - pos[j].x, dy = pos[i].y - pos[j].y;
          const d2 = Math.max(dx * dx + dy * dy, 0.01);
          const f = (k * k) / d2;
          disp[i].x += dx * f; disp[i].y += dy * f; disp[j].x -= dx * f; disp[j].y -= dy * f;
        }
      }
      for (const [a, b] of links) {
        const dx = pos[a].x - pos[b].x, dy = pos[a].y - pos[b].y;
        const d = Math.max(Math.sqrt(dx * dx + dy * dy), 0.1);
        const f = d / k;
        disp[a].x -= dx * f; disp[a].y -= dy * f; disp[b].x += dx * f; disp[b].y += dy * f;
      }
      for (let i = 0; i < n; i++) {
        disp[i].x -= (pos[i].x - W / 2) * GRAVITY;
        disp[i].y -= (pos[i].y - H / 2) * GRAVITY;
        const d = Math.max(Math.sqrt(disp[i].x ** 2 + disp[i].y ** 2), 0.1);
        pos[i].x = Math.min(W - 20, Math.max(20, pos[i].x + (disp[i].x / d) * Math.min(d, temp)));
        pos[i].y = Math.min(H - 14, Math.max(14, pos[i].y + (disp[i].y / d) * Math.min(d, temp)));
      }
    }
    const xs = pos.map((p) => p.x), ys = pos.map((p) => p.y);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const fit = (v, lo, hi, a, b) => (hi > lo ? a + ((v - lo) / (hi - lo)) * (b - a) : (a + b) / 2);
    return new Map(nodes.map((x, i) => [x.id, { x: fit(pos[i].x, x0, x1, 24, W - 130), y: fit(pos[i].y, y0, y1, 18, H - 18) }]));
  }

  async function load() {
    if (!$('graph')) return;
    const kinds = KINDS.filter((k) => SHOWN.has(k));
    const res = await api('/v1/graph/subgraph?' + new URLSearchParams({ kinds: kinds.join(','), limit: 400 }));
    if (!res.ok) { $('graph').replaceChildren(el('p', { class: 'muted' }, problemText(res))); return; }
    state.data = res.body;
    state.layout = layout(res.body.nodes, res.body.edges, 960, 640);
    render();
  }

  function render() {
    const d = state.data;
    if (!d) return;
    $('graph-kinds').replaceChildren(...KINDS.map((k) => {
      const box = el('input', { type: 'checkbox', id: 'gk-' + k, value: k });
      box.checked = SHOWN.has(k);
      box.addEventListener('change', () => {
        if (box.checked) SHOWN.add(k); else SHOWN.delete(k);
        state.selected = null;
        $('graph-details').replaceChildren();
        load();
      });
      const sw = el('span', { class: 'swatch', 'data-color': COLORS[k] });
      return el('label', { for: 'gk-' + k, class: 'check' }, box, sw, t('kind.' + k));
    }));
    const near = new Set();
    if (state.selected) {
      near.add(state.selected);
      for (const e of d.edges) {
        if (e.from === state.selected) near.add(e.to);
        if (e.to === state.selected) near.add(e.from);
      }
    }
    const dim = (ids) => state.selected && !ids.every((id) => near.has(id));
    const chart = svg('svg', { viewBox: '0 0 960 640', role: 'img', 'data-chart': 'graph', 'aria-labelledby': 'graph-svg-title graph-svg-desc' },
      svg('title', { id: 'graph-svg-title' }, t('graph.title')),
      svg('desc', { id: 'graph-svg-desc' }, t('graph.desc', { nodes: d.nodes.length, edges: d.edges.length })));
    for (const e of d.edges) {
      const a = state.layout.get(e.from), b = state.layout.get(e.to);
      if (!a || !b) continue;
      chart.append(svg('line', { x1: a.x.toFixed(1), y1: a.y.toFixed(1), x2: b.x.toFixed(1), y2: b.y.toFixed(1),
        class: 'edge' + (e.origin === 'live' ? ' live' : '') + (dim([e.from, e.to]) ? ' dim' : ''), 'data-edge': e.kind }));
    }
    for (const n of d.nodes) {
      const p = state.layout.get(n.id);
      const r = n.kind === 'faq' ? 4 : 7;
      const g = svg('g', { class: 'node' + (dim([n.id]) ? ' dim' : '') + (n.id === state.selected ? ' selected' : ''), 'data-node': n.id },
        svg('circle', { cx: p.x.toFixed(1), cy: p.y.toFixed(1), r, 'data-color': COLORS[n.kind] }),
        svg('title', null, `${t('kind.' + n.kind)}: ${i18n.pick(n.label, n.id)}`));
      if (LABELLED.has(n.kind) || near.has(n.id)) {
        let label = i18n.pick(n.label, n.id);
        if (label.length > 18) label = label.slice(0, 17) + '…';
        g.append(svg('text', { x: (p.x + r + 3).toFixed(1), y: (p.y + 4).toFixed(1) }, label));
      }
      g.addEventListener('click', () => select(n.id));
      chart.append(g);
    }
    $('graph').replaceChildren(chart);
    $('graph').querySelectorAll('[data-color]').forEach((x) => { x.style.fill = x.dataset.color; });
    $('graph-kinds').querySelectorAll('[data-color]').forEach((x) => { x.style.background = x.dataset.color; });
    const pick = $('graph-pick');
    pick.replaceChildren(el('option', { value: '' }, t('graph.none')),
      ...d.nodes.slice().sort((a, b) => a.id.localeCompare(b.id))
        .map((n) => el('option', { value: n.id }, `${t('kind.' + n.kind)} · ${i18n.pick(n.label, n.id)}`)));
    pick.value = state.selected || '';
  }

  async function select(id) {
    state.selected = id || null;
    render();
    const box = $('graph-details');
    if (!id) { box.replaceChildren(); return; }
    const res = await api('/v1/graph/nodes/' + encodeURIComponent(id) + '?limit=30');
    if (!res.ok) { box.replaceChildren(el('p', { class: 'muted' }, problemText(res))); return; }
    const v = res.body;
    box.replaceChildren(
      el('h3', null, t('graph.neighbours', { node: i18n.pick(v.node.label, v.node.id) })),
      el('ul', { class: 'related' }, ...v.neighbours.map((n) => el('li', { 'data-edge': n.edge, 'data-origin': n.origin, 'data-node': n.node.id },
        el('span', { class: 'muted small' }, t('graph.edge', { edge: t('edge.' + n.edge), weight: n.count ? t('edge.count', { n: n.count }) : Math.round(n.weight * 100) + '%' })), ' ',
        i18n.pick(n.node.label, n.node.id)))));
  }

  document.addEventListener('DOMContentLoaded', () => {
    const pick = $('graph-pick');
    if (pick) pick.addEventListener('change', () => select(pick.value));
    i18n.onChange(() => { render(); if (state.selected) select(state.selected); });
  });

  window.TandemGraph = { load };
})();
