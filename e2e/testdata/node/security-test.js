// Attacks obs from a real browser (Debian's headless Chromium through
// playwright-core). Env: OBS_URL, EVIL_URL (a page on another loopback
// port), TRACE_ID, SERVICE. Prints JSON results; the Go test checks the
// server side.
//   1. The evil page tries every cross-site trick on obs's control and
//      intake routes: fetch no-cors text/plain, a form post, a JSON fetch.
//   2. Every UI page is opened over data full of script (log fields, span
//      and service names, tags, metric names): no script may run, and any
//      CSP violation (a console error) fails the test.
'use strict';
const { launch } = require('./browser');

async function main() {
  const browser = await launch();
  const out = { attacks: null, pages: [], errors: [], xss: [] };
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('console', (m) => { if (m.type() === 'error') out.errors.push(page.url() + ': ' + m.text()); });
  page.on('pageerror', (e) => out.errors.push(page.url() + ': ' + e.message));
  page.on('dialog', (d) => { out.xss.push('dialog: ' + d.message()); d.dismiss(); });

  // 1. From the evil page.
  await page.goto(process.env.EVIL_URL);
  await page.waitForFunction(() => window.attacksDone === true, null, { timeout: 20000 });
  out.attacks = await page.evaluate(() => window.attackResults);
  out.errors = []; // the evil page's own failed fetches are expected

  // 2. obs's own pages over hostile data.
  const base = process.env.OBS_URL;
  const visits = [
    ['overview', '/#/', 'a.tile'],
    ['logs', '/#/logs', '#kql'],
    ['dashboards', '/#/dashboards/web-api-overview', '[data-panel]'],
    ['dashboard', '/#/dashboards/evil', '[data-panel] path.series'],
    ['traces', '/#/traces', '#dep-graph'],
    ['trace', '/#/traces/' + process.env.TRACE_ID, '.span-row'],
    ['services', '/#/services/' + process.env.SERVICE, '#service'],
  ];
  for (const [name, path, sel] of visits) {
    await page.goto(base + path);
    await page.waitForSelector(sel, { timeout: 15000, state: 'attached' });
    if (name === 'logs') {
      await page.fill('#kql', '*'); await page.click('#search'); await page.waitForSelector('#hits .hit');
      for (let i = 0; i < await page.locator('#hits .hit').count(); i++) await page.locator('#hits .hit').nth(i).click();
    }
    if (name === 'trace') { for (let i = 0; i < await page.locator('.span-row').count(); i++) await page.locator('.span-row').nth(i).click(); }
    await page.waitForTimeout(500);
    const pwned = await page.evaluate(() => window.__pwned || null);
    if (pwned) out.xss.push(name + ': ' + pwned);
    out.pages.push(name);
  }
  await browser.close();
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error('FAILED: ' + e.message); process.exit(1); });
