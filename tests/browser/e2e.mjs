// Tandem's pages in a real browser (Debian's chromium, headless, driven by playwright-core)
// against the real app (`tandem up` on loopback, started by run.sh with a fresh data dir):
//
//   a customer asks the widget a question and gets the FAQ answer; asks for a person and gets
//   a ticket; an agent signs in, sees the ticket in the console with the bot's intent and
//   confidence and FAQ suggestions, takes it, replies, corrects the intent and resolves it;
//   the customer rates the conversation (and a second, bot-only one); the dashboard's numbers
//   change accordingly. Plus: language switch (remembered), token in session storage only,
//   no horizontal scrolling on a phone, no console errors (CSP violations included). Last, the
//   one-tag embed on a page of another origin: the widget answers and takes a rating there
//   (CORS on the customer routes), while the agent routes stay unreadable from that page.
//
// Environment: TANDEM_URL, TANDEM_AGENT_TOKEN, TANDEM_ARTIFACTS (screenshots go there).
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const BASE = process.env.TANDEM_URL;
const TOKEN = process.env.TANDEM_AGENT_TOKEN;
const OUT = process.env.TANDEM_ARTIFACTS || 'browser-artifacts';
assert.ok(BASE && TOKEN, 'TANDEM_URL and TANDEM_AGENT_TOKEN must be set (run.sh sets them)');
mkdirSync(OUT, { recursive: true });

const AGENT_ID = 'e2e-alice';
const started = Date.now();
const consoleErrors = [];
const pages = new Map();

