// FAQ drafts in the agent console: each is a customer question the bot could not answer and
// an agent's reply to it (GET /v1/knowledge/drafts). Edit the answer, then accept it as a new
// FAQ entry, merge the question into an existing entry as a paraphrase, or reject it
// (PATCH /v1/knowledge/drafts/{id}); accepted drafts reach kb/ through
// `kb-loader apply-drafts` (docs/graph.md, "Drafts").
'use strict';

(function () {
  const { i18n, api, problemText, el } = window.Tandem;
  const t = (k, v) => i18n.t(k, v);
  const $ = (id) => document.getElementById(id);

  i18n.add({
    en: {
      'drafts.title': 'FAQ drafts from agents\u2019 answers',
      'drafts.help': 'Questions the bot could not answer, with the reply an agent gave. Accept one as a new FAQ entry, add the question to an entry as a paraphrase, or reject it.',
      'drafts.none': 'No drafts to review.', 'drafts.question': 'Customer asked', 'drafts.answer': 'Answer',
      'drafts.newId': 'New entry id', 'drafts.intent': 'Intent (optional)', 'drafts.noIntent': '(none)',
      'drafts.mergeInto': 'Or add the question to', 'drafts.accept': 'Accept as new entry',
      'drafts.merge': 'Add as paraphrase', 'drafts.reject': 'Reject',
      'drafts.accepted': 'Draft accepted as FAQ entry {id}.', 'drafts.merged': 'Question added to {id}.',
      'drafts.rejected': 'Draft rejected.', 'drafts.from': 'from ticket {id}',
    },
    zh: {
      'drafts.title': '由坐席回复生成的 FAQ 草稿',
      'drafts.help': '机器人答不上、由坐席回答的问题。可采纳为新的 FAQ 条目、把问题并入已有条目作为同义问法，或驳回。',
      'drafts.none': '没有待审核的草稿。', 'drafts.question': '客户提问', 'drafts.answer': '答案',
      'drafts.newId': '新条目 ID', 'drafts.intent': '意图（可选）', 'drafts.noIntent': '（无）',
      'drafts.mergeInto': '或并入条目', 'drafts.accept': '采纳为新条目',
      'drafts.merge': '作为同义问法并入', 'drafts.reject': '驳回',
      'drafts.accepted': '草稿已采纳为 FAQ 条目 {id}。', 'drafts.merged': '问题已并入 {id}。',
      'drafts.rejected': '草稿已驳回。', 'drafts.from': '来自工单 {id}',
    },
  });

  const state = { entries: null, intents: {} };

  async function choices() {
    if (state.entries) return;
    const [faq, kb] = await Promise.all([api('/v1/graph/subgraph?kinds=faq&limit=5000'), api('/kb.json', { auth: false })]);
    // Kept only when both arrived: a failed fetch is tried again on the next load.
    if (!faq.ok || !kb.ok) return;
    state.entries = faq.body.nodes;
    state.intents = kb.body.intents;
  }

  async function load() {
    const list = $('drafts');
    if (!list) return;
    await choices();
    if (!state.entries) return;
    const res = await api('/v1/knowledge/drafts?status=draft');
    if (!res.ok) { list.replaceChildren(el('li', { class: 'muted' }, problemText(res))); return; }
    const items = res.body.items;
    list.replaceChildren(...(items.length ? items.map(render) : [el('li', { class: 'muted' }, t('drafts.none'))]));
  }

  function field(id, label, control) {
    return el('div', { class: 'field' }, el('label', { for: id }, t(label)), control);
  }

  function render(d) {
    const key = d.id;
    const answer = el('textarea', { id: 'da-' + key, rows: '3' });
    answer.value = d.answer;
    const newId = el('input', { id: 'dn-' + key, pattern: '[a-z0-9_]{1,64}', autocomplete: 'off', placeholder: 'pet_food' });
    const intent = el('select', { id: 'di-' + key },
      el('option', { value: '' }, t('drafts.noIntent')),
      ...Object.entries(state.intents).map(([id, v]) => el('option', { value: id }, i18n.pick(v.name, id))));
    const target = el('select', { id: 'dm-' + key },
      ...state.entries.map((n) => el('option', { value: n.id.replace(/^faq:/, '') }, i18n.pick(n.label, n.id))));
    const msg = el('p', { class: 'notice', role: 'status' });
    const send = async (body, done) => {
      const me = document.getElementById('me');
      const res = await api('/v1/knowledge/drafts/' + encodeURIComponent(d.id), {
        method: 'PATCH', body: Object.assign({ version: d.version }, me && me.value ? { reviewed_by: me.value } : {}, body),
      });
      if (res.status === 409) { await load(); return; } // a later reply changed it: show the new one
      if (!res.ok) { msg.className = 'notice error'; msg.textContent = problemText(res); return; }
      $('drafts-status').textContent = done(res.body);
      await load();
    };
    const edited = () => (answer.value.trim() !== d.answer ? { answer: answer.value.trim() } : {});
    return el('li', { 'data-draft': d.id, 'data-status': d.status },
      el('div', { class: 'q' }, t('drafts.question'), ': ', el('q', null, d.question),
        ' ', el('span', { class: 'muted small' }, t('drafts.from', { id: d.ticket_id }))),
      field('da-' + key, 'drafts.answer', answer),
      el('div', { class: 'field-row' },
        field('dn-' + key, 'drafts.newId', newId), field('di-' + key, 'drafts.intent', intent),
        el('button', { type: 'button', class: 'btn btn-small btn-primary', 'data-action': 'accept', onclick: () => {
          if (!newId.value.trim() || !newId.checkValidity()) { newId.focus(); return; }
          send(Object.assign({ status: 'accepted', faq_id: newId.value.trim() }, intent.value ? { intent: intent.value } : {}, edited()),
            (b) => t('drafts.accepted', { id: b.faq_id }));
        } }, t('drafts.accept'))),
      el('div', { class: 'field-row' },
        field('dm-' + key, 'drafts.mergeInto', target),
        el('button', { type: 'button', class: 'btn btn-small', 'data-action': 'merge', onclick: () =>
          send({ status: 'merged', faq_id: target.value }, (b) => t('drafts.merged', { id: b.faq_id })) }, t('drafts.merge')),
        el('button', { type: 'button', class: 'btn btn-small btn-ghost', 'data-action': 'reject', onclick: () =>
          send({ status: 'rejected' }, () => t('drafts.rejected')) }, t('drafts.reject'))),
      msg);
  }

  // A language switch redraws the list (once it has been loaded: the token is needed).
  i18n.onChange(() => { if (state.entries) load(); });

  window.TandemDrafts = { load };
})();
