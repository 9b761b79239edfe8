// Opens an alert's link in Debian's headless Chromium (playwright-core) and
// checks that the incident view is that service's and that window's, then
// follows its links: a log event's trace link to the trace and its log
// events, the errors to Discover, a slow trace to its waterfall, a latency
// panel's point to the traces of that moment and duration.
// Env: LINK (the SMS's link), SERVICE, TRACE_ID (failing), SLOW_ID,
// EXCLUDED (trace ids that must not show), EXPECT_ERRORS, EXPECT_TOTAL,
// EXPECT_TRACE_LOGS, SHOTS (dir). Fails on any browser console error.
'use strict';
const { launch, openPage, stepper } = require('./browser');
const fs = require('fs');

const env = process.env;
const shots = env.SHOTS;
fs.mkdirSync(shots, { recursive: true });
const errors = [];
const fail = (msg) => { throw new Error(msg); };

async function main() {
  const browser = await launch();
  const page = await openPage(browser, errors);
  const { shot, step } = stepper(page, shots);
  const openIncident = async () => {
    await page.goto(env.LINK);
    await page.waitForSelector('#incident-events .hit', { timeout: 20000 });
  };

  await step('01-incident-from-the-sms-link', async () => {
    await openIncident();
    if (!page.url().includes('#/services/' + env.SERVICE)) fail('the link opened ' + page.url());
    const checks = await page.textContent('#incident-checks');
    if (!checks.includes('web-api-health') || !checks.includes('Wrong code: got 500')) fail('failing checks: ' + checks);
    const counts = await page.textContent('#incident-log-counts');
    if (!counts.includes(`${env.EXPECT_ERRORS} errors`) || !counts.includes(`in ${env.EXPECT_TOTAL} events`)) fail('log counts: ' + counts);
    // The service's events of the window only, errors first.
    const rows = await page.$$eval('#incident-events .hit', (rs) => rs.map((r) => ({ app: r.querySelector('.c-app').textContent, sev: r.querySelector('.c-sev').textContent, text: r.textContent })));
    if (rows.length !== +env.EXPECT_TOTAL) fail(`${rows.length} events shown, want ${env.EXPECT_TOTAL}`);
    if (rows.some((r) => r.app !== env.SERVICE)) fail('another app in the view: ' + JSON.stringify(rows.map((r) => r.app)));
    const firstOther = rows.findIndex((r) => r.sev !== 'error');
    if (firstOther !== +env.EXPECT_ERRORS || rows.slice(firstOther).some((r) => r.sev === 'error')) fail('errors are not first: ' + rows.map((r) => r.sev).join(','));
    if (rows.some((r) => r.text.includes('long before'))) fail('an event from before the window');
    const groups = await page.$$eval('.incident-group', (rs) => rs.map((r) => r.textContent));
    if (!/^3Error: recipe-api answered <n>: database unreachable: connect ECONNREFUSED <n>\.<n>\.<n>\.<n>:<n>/.test(groups[0] || '')) fail('grouped messages: ' + JSON.stringify(groups));
    // Data is text: a message with markup stays text.
    if (!groups.some((g) => g.includes('<img src=x')) || await page.$('#incident img') || await page.evaluate(() => window.pwned)) fail('markup in a message became HTML');
    const traces = await page.$$eval('.incident-trace a', (as) => as.map((a) => a.textContent));
    if (traces.join(',') !== `${env.TRACE_ID},${env.SLOW_ID}`) fail(`traces ${traces}, want ${env.TRACE_ID} (failing) then ${env.SLOW_ID} (slow)`);
    for (const x of env.EXCLUDED.split(',')) if (traces.includes(x)) fail('trace of another service or time: ' + x);
    // The $service dashboard's panels, drawn for this service.
    // Drawn data: a line, or the dot of a series that has one point so far
    // (its path is then a lone moveto with no size, never "visible"; under
    // load the page can open between the StatsD flushes that add points).
    await page.waitForSelector('#incident-metrics [data-panel="codes"] :is(path.series[d*="L"], circle.point)', { timeout: 10000 });
    const dash = await page.getAttribute('.incident-dashboard', 'href');
    if (!dash.includes('var-service=' + env.SERVICE)) fail('dashboard link ' + dash);
  });
  await step('02-log-event-to-its-trace-and-back', async () => {
    // A log event's trace link opens the trace, whose log events all link back to it.
    await page.click(`#incident-events .hit a.trace-link[href="#/traces/${env.TRACE_ID}"] >> nth=0`);
    await page.waitForSelector('#waterfall .span-row');
    if (!(await page.textContent('#waterfall h2')).includes(env.TRACE_ID)) fail('not the trace ' + env.TRACE_ID);
    await page.waitForSelector('#trace-logs .hit');
    const logs = await page.$$eval('#trace-logs .hit', (rs) => rs.map((r) => ({ app: r.querySelector('.c-app').textContent, link: r.querySelector('a.trace-link') ? r.querySelector('a.trace-link').getAttribute('href') : null })));
    if (logs.length !== +env.EXPECT_TRACE_LOGS) fail(`${logs.length} log events with the trace, want ${env.EXPECT_TRACE_LOGS}`);
    if (!logs.some((l) => l.app === 'recipe-api') || !logs.some((l) => l.app === env.SERVICE)) fail('the trace\'s log events miss a service: ' + JSON.stringify(logs));
    if (logs.some((l) => l.link !== '#/traces/' + env.TRACE_ID)) fail('a log event of the trace links elsewhere: ' + JSON.stringify(logs));
  });
  await step('03-errors-in-discover', async () => {
    await openIncident();
    await page.click('#incident-discover-errors');
    await page.waitForSelector('#hits .hit');
    const apps = await page.$$eval('#hits .hit .c-app', (as) => as.map((a) => a.textContent));
    if (apps.length !== +env.EXPECT_ERRORS || apps.some((a) => a !== env.SERVICE)) fail('Discover shows ' + JSON.stringify(apps));
    if (await page.inputValue('#range') !== 'custom') fail('Discover without the incident\'s window');
  });
  await step('04-slow-trace', async () => {
    await openIncident();
    await page.click(`.incident-trace a:text-is("${env.SLOW_ID}")`);
    await page.waitForSelector('#waterfall .span-row');
    if (!(await page.textContent('#waterfall h2')).includes(env.SLOW_ID)) fail('not the slow trace');
  });
  await step('05-latency-point-to-its-traces', async () => {
    // The timer panel's point (120 ms) opens web-api's traces of that
    // moment between 96 and 150 ms: the failing one (100 ms), not the slow
    // (300 ms) or the fast (5 ms) one.
    await openIncident();
    await page.waitForSelector('#incident-metrics [data-panel="outbound-timing"] circle.point');
    await page.click('#incident-metrics [data-panel="outbound-timing"] circle.point');
    await page.waitForSelector('#trace-results h3');
    if (await page.inputValue('#trace-service') !== env.SERVICE || await page.inputValue('#trace-range') !== 'custom' ||
      +(await page.inputValue('#trace-min')) !== 96 || +(await page.inputValue('#trace-max')) !== 150) fail('trace search not filled in: ' + page.url());
    const found = await page.$$eval('#trace-results .trace-row a', (as) => as.map((a) => a.getAttribute('href')));
    if (found.join(',') !== '#/traces/' + env.TRACE_ID) fail('traces of the point: ' + found);
  });
  await browser.close();
  if (errors.length) fail('browser errors:\n' + errors.join('\n'));
  console.log('incident ui ok');
}

main().catch((e) => { console.error(e); process.exit(1); });
