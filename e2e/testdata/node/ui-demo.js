// With `obs serve --demo` and `obs demo` running (make run, make demo),
// drives Debian's headless Chromium through every page of the obs UI with
// playwright-core and waits until each shows the demo's data: the
// services, Discover's hits with links to traces, every panel of every
// built-in dashboard, traces of three spans with the web-api -> recipe-api
// link, and a check firing. Screenshots of each page go to SHOTS; it says
// how long after the demo started (START_MS) each page was full.
// Env: OBS_URL, SHOTS, START_MS. Fails on any browser console error.
'use strict';
const { launch, openPage } = require('./browser');
const fs = require('fs');
const path = require('path');
const { checkLayout, openEvent } = require('./layout');

const base = process.env.OBS_URL;
const shots = process.env.SHOTS || 'test-output';
const start = +process.env.START_MS || Date.now();
fs.mkdirSync(shots, { recursive: true });
const errors = [];
const since = () => ((Date.now() - start) / 1000).toFixed(1);

async function main() {
  const browser = await launch();
  const page = await openPage(browser, errors);
  let last = 0;
  // full loads the page until check() finds nothing missing, then takes
  // the screenshot. The demo fills pages as its data arrives: flushes
  // every 10 s, /health changing every 20 s.
  const full = async (name, hash, check) => {
    process.stdout.write(name + '... ');
    let missing;
    for (let i = 0; ; i++) {
      await page.goto(base + '/' + hash);
      await page.waitForLoadState('networkidle');
      missing = await check();
      if (!missing.length) break;
      if (i === 120) { await page.screenshot({ path: path.join(shots, name + '-FAILED.png'), fullPage: true }); throw new Error(`${name} never full: ${missing.join('; ')}`); }
      await page.waitForTimeout(2000);
    }
    await page.screenshot({ path: path.join(shots, name + '.png'), fullPage: true });
    last = Math.max(last, +since());
    console.log(`full ${since()} s after the demo started`);
  };
  // What a dashboard's panels lack, by panel type.
  const dashboardMissing = (id) => page.evaluate(async (id) => {
    const d = await (await fetch('/api/dashboards/' + id)).json();
    const missing = [];
    for (const p of d.panels) {
      const el = document.querySelector(`[data-panel="${p.id}"]`);
      if (!el) { missing.push(`${p.id}: not on the page`); continue; }
      if (el.querySelector('.err')) missing.push(`${p.id}: ${el.querySelector('.err').textContent}`);
      if (p.type === 'timeseries') {
        // A line, not a lone first point: two flushes at least.
        const drawn = [...el.querySelectorAll('path.series')].filter((x) => /^M.*L/.test(x.getAttribute('d') || '')).length;
        if (drawn < p.targets.length) missing.push(`${p.id}: ${drawn} of ${p.targets.length} series drawn as lines`);
      } else if (p.type === 'stat') {
        const v = el.querySelector('.stat');
        if (!v || v.textContent === '-') missing.push(`${p.id}: no value`);
        if (!/^M.*L/.test((el.querySelector('svg.sparkline path.series') || { getAttribute: () => '' }).getAttribute('d') || '')) missing.push(`${p.id}: no sparkline`);
      } else if (p.type === 'loghistogram') {
        if (!el.querySelector('svg.histogram rect') || /^0 events/.test(el.textContent.split('\n').pop())) missing.push(`${p.id}: no events`);
      } else if (p.type === 'services') {
        if (el.querySelectorAll('a.tile').length < 2) missing.push(`${p.id}: no services`);
      }
    }
    return missing;
  }, id);

  await full('01-overview', '#/', () => page.evaluate(() =>
    ['web-api', 'recipe-api'].filter((s) => ![...document.querySelectorAll('a.tile')].some((a) => a.textContent.includes(s))).map((s) => s + ' missing')));
  await full('02-discover', '#/logs', async () => {
    await page.fill('#kql', 'app:"web-api"');
    await page.click('#search');
    await page.waitForLoadState('networkidle');
    return page.evaluate(() => {
      const m = [];
      if (document.querySelectorAll('#hits .hit').length < 5) m.push('fewer than 5 hits');
      if (!document.querySelector('svg.histogram rect')) m.push('no histogram');
      if (!document.querySelector('.sidebar .v')) m.push('no field values');
      if (!document.querySelector('#hits a[href^="#/traces/"]')) m.push('no link to a trace');
      // One line per event: no row taller than a line of text.
      const tall = [...document.querySelectorAll('#hits .hit')].filter((r) => r.getBoundingClientRect().height > 30).length;
      if (tall) m.push(`${tall} rows taller than one line`);
      return m;
    });
  });
  await full('03-dashboard-web-api-overview', '#/dashboards/web-api-overview', () => dashboardMissing('web-api-overview'));
  await full('04-dashboard-obs', '#/dashboards/obs', () => dashboardMissing('obs'));
  let traceId;
  await full('05-traces', '#/traces', async () => {
    await page.waitForSelector('#dep-graph', { timeout: 10000 });
    return page.evaluate(async () => {
      const m = [];
      const rows = [...document.querySelectorAll('.trace-row')].filter((r) => /web-api: get_root/.test(r.textContent) && /(^|\D)3 spans/.test(r.textContent));
      if (!rows.length) m.push('no web-api get_root trace of 3 spans');
      const g = document.querySelector('#dep-graph').textContent;
      if (!/web-api/.test(g) || !/recipe-api/.test(g)) m.push('no web-api -> recipe-api link in the graph');
      return m;
    });
  });
  traceId = await page.evaluate(() => [...document.querySelectorAll('.trace-row a')].find((a) => /get_root/.test(a.textContent)).getAttribute('href').split('/').pop());
  await full('06-trace', '#/traces/' + traceId, () => page.evaluate(async (id) => {
    const m = [];
    const spans = await (await fetch('/api/v2/trace/' + id)).json();
    const kinds = spans.map((s) => `${s.localEndpoint.serviceName} ${s.kind}`).sort().join(', ');
    if (kinds !== 'recipe-api SERVER, web-api CLIENT, web-api SERVER') m.push('spans: ' + kinds);
    if (document.querySelectorAll('.span-row').length < 2) m.push('waterfall rows missing');
    return m;
  }, traceId));
  // Discover's first screen at 1440x900: at least 20 one-line events.
  await page.setViewportSize({ width: 1440, height: 900 });
  await full('08-discover-first-screen', '#/logs', async () => {
    await page.waitForSelector('#hits .hit');
    const n = await page.evaluate(() => [...document.querySelectorAll('#hits .hit')].filter((r) => { const b = r.getBoundingClientRect(); return b.bottom <= innerHeight && b.height < 30; }).length);
    console.log(`\n  ${n} one-line events on Discover's first screen at 1440x900`);
    return n >= 20 ? [] : [`${n} one-line rows on the first screen, want 20`];
  });
  await page.setViewportSize({ width: 1400, height: 1000 });
  // Grafana's reading aids on the seed's dashboard: $service, units, time axis.
  await full('09-dashboard-reading', '#/dashboards/web-api-overview', () => page.evaluate(() => {
    const m = [];
    const sel = document.querySelector('#var-service');
    if (!sel || sel.value !== 'web-api') m.push('no $service variable set to web-api');
    const ticks = (id) => [...document.querySelectorAll(`[data-panel="${id}"] svg text`)].map((t) => t.textContent);
    if (!ticks('outbound-timing').some((t) => / ms$| s$/.test(t))) m.push('timing axis without ms');
    if (!ticks('memory').some((t) => /iB$/.test(t))) m.push('memory axis without KiB/MiB');
    if (!ticks('codes').some((t) => /^\d\d:\d\d(:\d\d)?$/.test(t))) m.push('no time labels on the x axis');
    const lg = document.querySelector('[data-panel="codes"] .legend');
    if (!lg || !lg.textContent.includes('max')) m.push('legend without values');
    return m;
  }));
  await full('10-trace-reading', '#/traces/' + traceId, () => page.evaluate(() => {
    const m = [];
    if (document.querySelectorAll('.wf-ruler .tick').length < 2) m.push('no time ruler');
    const rows = document.querySelectorAll('.span-row');
    // web-api's SERVER, its CLIENT call, and recipe-api's SERVER span sent
    // over OTLP: a child of the call, not a shared half, as OpenTelemetry
    // makes it (halves sharing a row are e2e/ui_test.go's).
    if (rows.length !== 3) m.push(`${rows.length} waterfall rows, want 3 (recipe-api's OTLP server span a row under the call)`);
    const colours = new Set([...document.querySelectorAll('.span-bar:not(.e)')].map((b) => b.style.background));
    if (document.querySelectorAll('.span-bar.e').length === 0 && colours.size < 2) m.push('one colour for two services');
    const det = document.querySelector('#span-detail table');
    if (!det) return m.concat('no span details');
    if (!/web-api \S+:\d+/.test(det.textContent)) m.push('local endpoint not shown as service ip:port');
    if (/[{}]/.test(det.textContent)) m.push('raw JSON in the span details');
    return m;
  }));
  await full('11-dependencies', '#/traces', async () => {
    await page.waitForSelector('#dep-graph .dep-node', { timeout: 10000 });
    return page.evaluate(() => {
      const label = [...document.querySelectorAll('#dep-graph .dep-label')].map((t) => t.textContent).join(' ');
      return /\b1 calls\b/.test(label) || !/\d call/.test(label) ? ['edge label: ' + label] : [];
    });
  });
  await full('07-service-firing', '#/services/web-api', async () => {
    await page.waitForSelector('#svc-status', { timeout: 10000 });
    return page.evaluate(() => (['WARNING', 'ERROR', 'CRITICAL'].includes(document.querySelector('#svc-status').textContent) ? [] : ['web-api is ' + document.querySelector('#svc-status').textContent]));
  });
  // No page may scroll sideways at 1280 or 1920 px, an event opened included.
  const problems = await checkLayout(page, base, [
    ['overview', '#/', 'a.tile'],
    ['discover', '#/logs', '#hits .hit', openEvent],
    ['dashboard-web-api', '#/dashboards/web-api-overview', '[data-panel] path.series'],
    ['dashboard-obs', '#/dashboards/obs', '[data-panel] path.series'],
    ['traces', '#/traces', '#dep-graph .dep-node'],
    ['trace', '#/traces/' + traceId, '.span-row'],
    ['service', '#/services/web-api', '#svc-status'],
  ], [1280, 1920], shots);
  if (problems.length) throw new Error('layout:\n' + problems.join('\n'));
  console.log('layout ok at 1280 and 1920 px');
  await browser.close();
  if (errors.length) throw new Error('browser errors:\n' + errors.join('\n'));
  console.log(`every page full ${last} s after the demo started`);
}

main().then(() => { console.log('ui demo ok'); process.exit(0); }, (e) => { console.error('\nFAILED: ' + e.message + (errors.length ? '\n' + errors.join('\n') : '')); process.exit(1); });
