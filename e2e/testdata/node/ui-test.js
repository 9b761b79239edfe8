// Drives Debian's headless Chromium through every page of the obs UI with
// playwright-core. Env: OBS_URL, TRACE_ID, EXPECT_HITS, SERVICE, SHOTS (dir).
// Fails on any browser console error.
'use strict';
const { launch, openPage, stepper } = require('./browser');
const fs = require('fs');

const base = process.env.OBS_URL;
const shots = process.env.SHOTS || 'test-output';
fs.mkdirSync(shots, { recursive: true });
const errors = [];

async function main() {
  const browser = await launch();
  const page = await openPage(browser, errors);
  page.on('dialog', (d) => d.accept(d.type() === 'prompt' ? 'UI Test' : undefined));
  const { shot, step } = stepper(page, shots);

  await step('01-overview', async () => {
    await page.goto(base + '/');
    await page.waitForSelector(`a.tile:has-text("${process.env.SERVICE}")`);
  });
  await step('02-logs-search', async () => {
    await page.goto(base + '/#/logs');
    await page.selectOption('#range', '1h');
    await page.fill('#kql', 'app:"web-api" AND (severity:error OR severity:warn)');
    await page.click('#search');
    await page.waitForFunction((n) => document.querySelectorAll('#hits .hit').length === n, +process.env.EXPECT_HITS, { timeout: 10000 });
    const n = await page.locator('#hits .hit').count();
    if (n !== +process.env.EXPECT_HITS) throw new Error(`KQL search shows ${n} hits, want ${process.env.EXPECT_HITS}`);
    await page.waitForSelector('svg.histogram rect', { state: 'attached' });
    await page.waitForSelector('.sidebar .v');
    await page.locator('#hits .hit .hit-line').first().click(); // expand to the document
    await page.waitForSelector('#hits .hit-doc table.doc');
  });
  await step('02b-discover-paging-columns', async () => {
    const bulk = +process.env.BULK;
    await page.goto(base + '/#/logs?q=' + encodeURIComponent('app:"bulk"'));
    await page.selectOption('#range', '1h');
    await page.waitForFunction(() => document.querySelectorAll('#hits .hit').length === 100);
    const total = await page.textContent('#hit-total');
    if (!total.replace(/[,.\s\u202f]/g, '').startsWith(bulk + 'hits')) throw new Error(`hit total ${total}, want ${bulk}`);
    // Older events come as the list scrolls to its end (the search cursor).
    await page.locator('#hits-more').scrollIntoViewIfNeeded();
    await page.waitForFunction(() => document.querySelectorAll('#hits .hit').length === 200);
    const lines = await page.evaluate(() => [...document.querySelectorAll('#hits .hit')].map((r) => ({ text: r.textContent, trace: !!r.querySelector('a.trace-link[href="#/traces/0000000000000100"]'), h: r.getBoundingClientRect().height })));
    // No message: the stack's first line. fields.trace_id and X-B3-TraceId link the trace.
    const stack = lines.find((l) => /oh no/.test(l.text)), b3 = lines.find((l) => /slow query/.test(l.text));
    if (!stack || !/request-failure Error: oh no \d+/.test(stack.text) || /at handler/.test(stack.text)) throw new Error('stack event summary: ' + (stack && stack.text));
    if (!stack.trace || !b3.trace) throw new Error('fields.trace_id or X-B3-TraceId without a link to the trace');
    const tall = lines.filter((l) => l.h > 30).length;
    if (tall) throw new Error(`${tall} rows are more than one line`);
    // A sidebar field becomes a column, kept in the URL and in a saved search.
    await page.click('.sidebar .f:has(b:text-is("db.ms")) .col-toggle');
    await page.waitForSelector('.hit-head .c-col:has-text("db.ms")');
    if (!/cols=db\.ms/.test(page.url())) throw new Error('column not in the URL: ' + page.url());
    await page.click('text=Save search');
    const saved = await page.evaluate(() => JSON.parse(localStorage.getItem('obs.savedSearches')).pop());
    if (!saved.cols || saved.cols[0] !== 'db.ms') throw new Error('saved search without its columns: ' + JSON.stringify(saved));
    await page.click('.hit-head .col-remove');
    await page.waitForFunction(() => !document.querySelector('.hit-head .c-col'));
    // Opening the saved search brings its column back.
    await page.selectOption('#saved-searches', { label: 'UI Test' });
    await page.waitForSelector('.hit-head .c-col:has-text("db.ms")');
    await page.click('.hit-head .col-remove');
  });
  await step('03-logs-syntax-error', async () => {
    await page.fill('#kql', 'app:"web-api" AND (severity:error');
    await page.click('#search');
    await page.waitForFunction(() => /position \d+/.test(document.querySelector('#kql-error').textContent));
  });
  await step('04-dashboard-web-api', async () => {
    await page.goto(base + '/#/dashboards/web-api-overview');
    // Non-empty charts: a drawn series (line or dot) in each of the seed's panels.
    for (const id of ['codes', 'outbound-timing', 'outbound-count']) {
      await page.waitForSelector(`[data-panel="${id}"] path.series`, { state: 'attached', timeout: 15000 });
      const d = await page.getAttribute(`[data-panel="${id}"] path.series`, 'd');
      if (!d || !d.startsWith('M')) throw new Error(`panel ${id} has an empty chart`);
    }
  });
  await step('04b-dashboard-variable', async () => {
    // One dashboard, two services: $service lists both from /metrics/find.
    const opts = await page.$$eval('#var-service option', (os) => os.map((o) => o.value));
    if (!opts.includes('web-api') || !opts.includes('recipe-api')) throw new Error('$service options: ' + opts);
    await page.selectOption('#var-service', 'recipe-api');
    await page.waitForSelector('[data-panel="errors"] h3:has-text("recipe-api errors and warnings")');
    await page.waitForSelector('[data-panel="codes"] path.series', { state: 'attached' });
    const legend = await page.textContent('[data-panel="codes"] .legend');
    if (!/^200/.test(legend.trim())) throw new Error('recipe-api codes legend: ' + legend);
    if (!/var-service=recipe-api/.test(page.url())) throw new Error('variable not in the URL: ' + page.url());
    await page.reload();
    await page.waitForSelector('[data-panel="errors"] h3:has-text("recipe-api errors and warnings")');
  });
  await step('05-new-panel', async () => {
    await page.goto(base + '/#/dashboards');
    await page.click('#new-dashboard');
    await page.waitForSelector('#add-panel');
    await page.click('#add-panel');
    await page.fill('#panel-title', 'Codes by UI');
    await page.fill('.target-expr', 'aliasByNode(stats_counts.web-api.inbound.response_code.*, 4)');
    await page.click('#panel-apply');
    await page.click('#save');
    await page.waitForFunction(() => document.querySelector('#save-status').textContent === 'Saved.');
    await page.reload();
    await page.waitForSelector('h3:has-text("Codes by UI")');
    await page.waitForSelector('.panel path.series', { state: 'attached', timeout: 15000 });
  });
  await step('06-trace', async () => {
    await page.goto(base + '/#/traces');
    await page.waitForSelector('#dep-graph');
    await page.waitForSelector('.trace-row');
    await page.goto(base + '/#/traces/' + process.env.TRACE_ID);
    await page.waitForFunction(() => document.querySelectorAll('.span-row').length >= 3);
    // Four spans, three rows: web-api's CLIENT call and recipe-api's shared
    // SERVER half are one (the demo's trace no longer has such halves).
    const rows = await page.locator('.span-row').count();
    if (rows !== 3) throw new Error(`${rows} waterfall rows for 4 spans, want 3 (a call's shared halves in one)`);
    await page.locator('.span-row').nth(1).click();
    await page.waitForSelector('#span-detail th:has-text("span id")');
  });
  await step('07-service-ack', async () => {
    await page.goto(base + '/#/services/' + process.env.SERVICE);
    await page.waitForFunction(() => { const s = document.querySelector('#svc-status'); return s && s.textContent !== 'PASSING'; }, null, { timeout: 20000 });
    await page.click('#ack');
    await page.waitForSelector('#acked');
  });
  await step('07b-service-create-edit-delete', async () => {
    await page.waitForSelector('#svc-oncall');
    await page.waitForFunction(() => /% up|no data/.test(document.querySelector('#svc-report').textContent), null, { timeout: 10000 });
    await page.click('#new-service');
    await page.waitForSelector('#svc-definition');
    // A bad key is named; nothing is created.
    await page.fill('#svc-definition', JSON.stringify({ name: 'ui-svc', checks: [{ name: 'ui-check', type: 'htp' }] }));
    const before = errors.length;
    await page.click('#svc-save');
    await page.waitForFunction(() => /checks\[0\]\.type/.test(document.querySelector('#svc-definition-error').textContent));
    // The refused save is the 400 Chromium reports; it is expected.
    for (let i = errors.length - 1; i >= before; i--) if (/status of 400/.test(errors[i])) errors.splice(i, 1);
    // obs itself answers 404 with a body: the check fails and keeps it.
    await page.fill('#svc-definition', JSON.stringify({ name: 'ui-svc', channels: ['log'], checks: [{ name: 'ui-check', type: 'http', endpoint: base + '/no-such-page', interval: '1s' }] }));
    await page.click('#svc-save');
    await page.waitForSelector('details.raw-data', { timeout: 15000 });
    await page.click('details.raw-data summary');
    await page.click('#svc-edit');
    await page.waitForSelector('#svc-definition');
    const def = JSON.parse(await page.inputValue('#svc-definition'));
    def.runbook = 'https://wiki.example/ui-svc';
    await page.fill('#svc-definition', JSON.stringify(def));
    await page.click('#svc-save');
    await page.waitForSelector('#svc-oncall a:has-text("runbook")');
    await page.click('#svc-delete');
    await page.waitForFunction(() => !document.querySelector('a.tile[href="#/services/ui-svc"]'));
  });
  await step('08-chart-50-series', async () => {
    // 50 series of 24 h at one point per minute, drawn 10 times.
    const ms = await page.evaluate(() => {
      const now = Date.now(), series = [];
      for (let i = 0; i < 50; i++) series.push({ name: 's' + i, points: Array.from({ length: 1440 }, (_, k) => [now - (1440 - k) * 60e3, Math.sin(k / 50 + i) * 100 + i * 10]) });
      const t0 = performance.now();
      for (let r = 0; r < 10; r++) { const el = lineChart(series, 'ms'); document.body.append(el); el.getBBox(); el.remove(); }
      return (performance.now() - t0) / 10;
    });
    console.log(`\n  50 series x 1,440 points: ${ms.toFixed(1)} ms per draw`);
    // Page weight as a first visit pays it: a fresh browser context, what
    // came over the wire (gzip) and what it unpacked to.
    const fresh = await browser.newContext();
    const p2 = await fresh.newPage();
    await p2.goto(base + '/#/services');
    await p2.waitForLoadState('networkidle');
    const w = await p2.evaluate(() => [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource').filter((e) => /\/ui\//.test(e.name))]
      .map((e) => ({ name: new URL(e.name).pathname, wire: e.encodedBodySize, size: e.decodedBodySize })));
    await fresh.close();
    const sum = (k) => w.reduce((a, e) => a + e[k], 0);
    if (w.length !== 3 || sum('wire') >= sum('size')) throw new Error('page weight: ' + JSON.stringify(w));
    console.log(`  first load: ${sum('size')} bytes uncompressed, ${sum('wire')} bytes gzipped (${w.map((e) => `${e.name} ${e.size}/${e.wire}`).join(', ')})`);
  });
  await step('09-discover-1000-hits', async () => {
    // Discover asked for 1,000 events at once (size=1000): from navigation
    // to 1,000 rows on screen, and the rows alone (building and laying out
    // 1,000 rows of events already fetched). Median of 3.
    const q = encodeURIComponent('app:"bulk"'), runs = [], renders = [];
    for (let i = 0; i < 3; i++) {
      await page.goto(base + '/#/');
      const t0 = Date.now();
      await page.goto(base + `/#/logs?q=${q}&size=1000`);
      await page.waitForFunction(() => document.querySelectorAll('#hits .hit').length === 1000, null, { timeout: 20000 });
      runs.push(Date.now() - t0);
      renders.push(await page.evaluate(async () => {
        const res = await (await fetch('/api/logs/search?q=app:bulk&from=now-1h&to=now&limit=1000')).json();
        const list = document.querySelector('#hit-list'), t = performance.now();
        list.replaceChildren(...res.hits.map((x) => discoverRow(x, { cols: [], onFilter() {}, onColumn() {}, onSurrounding() {} })));
        list.getBoundingClientRect(); document.body.offsetHeight; // force layout
        return performance.now() - t;
      }));
    }
    const med = (a) => a.sort((x, y) => x - y)[1];
    console.log(`\n  Discover, 1,000 hits: ${med(runs)} ms from navigation to 1,000 rows; rows alone ${med(renders).toFixed(0)} ms (median of 3)`);
  });
  await browser.close();
  if (errors.length) throw new Error('browser errors:\n' + errors.join('\n'));
}

main().then(() => { console.log('ui ok'); process.exit(0); }, (e) => { console.error('\nFAILED: ' + e.message + (errors.length ? '\n' + errors.join('\n') : '')); process.exit(1); });
