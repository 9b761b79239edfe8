// Layout checks shared by the UI tests: at each width, every page must fit
// the window (no horizontal scrollbar), even with a Discover event opened
// (a stack trace, a long URL), and no text may be drawn below 11 px —
// SVG text counts at the size it is shown, after the viewBox's scaling.
'use strict';
const path = require('path');

// textTooSmall lists text drawn under 11 px on the page.
const textTooSmall = (page) => page.evaluate(() => {
  const bad = [];
  const walker = document.createTreeWalker(document.getElementById('app'), NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || !el.getClientRects().length) continue;
    let px = parseFloat(getComputedStyle(el).fontSize);
    const svg = el.closest('svg');
    if (svg && svg.viewBox.baseVal && svg.viewBox.baseVal.width) px *= svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    if (px < 10.9) bad.push(`${n.textContent.trim().slice(0, 30)} at ${px.toFixed(1)} px`);
  }
  return bad.slice(0, 5);
});

// checkLayout visits pages ([name, hash, selector, prepare?]) at each width,
// takes a screenshot of each, and returns what overflowed or was too small.
async function checkLayout(page, base, pages, widths, shots) {
  const problems = [];
  for (const w of widths) {
    await page.setViewportSize({ width: w, height: 900 });
    for (const [name, hash, sel, prepare] of pages) {
      await page.goto(base + '/' + hash);
      await page.waitForSelector(sel, { state: 'attached', timeout: 20000 });
      await page.waitForLoadState('networkidle');
      if (prepare) await prepare(page);
      const o = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth }));
      if (o.sw > o.cw) problems.push(`${name} at ${w} px: ${o.sw} px wide`);
      const small = await textTooSmall(page);
      if (small.length) problems.push(`${name} at ${w} px: text under 11 px: ${small.join('; ')}`);
      await page.screenshot({ path: path.join(shots, `layout-${w}-${name}.png`), fullPage: true });
    }
  }
  return problems;
}

// openEvent expands the Discover event with the longest document: the
// worst case for wrapping.
async function openEvent(page) {
  await page.waitForSelector('#hits .hit .hit-line');
  await page.evaluate(() => {
    const rows = [...document.querySelectorAll('#hits .hit')];
    const score = (r) => (/Error|stack/.test(r.textContent) ? 1e6 : 0) + r.textContent.length;
    rows.sort((a, b) => score(b) - score(a))[0].querySelector('.hit-line').click();
  });
  await page.waitForSelector('#hits .hit-doc table.doc');
  await page.evaluate(() => { const d = document.querySelector('#hits .hit-doc details'); if (d) d.open = true; });
}

module.exports = { checkLayout, openEvent, textTooSmall };
