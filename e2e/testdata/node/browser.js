// The headless Chromium every UI test drives: Debian's (a test never
// downloads a browser), with everything that would reach the network on
// its own turned off, and the page setup and screenshot steps the tests
// share.
'use strict';
const { chromium } = require('playwright-core');
const path = require('path');

const launch = () => chromium.launch({
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});

// openPage is a 1400x1000 page whose console errors and uncaught page
// errors are pushed to errors (a test fails on any).
async function openPage(browser, errors) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
  page.on('pageerror', (e) => errors.push('page: ' + e.message));
  return page;
}

// stepper: shot(name) saves a full-page screenshot under shots; step(name,
// f) runs f, then saves name.png (name-FAILED.png when f throws) and
// prints the step's name and "ok".
function stepper(page, shots) {
  const shot = (name) => page.screenshot({ path: path.join(shots, name + '.png'), fullPage: true });
  const step = async (name, f) => {
    process.stdout.write(name + '... ');
    try { await f(); } catch (e) { await shot(name + '-FAILED').catch(() => {}); throw e; }
    await shot(name);
    console.log('ok');
  };
  return { shot, step };
}

module.exports = { launch, openPage, stepper };