function log(msg) {
  console.log(`[browser ${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
}

// Polls `check` (which throws while its condition does not hold) until it passes.
async function eventually(check, what, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what}: still failing after ${timeoutMs} ms: ${last && last.message}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function waitForApp() {
  const deadline = Date.now() + 300000;
  for (;;) {
    try {
      const [h, w] = await Promise.all([fetch(BASE + '/v1/health'), fetch(BASE + '/')]);
      if (h.ok && w.ok) return;
    } catch (_) { /* not up yet */ }
    if (Date.now() > deadline) throw new Error(`the app did not come up at ${BASE}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function watch(page, name) {
  pages.set(name, page);
  page.setDefaultTimeout(15000);
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // The wrong-token step provokes a 403 on purpose; nothing else may fail.
    if (/status of 403/.test(m.text()) && name === 'agent') return;
    consoleErrors.push(`${name}: ${m.text()}`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`${name}: ${e.message}`));
  return page;
}

async function shot(page, file, fullPage = false) {
  await page.screenshot({ path: join(OUT, file), fullPage });
  log(`screenshot ${join(OUT, file)}`);
}

async function kpi(page, key) {
  return (await page.locator(`[data-value="${key}"]`).textContent()).trim();
}

async function signIn(page, path) {
  await page.goto(BASE + path);
  await page.locator('#token').waitFor();
  await page.fill('#token', TOKEN);
  await page.press('#token', 'Enter');
  await page.locator('#app').waitFor({ state: 'visible' });
}

async function lastBot(page) {
  return page.locator('.msg.bot').last();
}

async function ask(page, text) {
  const before = await page.locator('.msg.bot').count();
  await page.fill('#tw-input', text);
  await page.press('#tw-input', 'Enter');
  await eventually(async () => assert.ok((await page.locator('.msg.bot, .msg.system').count()) > before), `a reply to ${text}`, 30000);
  const system = page.locator('.msg.system');
  if (await system.count()) {
    const s = await system.last().textContent();
    assert.ok(!/could not|失败|无法/.test(s), `the widget reports a failure: ${s}`);
  }
  return lastBot(page);
}

async function noHorizontalScroll(page, what) {
  const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
  assert.ok(scroll <= width + 1, `${what}: the page scrolls sideways on a phone (${scroll} > ${width})`);
}

// Two weeks of history, posted through the real POST /v1/feedback before the browser opens the
// dashboard, so its charts have days to draw. Deterministic (a fixed LCG), and folded here the
// way the README defines the metrics, so the figures the dashboard shows can be checked exactly.
function history() {
  let x = 20261126;
  const rnd = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
  const intents = ['order_status', 'refund_status', 'delivery_delay', 'return_request', 'payment_failed', 'coupon_usage'];
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  const events = [];
  const conversations = [];
  for (let day = 13; day >= 1; day--) {
    const n = 6 + Math.floor(rnd() * 7);
    for (let i = 0; i < n; i++) {
      const id = `seed-${day}-${i}`;
      const intent = intents[Math.floor(rnd() * intents.length)];
      const at = (minutes) => new Date(today - day * 86400000 + (8 * 60 + i * 37 + minutes) * 60000).toISOString();
      const c = { id, rating: null, outcome: null };
      if (rnd() < 0.85) {
        const human = rnd() < 0.35;
        c.outcome = { resolved: rnd() < (human ? 0.9 : 0.7), handled_by: human ? 'human' : 'bot', contact_count: rnd() < 0.8 ? 1 : 2 };
        events.push({ event_id: `${id}-o`, conversation_id: id, kind: 'outcome', ...c.outcome, intent_predicted: intent, channel: 'web', created_at: at(5) });
      }
      if (rnd() < 0.7 || !c.outcome) {
        const r = rnd();
        c.rating = r < 0.06 ? 1 : r < 0.14 ? 2 : r < 0.26 ? 3 : r < 0.55 ? 4 : 5;
        events.push({ event_id: `${id}-r`, conversation_id: id, kind: 'rating', rating: c.rating, intent_predicted: intent, channel: 'web', created_at: at(6) });
      }
      conversations.push(c);
    }
  }
  return { events, conversations };
}

// The counts of the README's metrics over folded conversations ({rating, outcome}).
function counts(conversations) {
  const k = { conversations: 0, with_outcome: 0, resolved: 0, first: 0, self: 0, handed: 0, rated: 0, satisfied: 0, sum: 0 };
  for (const c of conversations) {
    k.conversations++;
    const o = c.outcome;
    if (o) {
      k.with_outcome++;
      if (o.resolved) { k.resolved++; if (o.contact_count === 1) k.first++; if (o.handled_by === 'bot') k.self++; }
      if (o.handled_by !== 'bot') k.handed++;
    }
    if (c.rating !== null) { k.rated++; k.sum += c.rating; if (c.rating >= 4) k.satisfied++; }
  }
  return k;
}

// What the dashboard's tiles must say for those counts (rates rounded to 4 decimals, as served).
function tiles(k) {
  const r4 = (a, b) => Math.round((a / b) * 10000) / 10000;
  const pct = (a, b) => (b ? (r4(a, b) * 100).toFixed(0) + '%' : '—');
  return {
    conversations: String(k.conversations),
    csat: k.rated ? (Math.round((100 * k.satisfied / k.rated) * 10000) / 10000).toFixed(0) + '%' : '—',
    fcr: pct(k.first, k.resolved),
    self: pct(k.self, k.conversations),
    handoff: pct(k.handed, k.conversations),
    rating: k.rated ? r4(k.sum, k.rated).toFixed(2) : '—',
    sub: {
      csat: `${k.satisfied} of ${k.rated} rated 4–5`,
      fcr: `${k.first} of ${k.resolved} resolved at first contact`,
      self_service_rate: `${k.self} of ${k.conversations} resolved by the bot`,
      handoff_rate: `${k.handed} of ${k.conversations} handed to a person`,
    },
  };
}

// POST as a page of the app's own would, returning the JSON answer.
async function postJson(path, body) {
  const res = await fetch(BASE + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function post(path, body) {
  const res = await fetch(BASE + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
}

async function readTiles(page) {
  const sub = async (key) => (await page.locator(`[data-metric="${key}"] .sub`).textContent()).trim();
  return {
    conversations: await kpi(page, 'conversations'),
    csat: await kpi(page, 'csat'),
    fcr: await kpi(page, 'fcr'),
    self: await kpi(page, 'self_service_rate'),
    handoff: await kpi(page, 'handoff_rate'),
    rating: await kpi(page, 'average_rating'),
    sub: {
      csat: await sub('csat'), fcr: await sub('fcr'),
      self_service_rate: await sub('self_service_rate'), handoff_rate: await sub('handoff_rate'),
    },
  };
}

// A shop of someone else's on another origin (another port of loopback) whose page embeds the
// widget exactly as the README says: one <script> tag pointing at the app.
async function foreignSite() {
  const page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Another shop</title>
<script src="${BASE}/widget.js" defer></script></head><body><h1>Another shop</h1></body></html>`;
  const server = createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => server.close() };
}

async function main() {
  await waitForApp();
  log(`app is up at ${BASE}`);
  const seeded = history();
  for (let i = 0; i < seeded.events.length; i += 8) {
    await Promise.all(seeded.events.slice(i, i + 8).map((e) => post('/v1/feedback', e)));
  }
  log(`history: ${seeded.conversations.length} conversations, ${seeded.events.length} events posted`);
  // Questions the sample KB does not answer (the bot's fallback, no ticket, no feedback): the
  // dashboard's gap list must group them, Chinese and English together.
  const GAP_QUESTIONS = ['do you sell dog food', '宠物狗粮有卖吗', '有没有猫粮卖'];
  for (const message of GAP_QUESTIONS) await post('/v1/assist', { message });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // Root (CI containers) cannot use chromium's user-namespace sandbox.
    args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
  });
  try {
    const staff = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'en-GB' });
    const customer = await browser.newContext({ viewport: { width: 1280, height: 820 }, locale: 'en-GB' });

    // ---- the agent signs in (a wrong token first) and registers --------------------------
    const agent = watch(await staff.newPage(), 'agent');
    await agent.goto(BASE + '/agent');
    await agent.fill('#token', 'not-the-token');
    await agent.press('#token', 'Enter');
    await eventually(async () => assert.match(await agent.locator('#signin-msg').textContent(), /not the agent token/), 'wrong token refused');
    assert.ok(await agent.locator('#app').isHidden(), 'the console must stay hidden without the token');
    await agent.fill('#token', TOKEN);
    await agent.press('#token', 'Enter');
    await agent.locator('#app').waitFor({ state: 'visible' });
    const stored = await agent.evaluate(() => ({ session: sessionStorage.getItem('tandem.agent_token'), local: JSON.stringify(localStorage) }));
    assert.equal(stored.session, TOKEN, 'the token is kept in session storage');
    assert.ok(!stored.local.includes(TOKEN), 'the token must never reach local storage');

    await agent.locator('#agent-editor summary').click();
    await agent.fill('#agent-id', AGENT_ID);
    await agent.fill('#agent-name', 'Alice 李');
    const queues = agent.locator('#agent-queues input[type=checkbox]');
    assert.ok((await queues.count()) >= 3, 'the queues of the knowledge base are offered');
    for (const box of await queues.all()) await box.check();
    await agent.click('#agent-form button[type=submit]');
    await eventually(async () => assert.match(await agent.locator('#status').textContent(), /saved/), 'agent saved');
    assert.equal(await agent.locator('#me').inputValue(), AGENT_ID);
    log('agent signed in and registered');

    // ---- the customer: an FAQ answer, then a person -------------------------------------
    const chat = watch(await customer.newPage(), 'chat');
    await chat.goto(BASE + '/');
    await chat.locator('#tw-input').waitFor({ state: 'visible' });
    assert.equal(await chat.locator('[role=log]').getAttribute('aria-live'), 'polite');
    let bot = await ask(chat, '退款多久到账？');
    assert.equal(await bot.getAttribute('data-source'), 'faq', 'the refund-time question is answered from the FAQ');
    const answer = await bot.textContent();
    assert.match(answer, /48 ?小时|工作日/, `the FAQ answer about refund times: ${answer}`);
    log('FAQ answer shown');

    const handoffAnswer = chat.waitForResponse((r) => new URL(r.url()).pathname === '/v1/assist' && r.request().method() === 'POST');
    await chat.locator('button[data-action=human]').click();
    const handoffBody = await (await handoffAnswer).json();
    await eventually(async () => assert.equal(await chat.locator('.ticket[data-ticket-id]').count(), 1), 'a ticket after asking for a person', 30000);
    const ticketId = await chat.locator('.ticket[data-ticket-id]').getAttribute('data-ticket-id');
    assert.match(ticketId, /^tk_[0-9a-z]{16}$/);
    bot = await lastBot(chat);
    assert.equal(await bot.getAttribute('data-source'), 'handoff');
    // The app runs with its default `business_hours = calendar`: whatever the queue's calendar
    // said at this hour, the widget shows it — when closed, when a person is back.
    const hours = handoffBody.handoff.business_hours;
    assert.equal(hours.source, 'calendar', JSON.stringify(handoffBody.handoff));
    const backAt = bot.locator('.back-at');
    if (hours.open) {
      assert.equal(handoffBody.handoff.decision, 'human');
      assert.equal(await backAt.count(), 0, 'no "back at" while the desk is open');
    } else {
      assert.equal(handoffBody.handoff.decision, 'ticket');
      assert.equal(await backAt.getAttribute('data-next-open'), hours.next_open);
      const said = await backAt.textContent();
      assert.match(said, /^(A person will be back: .+ \(your time\)|人工客服将于 .+（您的当地时间）上班)$/, said);
      const reply = await bot.locator('.text').textContent();
      assert.match(reply, /is back at \d{4}-\d\d-\d\d \d\d:\d\d \(UTC[+-]\d\d:\d\d\)|人工客服将于 .+ 上班/, reply);
    }
    log(`handed off: ${ticketId} (desk ${hours.open ? 'open' : `closed until ${hours.next_open}`})`);
    await shot(chat, 'chat.png');

    // ---- the dashboard before the ratings ------------------------------------------------
    const dash = watch(await staff.newPage(), 'dashboard');
    await signIn(dash, '/dashboard');
    await dash.locator('[data-value=conversations]').waitFor();
    const before = await readTiles(dash);
    log(`dashboard before: ${JSON.stringify(before)}`);
    // The history plus the handed-off conversation, not yet resolved nor rated.
    const live1 = { rating: null, outcome: { resolved: false, handled_by: 'human', contact_count: null } };
    assert.deepEqual(before, tiles(counts([...seeded.conversations, live1])), 'the dashboard before the ratings');

    // ---- the agent works the ticket ------------------------------------------------------
    // (A background tab's animation frames are throttled, which slows every action: switch.)
    await agent.bringToFront();
    await agent.click('#refresh');
    const item = agent.locator(`.ticket-item[data-ticket-id="${ticketId}"]`);
    await eventually(async () => {
      if (!(await item.count())) { await agent.click('#refresh'); throw new Error('not listed yet'); }
    }, 'the ticket in the agent console');
    await item.click();
    await eventually(async () => assert.equal(await agent.locator('[data-field=id]').textContent(), ticketId), 'ticket opened');
    const category = await agent.locator('[data-field=category]').getAttribute('data-value');
    assert.ok(category, 'the bot\'s intent is shown');
    assert.match(await agent.locator('[data-field=confidence]').textContent(), /\d+%/, 'with its confidence');
    assert.match(await agent.locator('#transcript').textContent(), /退款多久到账/, 'the conversation is shown');
    await eventually(async () => assert.ok((await agent.locator('#suggestions li[data-kind]').count()) >= 1), 'FAQ suggestions (agent mode)');
    // The intent's neighbours in the knowledge graph, its queue among them.
    await eventually(async () => assert.ok((await agent.locator('#related li[data-edge=routes_to]').count()) >= 1), 'related knowledge');

    await agent.click('#take');
    await eventually(async () => assert.equal(await agent.locator('[data-field=status]').getAttribute('data-value'), 'open'), 'taken: open');
    assert.equal(await agent.locator('[data-field=assignee]').textContent(), AGENT_ID);

    await agent.locator('#suggestions li[data-kind] button').first().click();
    const replyText = await agent.locator('#reply').inputValue();
    assert.ok(replyText.length > 10, 'a suggestion fills the reply');
    await agent.click('#send-reply');
    await eventually(async () => assert.equal(await agent.locator('#transcript li.note').count(), 1), 'the reply in the conversation');

    const corrected = category === 'refund_status' ? 'refund_request' : 'refund_status';
    await agent.selectOption('#correct-intent', corrected);
    await agent.click('#correct');
    await eventually(async () => assert.equal(await agent.locator('[data-field=category]').getAttribute('data-value'), corrected), 'intent corrected');
    assert.match(await agent.locator('#status').textContent(), /Correction saved/);

    await agent.click('#resolve');
    await eventually(async () => assert.equal(await agent.locator('[data-field=status]').getAttribute('data-value'), 'resolved'), 'resolved');
    await eventually(async () => assert.match(await item.textContent(), /resolved/), 'resolved in the list');
    log('ticket taken, answered, corrected, resolved');
    await shot(agent, 'agent.png', true);

    // The CRM knows this customer (PUT /v1/customers/{id}, agent token): the console shows it.
    const crm = await fetch(BASE + '/v1/customers/c-related', {
      method: 'PUT', headers: { 'content-type': 'application/json', authorization: 'Bearer ' + TOKEN },
      body: JSON.stringify({ name: '李雷 Li Lei', tier: 'vip', language: 'zh', source: 'crm-e2e',
        recent_orders: [{ id: 'TD2026120612345', status: 'shipped', total: 199, currency: 'CNY' }] }),
    });
    assert.ok(crm.ok, `PUT /v1/customers/c-related: ${crm.status} ${await crm.text()}`);
    // A new ticket of the same intent: its related knowledge lists the one just resolved.
    const sameKind = await postJson('/v1/tickets', { customer: { id: 'c-related' }, category: corrected,
      transcript: [{ role: 'customer', text: '我的退款呢 where is my refund' }] });
    await agent.click('#refresh');
    const sameItem = agent.locator(`.ticket-item[data-ticket-id="${sameKind.ticket.id}"]`);
    await eventually(async () => {
      if (!(await sameItem.count())) { await agent.click('#refresh'); throw new Error('not listed yet'); }
    }, 'the same-intent ticket in the console');
    await sameItem.click();
    await eventually(async () => assert.equal(await agent.locator(`#related li[data-resolved-ticket="${ticketId}"]`).count(), 1), 'the resolved ticket of the same intent');
    await eventually(async () => assert.match(await agent.locator('#customer [data-field=customer-name]').textContent(), /李雷 Li Lei/), 'the CRM record beside the ticket');
    assert.equal(await agent.locator('#customer [data-field=customer-tier]').textContent(), 'vip');
    assert.equal(await agent.locator('#customer [data-order="TD2026120612345"]').count(), 1, 'the recent order');
    log('CRM record shown in the console');

    // ---- the customer rates; then a second, bot-only conversation ------------------------
    await chat.bringToFront();
    await chat.locator('button[data-action=rate]').click();
    assert.ok(await chat.locator('fieldset.resolved').isHidden(), 'a handed-off conversation\'s resolution is the agent\'s to record');
    await chat.locator('label[for=tw-star-5]').click();
    await chat.fill('#tw-comment', '很快 thanks');
    await chat.locator('form.rate button[type=submit]').click();
    await eventually(async () => assert.match(await chat.locator('.msg.system').last().textContent(), /5\/5/), 'rating acknowledged');

    await chat.locator('button[data-action=new]').click();
    assert.equal(await chat.locator('.msg.customer').count(), 0, 'a new conversation starts empty');
    bot = await ask(chat, 'how long does a refund take to arrive');
    assert.equal(await bot.getAttribute('data-source'), 'faq');
    await chat.locator('button[data-action=rate]').click();
    assert.ok(await chat.locator('fieldset.resolved').isVisible(), 'the customer says whether the bot solved it');
    // Keyboard only: focus the stars, arrow to 4, submit with Enter.
    await chat.locator('#tw-star-5').focus();
    await chat.keyboard.press('ArrowLeft');
    assert.ok(await chat.locator('#tw-star-4').isChecked(), 'arrow keys move the rating');
    await chat.locator('form.rate button[type=submit]').focus();
    await chat.keyboard.press('Enter');
    await eventually(async () => assert.match(await chat.locator('.msg.system').last().textContent(), /4\/5/), 'second rating acknowledged');
    log('both conversations rated');

    // ---- the dashboard after --------------------------------------------------------------
    // A webhook subscription (agent token), to see on the dashboard's webhooks card.
    const sub = await fetch(BASE + '/v1/webhooks', {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer ' + TOKEN },
      body: JSON.stringify({ url: 'https://hooks.example.com/tandem', events: ['ticket.created', 'conversation.resolved'] }),
    });
    assert.equal(sub.status, 201, `POST /v1/webhooks: ${sub.status}`);
    const subId = (await sub.json()).id;
    await dash.bringToFront();
    await dash.click('#refresh');
    // The agent resolved the first (first contact, rated 5); the bot alone the second (rated 4).
    const afterCounts = counts([...seeded.conversations,
      { rating: 5, outcome: { resolved: true, handled_by: 'human', contact_count: 1 } },
      { rating: 4, outcome: { resolved: true, handled_by: 'bot', contact_count: 1 } }]);
    const expected = tiles(afterCounts);
    await eventually(async () => assert.equal(await kpi(dash, 'conversations'), expected.conversations), 'the second conversation counted');
    const after = await readTiles(dash);
    log(`dashboard after: ${JSON.stringify(after)}`);
    assert.deepEqual(after, expected, 'the dashboard after the ratings');
    assert.notEqual(after.sub.csat, before.sub.csat, 'the ratings moved CSAT');
    assert.notEqual(after.sub.self_service_rate, before.sub.self_service_rate, 'the bot-only conversation moved self-service');
    // SLA per queue and agent: the tickets of this run (the handoff, the CRM customer's), the
    // first one resolved by the agent within its due time.
    await eventually(async () => assert.equal(await dash.locator('#sla tr[data-sla-queue=""]').count(), 1), 'the SLA card');
    const slaAll = await dash.locator('#sla tr[data-sla-queue=""] td').allTextContents();
    assert.ok(Number(slaAll[0]) >= 2, `tickets in the SLA card: ${slaAll}`);
    assert.equal(slaAll[1], '100%', `SLA met: ${slaAll}`);
    assert.equal(await dash.locator(`#sla tr[data-sla-agent="${AGENT_ID}"]`).count(), 1, 'the agent\'s SLA row');
    await eventually(async () => assert.equal(await dash.locator(`#hooks tr[data-subscription="${subId}"]`).count(), 1), 'the subscription on the webhooks card');
    assert.match(await dash.locator('#hooks [data-field=delivery-counts]').textContent(), /\d/);
    log('SLA and webhooks cards shown');
    assert.ok((await dash.locator('svg[data-chart=trend] circle').count()) >= 40, 'points for 14 days');
    assert.ok((await dash.locator('svg[data-chart=trend] path[data-series]').count()) === 4, 'a line per rate');
    assert.ok((await dash.locator('svg[data-chart=intent] rect').count()) >= 6, 'a bar per intent');
    await eventually(async () => assert.match(await dash.locator('#corrections').textContent(), /→/), 'the correction is listed');
    // Drill-down: the handoff tile lists exactly the conversations it counts; CSV has them all.
    await dash.click('[data-drill=handoff_rate]');
    await eventually(async () => assert.ok(await dash.locator('#drill').isVisible()), 'the drill-down panel');
    await eventually(async () => assert.match(await dash.locator('#drill-count').textContent(), new RegExp(`^${afterCounts.handed} conversations`)), 'its count');
    assert.equal(await dash.locator('#drill-table tbody tr').count(), Math.min(50, afterCounts.handed), 'a row per conversation (the newest 50)');
    const [csvFile] = await Promise.all([dash.waitForEvent('download'), dash.click('#drill-csv')]);
    const csvText = readFileSync(await csvFile.path(), 'utf8');
    assert.equal(csvText.trim().split('\r\n').length, afterCounts.handed + 1, 'the CSV: a header and a row per conversation');
    assert.match(csvText, /^conversation_id,started_at,channel,intent,resolved,handled_by,agent_id,contact_count,rating/);
    // A per-intent bar: that intent's conversations only.
    const firstBar = dash.locator('svg[data-chart=intent] rect[data-intent]').first();
    const barIntent = await firstBar.getAttribute('data-intent');
    await firstBar.click();
    await eventually(async () => assert.match(await dash.locator('#drill-title').textContent(), / · /), 'the intent drill-down');
    const intentCells = await dash.locator('#drill-table tbody tr td:nth-of-type(3)').allTextContents();
    assert.ok(intentCells.length > 0 && new Set(intentCells).size === 1, `one intent (${barIntent}): ${intentCells}`);

    // The knowledge graph: intents, FAQ entries and queues at first (100+ nodes), a node's
    // neighbours by the keyboard's way (the list), another kind switched on.
    await eventually(async () => assert.ok((await dash.locator('svg[data-chart=graph] g[data-node]').count()) >= 100), 'the graph drawn');
    await dash.check('#gk-calendar');
    await eventually(async () => assert.equal(await dash.locator('svg[data-chart=graph] g[data-node="calendar:office"]').count(), 1), 'calendars shown');
    await dash.selectOption('#graph-pick', 'intent:order_status');
    await eventually(async () => assert.equal(await dash.locator('#graph-details li[data-node="queue:orders"]').count(), 1), 'a node\'s neighbours');
    assert.ok((await dash.locator('svg[data-chart=graph] g.node.dim').count()) > 50, 'the rest dimmed');
    assert.match(await dash.locator('#graph-details').textContent(), /Routed to/, 'edges named');

    // The unanswered questions, one cluster of both languages, first in the list.
    const gap = dash.locator('#gaps tbody tr[data-gap]').first();
    await eventually(async () => assert.equal(await gap.locator('td').first().textContent(), String(GAP_QUESTIONS.length)), 'the gap cluster');
    const shown = await gap.locator('.examples li').allTextContents();
    assert.ok(shown.some((q) => /dog food/.test(q)) && shown.some((q) => /粮/.test(q)), `zh and en in one gap: ${shown}`);
    await shot(dash, 'dashboard.png', true);

    // ---- language switch, remembered --------------------------------------------------------
    await dash.click('#lang-switch');
    await eventually(async () => assert.equal((await dash.locator('h1[data-i18n="dash.heading"]').first().textContent()).trim(), '服务看板'), 'zh');
    assert.equal(await dash.evaluate(() => document.documentElement.lang), 'zh-CN');
    await dash.reload();
    await dash.locator('#app').waitFor({ state: 'visible' });
    await eventually(async () => assert.match(await dash.locator('[data-metric=csat] .label').textContent(), /满意度/), 'zh after a reload');
    assert.equal((await dash.locator('#gaps-title').textContent()).trim(), '机器人答不上的问题');
    assert.equal((await dash.locator('#graph-title').textContent()).trim(), '知识图谱');
    await eventually(async () => assert.match(await dash.locator('#graph-kinds').textContent(), /意图/), 'the graph legend in zh');
    await eventually(async () => assert.match(await dash.locator('#gaps thead').textContent(), /提问次数/), 'the gap list in zh');
    await shot(dash, 'dashboard-zh.png', true);
    await dash.click('#lang-switch');
    await eventually(async () => assert.match(await dash.locator('[data-metric=csat] .label').textContent(), /^CSAT/), 'back to en');

    // ---- an agent's answer becomes an FAQ draft, reviewed in the console -------------------
    const gapTurn = await postJson('/v1/assist', { message: 'do you have cat food for kittens' });
    assert.equal(gapTurn.reply.source, 'fallback', 'a question the KB does not answer');
    const handoff = await postJson('/v1/assist', { conversation_id: gapTurn.conversation_id, message: '转人工 I want a real person' });
    const catTicket = handoff.ticket.id;
    await agent.bringToFront();
    await agent.click('#refresh');
    const catItem = agent.locator(`.ticket-item[data-ticket-id="${catTicket}"]`);
    await eventually(async () => {
      if (!(await catItem.count())) { await agent.click('#refresh'); throw new Error('not listed yet'); }
    }, 'the cat-food ticket in the console');
    await catItem.click();
    await eventually(async () => assert.equal(await agent.locator('[data-field=id]').textContent(), catTicket), 'cat-food ticket opened');
    await agent.fill('#reply', 'Not yet: we sell clothing and electronics only. Pet food is planned for next spring.');
    await agent.click('#send-reply');
    const draft = agent.locator('#drafts li[data-draft]').first();
    await eventually(async () => assert.match(await draft.textContent(), /cat food for kittens/), 'the draft in the console');
    await draft.locator('input[id^=dn-]').fill('pet_food');
    await draft.locator('select[id^=di-]').selectOption('product_inquiry');
    await draft.screenshot({ path: join(OUT, 'drafts.png') });
    log(`screenshot ${join(OUT, 'drafts.png')}`);
    await draft.locator('button[data-action=accept]').click();
    await eventually(async () => assert.match(await agent.locator('#drafts-status').textContent(), /pet_food/), 'the draft accepted');
    const exported = await (await fetch(BASE + '/v1/knowledge/drafts/export', { headers: { authorization: 'Bearer ' + TOKEN } })).text();
    assert.match(exported, /"op":"add_entry".*"id":"pet_food"/, `the export: ${exported}`);
    await agent.click('#lang-switch');
    await eventually(async () => assert.match(await agent.locator('#drafts').textContent(), /没有待审核的草稿/), 'the drafts list in zh');
    assert.equal((await agent.locator('#drafts-title').textContent()).trim(), '由坐席回复生成的 FAQ 草稿');
    await agent.click('#lang-switch');
    log('an FAQ draft from an agent\'s answer accepted in the console and exported');

    // ---- keyboard and small screens ---------------------------------------------------------
    await agent.bringToFront();
    await agent.goto(BASE + '/agent');
    await agent.keyboard.press('Tab');
    assert.equal(await agent.evaluate(() => document.activeElement.className), 'skip-link', 'the first Tab stop skips to the content');
    const phone = watch(await staff.newPage(), 'phone');
    await phone.setViewportSize({ width: 390, height: 844 });
    for (const path of ['/', '/agent', '/dashboard']) {
      await phone.goto(BASE + path);
      await phone.waitForLoadState('networkidle');
      await noHorizontalScroll(phone, path);
    }
    log('language, keyboard and phone checks passed');

    // ---- embedded on another site ------------------------------------------------------------
    const site = await foreignSite();
    assert.notEqual(new URL(site.url).origin, new URL(BASE).origin);
    try {
      const shop = await customer.newPage();
      pages.set('embedded', shop);
      const errors = [];
      shop.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      shop.on('pageerror', (e) => errors.push(String(e)));
      await shop.goto(site.url);
      await shop.locator('button.launcher').click();
      await shop.locator('#tw-input').waitFor({ state: 'visible' });
      bot = await ask(shop, 'How long does a refund take? 退款多久到账');
      assert.equal(await bot.getAttribute('data-source'), 'faq', 'the widget answers on a page of another origin');
      await shop.locator('button[data-action=rate]').click();
      await shop.locator('label[for=tw-star-5]').click();
      await shop.locator('form.rate button[type=submit]').click();
      await eventually(async () => assert.match(await shop.locator('.msg.system').last().textContent(), /5\/5/), 'the rating from another origin acknowledged');
      assert.deepEqual(errors, [], 'no CORS or other errors for the customer routes on another origin');
      await shot(shop, 'embedded.png');
      // The agent routes send no CORS headers: that page cannot read them, even with the token.
      const read = await shop.evaluate(async ([base, token]) => {
        try {
          const r = await fetch(base + '/v1/feedback/stats', { headers: { authorization: 'Bearer ' + token } });
          return `read with status ${r.status}`;
        } catch (_) {
          return 'blocked';
        }
      }, [BASE, TOKEN]);
      assert.equal(read, 'blocked', 'an agent route must not be readable from another origin');
      log('the widget works embedded on another origin; the agent routes stay closed to it');
    } finally {
      site.close();
    }
  } catch (e) {
    for (const [name, page] of pages) {
      await page.screenshot({ path: join(OUT, `failure-${name}.png`), fullPage: true }).catch(() => {});
    }
    throw e;
  } finally {
    await browser.close();
  }
  assert.deepEqual(consoleErrors, [], 'no console errors (CSP violations included)');
}

main().then(
  () => log('all browser tests passed'),
  async (e) => {
    console.error(`[browser] FAILED: ${e.stack || e}`);
    writeFileSync(join(OUT, 'failure.txt'), `${e.stack || e}\n\nconsole errors:\n${consoleErrors.join('\n')}\n`);
    process.exit(1);
  },
);
