// Drives Debian's headless Chromium through every page of the obs UI with
// playwright-core. Env: OBS_URL, TRACE_ID, EXPECT_HITS, SERVICE, SHOTS (dir).
// Fails on any browser console error.
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');

const base = process.env.OBS_URL;
const shots = process.env.SHOTS || 'test-output';
fs.mkdirSync(shots, { recursive: true });
const errors = [];

async function main() {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
  page.on('pageerror', (e) => errors.push('page: ' + e.message));
  page.on('dialog', (d) => d.accept(d.type() === 'prompt' ? 'UI Test' : undefined));
  const shot = (name) => page.screenshot({ path: path.join(shots, name + '.png'), fullPage: true });
  const step = async (name, f) => {
    process.stdout.write(name + '... ');
    try { await f(); } catch (e) { await shot(name + '-FAILED').catch(() => {}); throw e; }
    await shot(name);
    console.log('ok');
  };

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
    const bytes = await page.evaluate(async () => { let n = 0; for (const u of ['/', '/ui/app.js', '/ui/app.css']) n += (await (await fetch(u)).arrayBuffer()).byteLength; return n; });
    console.log(`  first load: ${bytes} bytes uncompressed (index.html, app.js, app.css)`);
  });
  await browser.close();
  if (errors.length) throw new Error('browser errors:\n' + errors.join('\n'));
}

main().then(() => { console.log('ui ok'); process.exit(0); }, (e) => { console.error('\nFAILED: ' + e.message + (errors.length ? '\n' + errors.join('\n') : '')); process.exit(1); });
