// obs UI: one page, no build step. Pages: overview, logs (Discover),
// dashboards, traces, services. Charts are small SVGs drawn here.
'use strict';
const $ = (sel, el = document) => el.querySelector(sel);
// The UI never turns data into HTML: every element is built here, every
// value goes in as text or an attribute (a strict CSP backs this up).
// Styles go through the CSSOM (style-src allows no inline style attributes).
function build(e, attrs, kids) {
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'style') e.style.cssText = v;
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}
const h = (tag, attrs = {}, ...kids) => build(document.createElement(tag), attrs, kids);
const S = (tag, attrs = {}, ...kids) => build(document.createElementNS('http://www.w3.org/2000/svg', tag), attrs, kids);
async function api(path, opts = {}) {
  // Control routes take JSON only (cross-site form posts cannot send it).
  if (opts.method && opts.method !== 'GET') opts = { ...opts, headers: { 'Content-Type': 'application/json', ...(opts.headers || {}) } };
  const r = await fetch(path, opts);
  const text = await r.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  if (!r.ok) { const e = new Error((body && body.error) || text || r.statusText); e.body = body; throw e; }
  return body;
}
const COLORS = ['#2d6cdf', '#2e9d5a', '#d9480f', '#8e44ad', '#d89614', '#16a2b8', '#c2185b', '#5d6d7e'];
// num prints a number with the precision a person reads: 3 significant
// digits, no trailing zeros, never 0.30000000000000004.
function num(v) { const a = Math.abs(v); return a >= 100 || a === 0 ? String(Math.round(v)) : String(+v.toPrecision(3)); }
// fmtVal prints a value in the panel's unit as Grafana does: SI prefixes
// (k, M, G) for counts, binary ones for bytes, ms/s/min for durations.
function fmtVal(v, unit) {
  if (v === null || v === undefined || isNaN(v)) return '-';
  const a = Math.abs(v);
  if (unit === 'bytes') { const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']; let i = 0; while (Math.abs(v) >= 1024 && i < 5) { v /= 1024; i++; } return num(v) + ' ' + u[i]; }
  if (unit === 'ms') return a >= 60000 ? num(v / 60000) + ' min' : a >= 1000 ? num(v / 1000) + ' s' : a > 0 && a < 1 ? num(v * 1000) + ' µs' : num(v) + ' ms';
  if (unit === 'percent') return num(v) + '%';
  const per = unit === 'persec' ? '/s' : '';
  const si = ['', 'k', 'M', 'G', 'T', 'P']; let i = 0; while (Math.abs(v) >= 1000 && i < 5) { v /= 1000; i++; }
  return num(v) + si[i] + per;
}
function fmtDur(us) { return us >= 1e6 ? num(us / 1e6) + 's' : us >= 1000 ? num(us / 1000) + 'ms' : Math.round(us) + 'µs'; }
function fmtTime(t) { return new Date(t).toLocaleString(); }
// niceTicks: about n ticks at 1, 2, 2.5 or 5 times a power of ten.
function niceTicks(lo, hi, n) {
  const raw = (hi - lo) / Math.max(n, 1), mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(s => s >= raw);
  const a = Math.floor(lo / step) * step, z = Math.ceil(hi / step - 1e-9) * step, ticks = [];
  for (let v = a; v <= z + step / 2; v += step) ticks.push(+v.toPrecision(12));
  return { lo: a, hi: z, ticks };
}
// timeTicks: ticks on round times (10 s, 1 min, 5 min, 1 h...) in local time.
const TSTEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800].map(s => s * 1000);
function timeTicks(x0, x1, n) {
  const step = TSTEPS.find(s => (x1 - x0) / s <= n) || TSTEPS[TSTEPS.length - 1];
  const off = step >= 3600e3 ? -new Date(x0).getTimezoneOffset() * 60e3 : 0, ticks = [];
  for (let t = Math.ceil((x0 + off) / step) * step - off; t <= x1; t += step) ticks.push(t);
  const fmt = t => { const d = new Date(t); return step >= 86400e3 ? `${pad(d.getMonth() + 1)}-${pad(d.getDate())}` : step < 60e3 ? `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` : `${pad(d.getHours())}:${pad(d.getMinutes())}`; };
  return { ticks, fmt };
}
function pad(n, w = 2) { return String(n).padStart(w, '0'); }
const textW = s => String(s).length * 6.6; // 11 px system-ui, near enough to place labels

// lineChart draws series [{name, points:[[tsMillis, value|null]]}] as SVG
// at the size it is shown (opts.width px), so its text stays 11 px however
// narrow the panel. opts: {width, height, domain: [x0, x1] ms}.
function lineChart(series, unit, opts = {}) {
  const W = Math.max(opts.width || 600, 160), H = opts.height || 180, B = 20, T = 8;
  const svg = S('svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', class: 'chart' });
  let xs = [], ys = [];
  for (const s of series) for (const [t, v] of s.points) if (v !== null) { xs.push(t); ys.push(v); }
  if (!xs.length) { svg.append(S('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'no data')); return svg; }
  let [x0, x1] = opts.domain || [Math.min(...xs), Math.max(...xs)];
  if (x1 <= x0) { x0 -= 30e3; x1 += 30e3; }
  let lo = Math.min(0, ...ys), hi = Math.max(...ys);
  if (hi <= lo) hi = lo + 1; // an all-zero panel still gets a scale: 0 to 1
  // Bytes get ticks at round binary sizes (256 MiB, not 268.4 MB).
  const base = unit === 'bytes' ? 1024 ** Math.max(0, Math.floor(Math.log(Math.max(Math.abs(lo), hi)) / Math.log(1024))) : 1;
  const rows = Math.max(2, Math.floor((H - B - T) / 32)), nt = niceTicks(lo / base, hi / base, rows);
  const yt = { lo: nt.lo * base, hi: nt.hi * base, ticks: nt.ticks.map(v => v * base) };
  const labels = yt.ticks.map(v => fmtVal(v, unit)), L = Math.max(...labels.map(textW)) + 10;
  const X = t => L + (t - x0) / (x1 - x0) * (W - L - 8), Y = v => H - B - (v - yt.lo) / (yt.hi - yt.lo) * (H - B - T);
  yt.ticks.forEach((v, i) => svg.append(S('line', { x1: L, x2: W - 8, y1: Y(v), y2: Y(v), stroke: '#eceef2' }), S('text', { x: L - 6, y: Y(v) + 4, 'text-anchor': 'end' }, labels[i])));
  const tt = timeTicks(x0, x1, Math.max(2, Math.floor((W - L) / 80)));
  for (const t of tt.ticks) {
    const x = X(t), s = tt.fmt(t);
    if (x - textW(s) / 2 < L - 4 || x + textW(s) / 2 > W) continue; // a label that would be cut is left out
    svg.append(S('line', { x1: x, x2: x, y1: H - B, y2: H - B + 4, stroke: '#b8bfcc' }), S('text', { x, y: H - 5, 'text-anchor': 'middle' }, s));
  }
  svg.append(S('line', { x1: L, x2: W - 8, y1: H - B, y2: H - B, stroke: '#b8bfcc' }));
  series.forEach((s, i) => {
    let d = '', pen = false;
    const pts = s.points, col = COLORS[i % COLORS.length];
    pts.forEach(([t, v], k) => {
      if (v === null || t < x0 || t > x1) { pen = false; return; }
      d += (pen ? 'L' : 'M') + X(t).toFixed(1) + ',' + Y(v).toFixed(1); pen = true;
      // A value with nulls on both sides has no line: mark it with a dot.
      const lone = (k === 0 || pts[k - 1][1] === null) && (k === pts.length - 1 || pts[k + 1][1] === null);
      if (lone) svg.append(S('circle', { cx: X(t).toFixed(1), cy: Y(v).toFixed(1), r: 2.5, fill: col, class: 'point' }));
    });
    svg.append(S('path', { d, fill: 'none', stroke: col, 'stroke-width': 1.5, class: 'series' }, S('title', {}, s.name)));
  });
  // Hover: a crosshair and every series' value at that time, as Grafana's tooltip.
  const cross = S('line', { y1: T, y2: H - B, stroke: '#8a93a3', 'stroke-dasharray': '3,3', visibility: 'hidden', 'pointer-events': 'none' });
  svg.append(cross);
  // nearAt: each series' point nearest the pointer's time, and the step between its points.
  const nearAt = e => {
    const r = svg.getBoundingClientRect(), vx = (e.clientX - r.left) * W / r.width, t = x0 + (vx - L) / (W - L - 8) * (x1 - x0);
    const near = series.map((s, i) => { let best = null, k = -1; s.points.forEach((p, j) => { if (p[1] !== null && (best === null || Math.abs(p[0] - t) < Math.abs(best[0] - t))) { best = p; k = j; } });
      return best && { name: s.name, p: best, i, step: s.points.length > 1 ? Math.abs(s.points[Math.min(k + 1, s.points.length - 1)][0] - s.points[Math.max(k - 1, 0)][0]) / (k > 0 && k < s.points.length - 1 ? 2 : 1) : 60e3 }; }).filter(Boolean);
    return { vx, near };
  };
  // opts.onPoint(time, value, step): a click on a point (a latency panel opens that moment's traces).
  if (opts.onPoint) {
    svg.classList.add('clickable');
    svg.addEventListener('click', e => { const { vx, near } = nearAt(e); if (vx >= L && near.length) { const n = near.reduce((a, b) => (b.p[1] > a.p[1] ? b : a)); opts.onPoint(n.p[0], n.p[1], n.step || 60e3); } });
  }
  svg.addEventListener('mousemove', e => {
    const { vx, near } = nearAt(e);
    if (vx < L || !near.length) { cross.setAttribute('visibility', 'hidden'); tip(); return; }
    const at = near[0].p[0];
    cross.setAttribute('x1', X(at)); cross.setAttribute('x2', X(at)); cross.setAttribute('visibility', 'visible');
    tip(e.clientX, e.clientY, h('div', { class: 'muted' }, new Date(at).toLocaleString()),
      near.map(n => h('div', {}, h('i', { style: `background:${COLORS[n.i % COLORS.length]}` }), n.name + ': ', h('b', {}, fmtVal(n.p[1], unit)))));
  });
  svg.addEventListener('mouseleave', () => { cross.setAttribute('visibility', 'hidden'); tip(); });
  return svg;
}
// tip shows the one chart tooltip near (x, y), kept inside the window; tip() hides it.
function tip(x, y, ...content) {
  let el = $('#chart-tip');
  if (!el) { el = h('div', { id: 'chart-tip', hidden: true }); document.body.append(el); }
  if (x === undefined) { el.hidden = true; return; }
  el.replaceChildren(...content.flat()); el.hidden = false;
  el.style.left = Math.max(4, Math.min(x + 14, innerWidth - el.offsetWidth - 8)) + 'px';
  el.style.top = Math.max(4, Math.min(y + 14, innerHeight - el.offsetHeight - 8)) + 'px';
}
// legend lists each series with its last, max and mean, as Grafana's table legend.
function legend(series, unit) {
  return h('div', { class: 'legend' }, series.map((s, i) => {
    const vs = s.points.map(p => p[1]).filter(v => v !== null);
    const stats = vs.length ? `last ${fmtVal(vs[vs.length - 1], unit)} · max ${fmtVal(Math.max(...vs), unit)} · mean ${fmtVal(vs.reduce((a, b) => a + b, 0) / vs.length, unit)}` : 'no data';
    return h('span', { title: s.name }, h('i', { style: `background:${COLORS[i % COLORS.length]}` }), h('b', {}, s.name), ' ', h('span', { class: 'muted' }, stats));
  }));
}
// sparkline: the stat panel's trend under its big number.
function sparkline(points, width, height = 40) {
  const pts = points.filter(p => p[1] !== null), W = Math.max(width, 60);
  const svg = S('svg', { viewBox: `0 0 ${W} ${height}`, width: '100%', height, preserveAspectRatio: 'none', class: 'sparkline' });
  if (pts.length < 2) return svg;
  const x0 = pts[0][0], x1 = pts[pts.length - 1][0], lo = Math.min(...pts.map(p => p[1])), hi = Math.max(...pts.map(p => p[1]));
  const X = t => (t - x0) / Math.max(x1 - x0, 1) * W, Y = v => height - 2 - (v - lo) / Math.max(hi - lo, 1e-12) * (height - 4) * (hi > lo ? 1 : 0) - (hi > lo ? 0 : (height - 4) / 2);
  const d = pts.map((p, i) => (i ? 'L' : 'M') + X(p[0]).toFixed(1) + ',' + Y(p[1]).toFixed(1)).join('');
  svg.append(S('path', { d: d + `L${W},${height}L0,${height}z`, fill: '#dbe8fd', stroke: 'none' }), S('path', { d, fill: 'none', stroke: '#2d6cdf', 'stroke-width': 1.5, class: 'series' }));
  return svg;
}
// barChart draws histogram buckets; onPick(startMs, endMs) zooms in.
function barChart(buckets, intervalMs, onPick, height = 110) {
  const W = 600, H = height, B = 16;
  // A strip: stretch to the width, keep the height (labels are HTML below).
  const svg = S('svg', { viewBox: `0 0 ${W} ${H - B}`, width: '100%', height: H - B, preserveAspectRatio: 'none', class: 'histogram' });
  const max = Math.max(1, ...buckets.map(b => b.count)), bw = W / Math.max(buckets.length, 1);
  buckets.forEach((b, i) => {
    const bh = b.count / max * (H - B - 4);
    svg.append(S('rect', { 'data-i': i, x: i * bw + 1, y: H - B - bh, width: Math.max(bw - 2, 1), height: Math.max(bh, b.count ? 1 : 0), fill: '#4c9ffe' },
      S('title', {}, `${fmtTime(b.start)}: ${b.count}`)));
  });
  // Click a bar to zoom into it; drag across bars to zoom into the span.
  let from = null;
  svg.addEventListener('mousedown', e => { const i = e.target.dataset && e.target.dataset.i; if (i !== undefined) from = +i; });
  svg.addEventListener('mouseup', e => {
    const i = e.target.dataset && e.target.dataset.i;
    if (from === null || i === undefined) return;
    const a = Math.min(from, +i), z = Math.max(from, +i);
    onPick(new Date(buckets[a].start).getTime(), new Date(buckets[z].start).getTime() + intervalMs);
    from = null;
  });
  const axis = buckets.length ? h('div', { class: 'row muted', style: 'font-size:11px;justify-content:space-between' },
    h('span', {}, fmtTime(buckets[0].start)), h('span', {}, `max ${max} per bar`), h('span', {}, fmtTime(buckets[buckets.length - 1].start))) : null;
  return h('div', {}, svg, axis);
}

// ---- pages ----
const pages = {};
let cleanup = [];
function onLeave(f) { cleanup.push(f); }

async function route() {
  cleanup.forEach(f => f()); cleanup = []; tip();
  // Parameters ride after '?' (#/logs?q=...): a reload keeps the search.
  const hash = location.hash.replace(/^#\/?/, '').split('?')[0];
  const [page, ...rest] = hash.split('/');
  const name = pages[page] ? page : 'overview';
  document.querySelectorAll('nav a').forEach(a => a.classList.toggle('on', a.dataset.page === name));
  const app = $('#app'); app.replaceChildren();
  try { await pages[name](app, rest.map(decodeURIComponent)); } catch (e) { app.append(h('div', { class: 'card err' }, e.message)); }
}
window.addEventListener('hashchange', route);

// A banner whenever obs is not OK (shedding input at the memory bound, a
// store problem, the disk budget): the state must be loud.
async function healthBanner() {
  const b = $('#banner');
  try {
    const r = await fetch('/health?verbose').then(x => x.json()); // 503 when DOWN still has the report
    const bad = Object.entries(r.subsystems || {}).filter(([, v]) => v.status !== 'OK');
    b.hidden = !bad.length;
    b.replaceChildren(...bad.map(([k, v]) => h('div', {}, h('b', {}, `${k} ${v.status}: `), v.detail || '')));
  } catch { b.hidden = true; }
}
setInterval(healthBanner, 10000);
healthBanner();

// Overview, in the order someone paged wants it: what is firing and who
// acknowledged what, then each service's last errors, then obs's own intake.
// OTLP log records say it by number: 17-20 ERROR, 21-24 FATAL.
const ERROR_Q = 'severity:(error or fatal or critical or ERROR or FATAL) or level:(error or fatal or 50 or 60) or severity_number >= 17';
pages.overview = async (app) => {
  const firing = h('div', { class: 'tiles', id: 'firing' }), acked = h('div', { class: 'tiles', id: 'acked-services' }), passing = h('div', { class: 'tiles', id: 'passing' });
  const errs = h('div', { id: 'recent-errors' }), rates = h('div', { class: 'tiles', id: 'ingest' });
  app.append(h('div', { class: 'card' }, h('h2', {}, 'Alerts'), firing, acked, passing),
    h('div', { class: 'card' }, h('h2', {}, 'Last errors per service ', h('a', { href: '#/logs?q=' + encodeURIComponent(ERROR_Q), class: 'small' }, 'all in Discover')), errs),
    h('div', { class: 'card' }, h('h2', {}, 'Ingest'), rates));
  const sample = async () => { const text = await fetch('/metrics').then(r => r.text()), m = {}; for (const line of text.split('\n')) { const mm = line.match(/^(obs_[a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/); if (mm) m[mm[1]] = (m[mm[1]] || 0) + parseFloat(mm[3]); } return { m, t: Date.now() }; };
  let prev = null;
  async function refresh() {
    const [svcs, alerts, errHits] = await Promise.all([api('/api/services').catch(() => []), api('/api/alerts').catch(() => []),
      api(`/api/logs/search?q=${encodeURIComponent(ERROR_Q)}&from=now-1h&to=now&limit=300`).catch(() => ({ hits: [] }))]);
    if (!prev) { prev = await sample(); await new Promise(r => setTimeout(r, 1000)); } // a first rate without waiting a refresh
    const cur = await sample();
    const since = {}; for (const a of alerts) if (a.kind === 'alert' && !(a.service in since)) since[a.service] = a.time;
    const tile = s => {
      const failing = (s.checks || []).filter(c => c.failing);
      const ack = s.acknowledged_until && new Date(s.acknowledged_until) > Date.now();
      return h('a', { href: `#/services/${encodeURIComponent(s.name)}`, class: `tile ${ack ? 'ACKED' : s.status}`, title: failing.map(c => `${c.name}: ${c.last ? c.last.reason : ''}`).join('\n') }, s.name, ' ', h('span', { class: 'badge' }, s.status),
        ack ? h('small', {}, `acknowledged by ${s.acknowledged_by || '?'} until ${new Date(s.acknowledged_until).toLocaleTimeString()}`) : null,
        s.status !== 'PASSING' && since[s.name] && !ack ? h('small', {}, `alerted ${new Date(since[s.name]).toLocaleTimeString()}`) : null,
        failing.map(c => h('small', {}, `${c.name}: ${c.last ? c.last.reason : 'failing'}`)));
    };
    const isAck = s => s.acknowledged_until && new Date(s.acknowledged_until) > Date.now();
    const rank = { CRITICAL: 0, ERROR: 1, WARNING: 2 };
    const bad = svcs.filter(s => s.status !== 'PASSING' && !isAck(s)).sort((a, b) => rank[a.status] - rank[b.status]);
    firing.replaceChildren(...(bad.length ? bad.map(tile) : [h('div', { class: 'muted' }, svcs.length ? 'Nothing firing.' : 'No services configured.')]));
    acked.replaceChildren(...svcs.filter(isAck).map(tile));
    passing.replaceChildren(...svcs.filter(s => s.status === 'PASSING' && !isAck(s)).map(tile));
    // The last three errors of each app, newest first.
    const by = {};
    for (const x of errHits.hits) { const ev = x.event || {}, a = appOf(ev) || '(no app)'; (by[a] = by[a] || []).push(x); }
    errs.replaceChildren(...(Object.keys(by).length ? Object.entries(by).map(([a, xs]) => h('div', { class: 'svc-errors' },
      h('h3', {}, a, ' ', h('a', { href: '#/logs?q=' + encodeURIComponent(`app:"${a}" and (${ERROR_Q})`), class: 'small' }, `${xs.length}${xs.length === 300 ? '+' : ''} in the last hour`)),
      xs.slice(0, 3).map(x => plainRow(x)))) : [h('div', { class: 'muted' }, 'No errors logged in the last hour.')]));
    const m = cur.m, rate = k => Math.max(0, ((m[k] || 0) - (prev.m[k] || 0)) / ((cur.t - prev.t) / 1000));
    const stat = (label, v, unit) => h('div', { class: 'card' }, h('div', { class: 'muted' }, label), h('div', { class: 'stat' }, fmtVal(v, unit)));
    rates.replaceChildren(stat('log events', rate('obs_logs_stored_total'), 'persec'), stat('statsd metrics', rate('obs_statsd_metrics_total'), 'persec'), stat('spans', rate('obs_traces_spans_stored_total'), 'persec'),
      stat('log drops', (m.obs_logs_dropped_total || 0) + (m.obs_logs_udp_kernel_drops || 0) + (m.obs_memory_shed_total || 0)),
      stat('logs on disk', m.obs_logs_disk_bytes || 0, 'bytes'), stat('TSDB series', m.obs_metrics_series || 0));
    prev = cur;
  }
  await refresh();
  const t = setInterval(refresh, 5000); onLeave(() => clearInterval(t));
};

// Logs: Discover, as Kibana's: one line per event (time, app, severity and
// a summary, or the columns picked from the sidebar), the document a click
// away, older events by scrolling (the search API's cursor).
const RANGES = { '15m': 15 * 60e3, '1h': 3600e3, '24h': 24 * 3600e3, '7d': 7 * 24 * 3600e3 };
// Any field named like a trace id, at any depth: Zipkin's traceId, the
// seed's fields.trace_id, B3's X-B3-TraceId header copied into a log.
const TRACE_KEY = /^(x-b3-)?trace[-_]?id$/i;
// traceKQL is alert/incident's TraceKQL: the log events carrying a trace id
// under those names at any depth (KQL field names are case-sensitive).
const traceKQL = id => ['traceId', 'traceID', 'TraceId', 'traceid', 'trace_id', 'trace-id'].map(f => `*${f}:${JSON.stringify(String(id).toLowerCase())}`).join(' or ');
function findTraceId(v, depth = 0) {
  if (!v || typeof v !== 'object' || depth > 8) return null;
  for (const [k, x] of Object.entries(v)) if (TRACE_KEY.test(k) && /^[0-9a-f]{1,32}$/i.test(String(x))) return String(x).toLowerCase();
  for (const x of Object.values(v)) { const t = findTraceId(x, depth + 1); if (t) return t; }
  return null;
}
// flatten lists an event's leaves as [dotted.path, value], arrays whole.
function flatten(v, pre = '', out = []) {
  if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length) { for (const [k, x] of Object.entries(v)) flatten(x, pre ? pre + '.' + k : k, out); }
  else out.push([pre, v]);
  return out;
}
function getPath(ev, path) {
  if (path in ev) return ev[path];
  let v = ev;
  for (const k of path.split('.')) { if (!v || typeof v !== 'object') return undefined; v = v[k]; }
  return v;
}
const fieldText = v => v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
const firstLine = v => typeof v === 'string' ? v.split('\n')[0] : v && typeof v === 'object' && typeof v.message === 'string' ? v.message.split('\n')[0] : null;
// The row's own columns (time, app, severity) and what the lead already says.
const SUMMARY_SKIP = new Set(['@timestamp', 'timestamp', 'time', 'app', 'service', 'severity', 'level', 'message', 'msg', '@version', 'v', 'pid', 'hostname', 'host', 'type', 'environment', 'env', 'spanId', 'span_id', 'parentId', 'service.name', 'severity_text', 'severity_number', 'observed_timestamp']);
// Fields that tell most about an event come first in its summary.
const TELLING = /(^|\.)(method|path|url|route|status|statuscode|status_code|code|duration|took|ms|elapsed|user|error|err|reason|name)$/i;
// summary is the one line Discover shows for an event without columns:
// message, else msg / error / type, then the telling short fields.
function eventSummary(ev) {
  let lead = null, leadKey = null;
  for (const k of ['message', 'msg', 'error', 'err']) { const l = firstLine(ev[k]); if (l) { lead = l; leadKey = k; break; } }
  // No message: a stack trace's first line says what went wrong.
  if (!lead) for (const [k, v] of flatten(ev)) if (/(^|\.)(stack|error|err|exception)$/i.test(k)) { const l = firstLine(v); if (l) { lead = l; leadKey = k; break; } }
  const kv = flatten(ev).filter(([k, v]) => k && !SUMMARY_SKIP.has(k) && !(leadKey && (k === leadKey || k.startsWith(leadKey + '.'))) && !TRACE_KEY.test(k.split('.').pop()) && v !== null && v !== '' && !(typeof v === 'string' && (v.length > 120 || v.includes('\n'))));
  kv.sort((a, b) => TELLING.test(b[0]) - TELLING.test(a[0]));
  return { type: typeof ev.type === 'string' ? ev.type : null, lead, fields: kv.slice(0, 8) };
}
// An event's app and severity as the seed's loggers name them, else as
// OTLP log records do (service.name, severity_text).
const appOf = ev => String(ev.app || ev.service || ev['service.name'] || '');
const sevOf = ev => String(ev.severity || ev.level || ev.severity_text || '');
function fmtStamp(t) { const d = new Date(t); return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`; }
// discoverRow builds one hit: a line, and the document it opens.
// ctx: {cols, compact, onFilter(field, value), onColumn(field), onSurrounding(hit)};
// without the handlers the document has no tools.
function discoverRow(hit, ctx) {
  const ev = hit.event && typeof hit.event === 'object' && !Array.isArray(hit.event) ? hit.event : { value: hit.event };
  const sev = sevOf(ev), tid = findTraceId(ev);
  const stop = e => e.stopPropagation();
  // ctx.compact: a narrow list (a span's events): the time of day only, no trace link.
  const cells = [h('span', { class: 'c-time mono' }, ctx.compact ? fmtStamp(hit['@timestamp']).slice(11) : fmtStamp(hit['@timestamp'])), h('span', { class: 'c-app', title: appOf(ev) }, appOf(ev)),
    h('span', { class: 'c-sev sev-' + sev.toLowerCase() }, sev)];
  if (ctx.cols.length) for (const c of ctx.cols) { const t = fieldText(getPath(ev, c)); cells.push(h('span', { class: 'c-col', title: t.slice(0, 500) }, t.split('\n')[0])); }
  else {
    const s = eventSummary(ev);
    cells.push(h('span', { class: 'c-sum' }, s.type ? h('span', { class: 'muted' }, s.type + ' ') : null, s.lead ? h('span', { class: 'lead' }, s.lead + ' ') : null,
      s.fields.map(([k, v]) => h('span', { class: 'kv' }, h('span', { class: 'k' }, k + '='), fieldText(v) + ' '))));
  }
  cells.push(tid && !ctx.compact ? h('a', { href: `#/traces/${tid}`, class: 'trace-link', title: 'trace ' + tid, onclick: stop }, 'trace') : h('span', {}));
  let doc = null;
  const row = h('div', { class: 'hit', 'data-id': hit.id }, h('div', { class: 'hit-line', onclick: () => {
    if (doc) { doc.remove(); doc = null; row.classList.remove('open'); return; }
    row.classList.add('open');
    doc = h('div', { class: 'hit-doc' },
      h('div', { class: 'row' }, ctx.onSurrounding ? h('button', { onclick: () => ctx.onSurrounding(hit) }, 'Surrounding events') : null,
        tid ? h('a', { href: `#/traces/${tid}` }, 'Open trace ' + tid) : null, h('span', { class: 'muted mono' }, hit.id)),
      h('table', { class: 'doc' }, flatten(ev).map(([k, v]) => h('tr', {}, h('th', { class: 'mono' }, k),
        ctx.onFilter ? h('td', { class: 'tools' }, h('button', { title: 'filter for this value', onclick: () => ctx.onFilter(k, v) }, '+'), h('button', { title: 'toggle column', class: 'col-toggle', onclick: () => ctx.onColumn(k) }, '▥')) : null,
        h('td', { class: 'mono val' }, TRACE_KEY.test(k.split('.').pop()) && tid ? h('a', { href: `#/traces/${tid}` }, fieldText(v)) : fieldText(v))))),
      h('details', {}, h('summary', { class: 'muted' }, 'JSON'), h('pre', { class: 'mono' }, JSON.stringify(hit.event, null, 2))));
    row.append(doc);
  } }, cells));
  return row;
}
// plainRow is an event outside Discover (a panel, a trace, the overview):
// the same line and document, without Discover's filter and column tools.
function plainRow(hit, compact = false) { return discoverRow(hit, { cols: [], compact }); }
// The grid columns of Discover's lines: time, app, severity, then the summary or the picked fields.
function discoverGrid(cols) { return `14em 8em 5.5em ${cols.length ? cols.map(() => 'minmax(6em,1fr)').join(' ') : 'minmax(0,1fr)'} 3em`; }
pages.logs = async (app) => {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  // from/to (epoch ms) in the URL: a window another page links to (the incident view), or a zoom kept over a reload.
  const state = { q: params.get('q') || '', from: +params.get('from') || null, to: +params.get('to') || null, cols: (params.get('cols') || '').split(',').filter(Boolean), next: '', shown: 0, total: 0, qs: '' };
  const size = Math.min(+params.get('size') || 100, 5000);
  const q = h('input', { class: 'grow', id: 'kql', placeholder: 'KQL, e.g. app:"web-api" and severity:(error or warn)', value: state.q });
  const range = h('select', { id: 'range' }, Object.keys(RANGES).map(k => h('option', { value: k }, 'Last ' + k)), h('option', { value: 'custom' }, 'Custom'));
  const from = h('input', { type: 'datetime-local', style: 'display:none' }), to = h('input', { type: 'datetime-local', style: 'display:none' });
  const auto = h('select', {}, h('option', { value: '0' }, 'no refresh'), h('option', { value: '5000' }, 'every 5s'), h('option', { value: '30000' }, 'every 30s'));
  const tailBtn = h('button', {}, 'Live tail'), saveBtn = h('button', {}, 'Save search'), saved = h('select', { id: 'saved-searches' }, h('option', { value: '' }, 'Saved searches…'));
  const err = h('div', { class: 'err', id: 'kql-error' }), hist = h('div', {}), total = h('div', { class: 'muted', id: 'hit-total' });
  const side = h('div', { class: 'sidebar card', id: 'fields' }), head = h('div', { class: 'hit-line hit-head' }), list = h('div', { id: 'hit-list' });
  const moreBtn = h('button', { id: 'hits-more', style: 'display:none', onclick: () => more() }, 'Older events');
  const hits = h('div', { class: 'card grow', id: 'hits' }, head, list, moreBtn);
  app.append(h('div', { class: 'card' }, h('div', { class: 'row' }, q, range, from, to, auto, h('button', { class: 'primary', id: 'search', onclick: () => run() }, 'Search'), tailBtn, saveBtn, saved), err, total, hist),
    h('div', { class: 'layout' }, side, hits));
  const savedList = () => JSON.parse(localStorage.getItem('obs.savedSearches') || '[]');
  function fillSaved() { saved.length = 1; savedList().forEach((s, i) => saved.append(h('option', { value: i }, s.name))); }
  fillSaved();
  saved.onchange = () => { const s = savedList()[saved.value]; if (s) { q.value = s.q; state.cols.splice(0, state.cols.length, ...(s.cols || [])); run(); } }; // in place: ctx.cols is this array
  saveBtn.onclick = () => { const name = prompt('Name this search', q.value); if (name) { localStorage.setItem('obs.savedSearches', JSON.stringify([...savedList(), { name, q: q.value, cols: state.cols }])); fillSaved(); } };
  range.onchange = () => { const c = range.value === 'custom'; from.style.display = to.style.display = c ? '' : 'none'; if (!c) { state.from = state.to = null; run(); } };
  if (state.from) { range.value = 'custom'; from.style.display = to.style.display = ''; from.value = localInput(state.from); to.value = localInput(state.to || Date.now()); }
  q.addEventListener('keydown', e => { if (e.key === 'Enter') run(); });
  function window_() {
    if (state.from) return [state.from, state.to];
    if (range.value === 'custom' && from.value) return [new Date(from.value).getTime(), to.value ? new Date(to.value).getTime() : Date.now()];
    const now = Date.now(); return [now - RANGES[range.value === 'custom' ? '15m' : range.value], now];
  }
  function showError(e) {
    const body = e.body || {};
    err.textContent = body.position !== undefined ? `${e.message}\n${q.value}\n${' '.repeat(body.position)}^` : e.message;
  }
  const ctx = {
    cols: state.cols,
    onFilter: (k, v) => { q.value = (q.value.trim() ? q.value.trim() + ' and ' : '') + `${k}:${JSON.stringify(typeof v === 'string' ? v : fieldText(v))}`; run(); },
    onColumn: k => { const i = state.cols.indexOf(k); if (i < 0) state.cols.push(k); else state.cols.splice(i, 1); run(); },
    onSurrounding: hit => surrounding(hit),
  };
  function drawHead() {
    hits.style.setProperty('--cols', discoverGrid(state.cols));
    head.replaceChildren(...[h('span', {}, 'Time'), h('span', {}, 'app'), h('span', {}, 'severity'),
      state.cols.length ? state.cols.map(c => h('span', { class: 'c-col', title: c }, h('button', { class: 'col-remove', title: 'remove column', onclick: () => ctx.onColumn(c) }, '×'), ' ', c)) : h('span', {}, 'Document'), h('span', {})].flat());
  }
  function showCount() {
    total.textContent = `${state.total.toLocaleString()} hits — showing ${state.shown.toLocaleString()}`;
    moreBtn.style.display = state.next ? '' : 'none';
  }
  async function surrounding(hit) {
    const t = new Date(hit['@timestamp']).getTime();
    const [before, after] = await Promise.all([
      api(`/api/logs/search?q=&from=${t - 3600e3}&to=${t}&limit=5`),
      api(`/api/logs/search?q=&from=${t}&to=${t + 3600e3}&limit=6&order=asc`)]);
    list.replaceChildren(h('h3', {}, 'Surrounding events ', h('button', { onclick: () => run() }, 'back')));
    moreBtn.style.display = 'none';
    [...before.hits.reverse(), ...after.hits].forEach(x => { const el = discoverRow(x, ctx); if (x.id === hit.id) el.classList.add('focus'); list.append(el); });
  }
  async function validate() {
    const v = await api('/api/logs/validate?q=' + encodeURIComponent(q.value));
    if (v.valid) { err.textContent = ''; return true; }
    showError({ message: v.error, body: v });
    return false;
  }
  let vt = null;
  q.addEventListener('input', () => { clearTimeout(vt); vt = setTimeout(validate, 300); });
  function drawFields(fields) {
    const picked = new Set(state.cols);
    const fieldRow = fs => h('div', { class: 'f' }, h('div', { class: 'fname' }, h('b', { title: fs.field }, fs.field),
      h('button', { class: 'col-toggle', title: picked.has(fs.field) ? 'remove column' : 'add as a column', onclick: () => ctx.onColumn(fs.field) }, picked.has(fs.field) ? 'remove' : 'add')),
      fs.top.map(v => h('div', { class: 'v', title: `${v.value} — add to query`, onclick: () => ctx.onFilter(fs.field, v.value) }, h('span', { class: 'vt' }, v.value), h('span', { class: 'muted' }, v.count))));
    const sel = fields.filter(f => picked.has(f.field)), rest = fields.filter(f => !picked.has(f.field));
    side.replaceChildren(...[sel.length ? h('h3', {}, 'Selected fields') : [], sel.map(fieldRow), h('h3', {}, 'Fields'), rest.map(fieldRow)].flat());
  }
  let running = 0;
  async function run() {
    const my = ++running;
    err.textContent = '';
    if (!(await validate())) return;
    const [f, t] = window_();
    state.qs = `q=${encodeURIComponent(q.value)}&from=${Math.floor(f)}&to=${Math.ceil(t)}`;
    history.replaceState(null, '', '#/logs?q=' + encodeURIComponent(q.value) + (state.cols.length ? '&cols=' + encodeURIComponent(state.cols.join(',')) : '') + (size !== 100 ? '&size=' + size : '') +
      (state.from ? `&from=${Math.floor(f)}&to=${Math.ceil(t)}` : ''));
    try {
      const [res, hg, fields] = await Promise.all([api(`/api/logs/search?${state.qs}&limit=${size}`), api(`/api/logs/histogram?${state.qs}`), api(`/api/logs/fields?${state.qs}`)]);
      if (my !== running) return;
      state.total = hg.total; state.next = res.next || ''; state.shown = res.hits.length;
      hist.replaceChildren(barChart(hg.buckets, parseDur(hg.interval), (a, z) => { state.from = a; state.to = z; run(); }, 96));
      drawHead();
      list.replaceChildren(...res.hits.map(x => discoverRow(x, ctx)));
      if (!res.hits.length) list.append(h('div', { class: 'muted' }, 'No events match.'));
      showCount();
      drawFields(fields.fields);
    } catch (e) { showError(e); }
  }
  // more appends the next page of older events, as Discover's infinite scroll.
  let loading = false;
  async function more() {
    if (loading || !state.next) return;
    loading = true;
    try {
      const res = await api(`/api/logs/search?${state.qs}&limit=${size}&cursor=${encodeURIComponent(state.next)}`);
      state.next = res.next || ''; state.shown += res.hits.length;
      list.append(...res.hits.map(x => discoverRow(x, ctx)));
      showCount();
    } catch (e) { showError(e); } finally { loading = false; }
  }
  const io = new IntersectionObserver(es => { if (es.some(e => e.isIntersecting)) more(); }, { rootMargin: '400px' });
  io.observe(moreBtn); onLeave(() => io.disconnect());
  let ws = null;
  tailBtn.onclick = () => {
    if (ws) { ws.close(); ws = null; tailBtn.textContent = 'Live tail'; return; }
    ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/logs/tail?q=${encodeURIComponent(q.value)}`);
    tailBtn.textContent = 'Stop tail'; list.replaceChildren(h('h3', {}, 'Live tail')); moreBtn.style.display = 'none';
    ws.onmessage = m => { const ev = JSON.parse(m.data); if (ev.obs_tail_dropped) return; list.insertBefore(discoverRow({ '@timestamp': ev['@timestamp'], event: ev }, ctx), list.children[1] || null); };
    ws.onerror = () => showError(new Error('live tail failed: check the query'));
  };
  onLeave(() => ws && ws.close());
  let timer = null;
  auto.onchange = () => { clearInterval(timer); if (+auto.value) timer = setInterval(run, +auto.value); };
  onLeave(() => clearInterval(timer));
  await run();
};
// localInput is a time as a datetime-local input shows it.
function localInput(ms) { const d = new Date(ms); return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`; }
function parseDur(s) { let ms = 0; for (const [, n, u] of s.matchAll(/([0-9.]+)(h|m|s|ms)/g)) ms += +n * { h: 3600e3, m: 60e3, s: 1e3, ms: 1 }[u]; return ms || 60e3; }

// Dashboards.
// expand puts dashboard variables into a target, query or title ($service, ${service}).
function expand(s, vals) {
  if (!s) return s;
  for (const [k, v] of Object.entries(vals)) s = s.split('${' + k + '}').join(v).replace(new RegExp('\\$' + k + '\\b', 'g'), () => v);
  return s;
}
async function panelData(p, fromS, untilS) {
  const series = [];
  for (const t of p.targets || []) {
    if (t.lang === 'promql') {
      const step = Math.max(15, Math.floor((untilS - fromS) / 300));
      const r = await api(`/api/v1/query_range?query=${encodeURIComponent(t.expr)}&start=${fromS}&end=${untilS}&step=${step}`);
      for (const s of r.data.result) series.push({ name: Object.entries(s.metric).map(([k, v]) => k === '__name__' ? v : `${k}=${v}`).join(' ') || t.expr, points: s.values.map(([ts, v]) => [ts * 1000, isNaN(+v) ? null : +v]) });
    } else {
      const r = await api(`/render?target=${encodeURIComponent(t.expr)}&from=${fromS}&until=${untilS}&format=json&maxDataPoints=600`);
      for (const s of r) series.push({ name: s.target, points: s.datapoints.map(([v, ts]) => [ts * 1000, v]) });
    }
  }
  return series;
}
// loadPanel fetches what a panel shows; drawPanel draws it at the panel's
// width over domain [from, to] ms. Apart, so a resize redraws without fetching.
async function loadPanel(p, fromS, untilS) {
  if (p.type === 'timeseries' || p.type === 'stat') return { series: await panelData(p, fromS, untilS) };
  const qs = `q=${encodeURIComponent(p.query || '')}&from=${fromS * 1000}&to=${untilS * 1000}`;
  if (p.type === 'loghistogram') return { hg: await api(`/api/logs/histogram?${qs}`) };
  if (p.type === 'logtable') return { hits: (await api(`/api/logs/search?${qs}&limit=20`)).hits };
  if (p.type === 'services') return { svcs: await api('/api/services') };
  return {};
}
// traceSearchLink is the traces page for service around time t (± the
// chart's step, at least a minute: a StatsD point stands for the requests
// of the flush interval before it, and spans carry their start) with
// durations from 0.8 to 1.25 times v milliseconds.
function traceSearchLink(service, t, v, step) {
  const half = Math.max(step, 60e3);
  const q = new URLSearchParams({ service: String(service).toLowerCase(), end: Math.round(t + half), lookback: Math.round(2 * half), min: +(v * 0.8).toFixed(3), max: +(v * 1.25).toFixed(3) });
  return '#/traces?' + q;
}
function drawPanel(p, body, data, domain) {
  body.replaceChildren();
  if (data.error) { body.append(h('div', { class: 'err' }, data.error.message)); return; }
  const width = body.clientWidth || 600;
  // A latency panel of a service's dashboard: a point's click opens the
  // service's traces of that moment whose duration is near the point's value.
  const onPoint = p.unit === 'ms' && p.traceService ? (t, v, step) => { location.hash = traceSearchLink(p.traceService, t, v, step); } : null;
  if (p.type === 'timeseries') body.append(lineChart(data.series, p.unit, { width, height: p.height || 180, domain, onPoint }), legend(data.series, p.unit));
  else if (p.type === 'stat') {
    const pts = data.series.length ? data.series[0].points : [], last = [...pts].reverse().find(x => x[1] !== null);
    body.append(h('div', { class: 'stat-panel' }, h('div', { class: 'stat' }, last ? fmtVal(last[1], p.unit) : '-'), sparkline(pts, width)));
  } else if (p.type === 'loghistogram') body.append(barChart(data.hg.buckets, parseDur(data.hg.interval), () => { location.hash = '#/logs?q=' + encodeURIComponent(p.query || ''); }), h('div', { class: 'muted' }, `${data.hg.total.toLocaleString()} events`));
  else if (p.type === 'logtable') body.append(h('div', { class: 'logtable' }, data.hits.map(x => plainRow(x))));
  else if (p.type === 'services') body.append(h('div', { class: 'tiles' }, data.svcs.map(s => h('a', { href: `#/services/${s.name}`, class: `tile ${s.status}`, style: 'text-decoration:none' }, s.name, h('small', {}, s.status)))));
}
// dataStart is the earliest time any chart of the dashboard has a value.
function dataStart(loaded) {
  let first = Infinity;
  for (const d of loaded) for (const s of (d && d.series) || []) { const p = s.points.find(x => x[1] !== null); if (p) first = Math.min(first, p[0]); }
  return first;
}
pages.dashboards = async (app, args) => {
  const list = await api('/api/dashboards');
  if (!args[0]) {
    const imp = h('textarea', { rows: 4, style: 'width:100%', placeholder: 'Paste a dashboard JSON to import' });
    app.append(h('div', { class: 'card' }, h('h2', {}, 'Dashboards'), h('table', {}, list.map(d => h('tr', {}, h('td', {}, h('a', { href: `#/dashboards/${d.id}` }, d.title)), h('td', { class: 'muted' }, d.builtIn ? 'built in' : 'saved'), h('td', {}, `${d.panels.length} panels`)))),
      h('div', { class: 'row' }, h('button', { id: 'new-dashboard', onclick: async () => { const title = prompt('Dashboard title', 'My dashboard'); if (!title) return; const id = title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'dashboard'; await api(`/api/dashboards/${id}`, { method: 'PUT', body: JSON.stringify({ id, title, panels: [] }) }); location.hash = `#/dashboards/${id}`; } }, 'New dashboard')),
      h('h3', {}, 'Import'), imp, h('button', { onclick: async () => { try { const d = JSON.parse(imp.value); d.builtIn = false; await api(`/api/dashboards/${d.id}`, { method: 'PUT', body: JSON.stringify(d) }); location.hash = `#/dashboards/${d.id}`; } catch (e) { alert('Import failed: ' + e.message); } } }, 'Import')));
    return;
  }
  let d = list.find(x => x.id === args[0]);
  if (!d) throw new Error('no dashboard ' + args[0]);
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const range = h('select', { id: 'dash-range' }, ['1h', '15m', '24h', '7d'].map(k => h('option', { value: k, selected: params.get('range') === k ? 'selected' : null }, 'Last ' + k)));
  const grid = h('div', { class: 'grid', id: 'panels' });
  let editing = false;
  // Variables, as Grafana's: a select per variable, filled from /metrics/find,
  // the pick kept in the URL (var-service=recipe-api).
  const vals = {}, varSelects = [];
  for (const v of d.variables || []) {
    vals[v.name] = params.get('var-' + v.name) || v.default || '';
    const sel = h('select', { id: 'var-' + v.name, class: 'var' });
    const nodes = await api(`/metrics/find?query=${encodeURIComponent(v.query)}`).catch(() => []);
    const opts = [...new Set([...nodes.map(n => n.text), vals[v.name]].filter(Boolean))].sort();
    sel.append(...opts.map(o => h('option', { value: o, selected: o === vals[v.name] ? 'selected' : null }, o)));
    sel.onchange = () => { vals[v.name] = sel.value; keepURL(); draw(); };
    varSelects.push(h('label', { class: 'row var-label' }, h('span', { class: 'muted' }, v.label || v.name), sel));
  }
  function keepURL() {
    const q = new URLSearchParams(); if (range.value !== '1h') q.set('range', range.value);
    for (const [k, v] of Object.entries(vals)) q.set('var-' + k, v);
    history.replaceState(null, '', `#/dashboards/${d.id}` + (q.toString() ? '?' + q : ''));
  }
  const bar = h('div', { class: 'row' }, h('h2', { class: 'grow', style: 'margin:0' }, d.title, d.builtIn ? h('span', { class: 'muted' }, ' (built in, read-only)') : ''), varSelects, range,
    d.builtIn ? h('button', { onclick: async () => { const id = d.id + '-copy'; await api(`/api/dashboards/${id}`, { method: 'PUT', body: JSON.stringify({ ...d, id, title: d.title + ' (copy)', builtIn: false }) }); location.hash = `#/dashboards/${id}`; } }, 'Copy') : null,
    !d.builtIn ? h('button', { id: 'edit', onclick: () => { editing = !editing; draw(); } }, 'Edit') : null,
    !d.builtIn ? h('button', { id: 'add-panel', onclick: () => editPanel(null) }, 'Add panel') : null,
    !d.builtIn ? h('button', { id: 'save', class: 'primary', onclick: save }, 'Save') : null,
    h('button', { onclick: () => { const a = h('a', { href: URL.createObjectURL(new Blob([JSON.stringify(d, null, 2)], { type: 'application/json' })), download: d.id + '.json' }); a.click(); } }, 'Export'),
    !d.builtIn ? h('button', { onclick: async () => { if (confirm('Delete ' + d.title + '?')) { await api(`/api/dashboards/${d.id}`, { method: 'DELETE' }); location.hash = '#/dashboards'; } } }, 'Delete') : null);
  const status = h('span', { class: 'muted', id: 'save-status' }), span = h('div', { class: 'muted', id: 'dash-span' });
  app.append(h('div', { class: 'card' }, bar, status, span), grid);
  async function save() { try { await api(`/api/dashboards/${d.id}`, { method: 'PUT', body: JSON.stringify(d) }); status.textContent = 'Saved.'; } catch (e) { status.textContent = 'Save failed: ' + e.message; } }
  function editPanel(idx) {
    const p = idx === null ? { id: 'p' + Date.now(), title: 'New panel', type: 'timeseries', unit: 'count', width: 6, targets: [{ lang: 'graphite', expr: '' }] } : JSON.parse(JSON.stringify(d.panels[idx]));
    const dl = h('datalist', { id: 'metric-names' });
    const title = h('input', { value: p.title, id: 'panel-title' });
    const type = h('select', { id: 'panel-type' }, ['timeseries', 'stat', 'loghistogram', 'logtable', 'services'].map(t => h('option', { value: t, selected: t === p.type ? 'selected' : null }, t)));
    const unit = h('select', {}, ['count', 'persec', 'ms', 'bytes', 'percent'].map(u => h('option', { value: u, selected: u === p.unit ? 'selected' : null }, u)));
    const query = h('input', { value: p.query || '', placeholder: 'KQL for log panels', style: 'width:100%' });
    const targets = h('div', {});
    const addTarget = t => {
      const lang = h('select', {}, ['graphite', 'promql'].map(l => h('option', { value: l, selected: l === t.lang ? 'selected' : null }, l)));
      const expr = h('input', { value: t.expr, list: 'metric-names', class: 'target-expr', style: 'width:70%', placeholder: 'stats_counts.web-api.*' });
      expr.addEventListener('input', async () => {
        // Autocomplete the path being typed from /metrics/find.
        const m = expr.value.match(/([A-Za-z0-9_.*{}\-]*)$/), path = m ? m[1] : '';
        const base = path.includes('.') ? path.slice(0, path.lastIndexOf('.') + 1) : '';
        try { const nodes = await api(`/metrics/find?query=${encodeURIComponent(base + '*')}`); dl.replaceChildren(); for (const n of nodes) dl.append(h('option', { value: expr.value.slice(0, expr.value.length - path.length) + n.id + (n.leaf ? '' : '.') })); } catch { }
      });
      targets.append(h('div', { class: 'row target' }, lang, expr));
    };
    (p.targets || []).forEach(addTarget);
    const dlg = h('div', { class: 'card', id: 'panel-editor' }, h('h3', {}, idx === null ? 'Add panel' : 'Edit panel'), dl,
      h('div', { class: 'row' }, 'Title', title, 'Type', type, 'Unit', unit), h('div', {}, 'Queries'), targets,
      h('button', { onclick: () => addTarget({ lang: 'graphite', expr: '' }) }, '+ query'), h('div', {}, query),
      h('div', { class: 'row' }, h('button', { class: 'primary', id: 'panel-apply', onclick: () => {
        p.title = title.value; p.type = type.value; p.unit = unit.value; p.query = query.value || undefined;
        p.targets = [...targets.querySelectorAll('.target')].map(r => ({ lang: r.querySelector('select').value, expr: r.querySelector('input').value })).filter(t => t.expr);
        if (idx === null) d.panels.push(p); else d.panels[idx] = p;
        dlg.remove(); draw();
      } }, 'Apply'), h('button', { onclick: () => dlg.remove() }, 'Cancel')));
    grid.before(dlg);
  }
  let gen = 0, shown = null;
  // draw(true) is the periodic refresh: the panels stay on screen and take
  // their new data in place (no flash of 'loading…', no jump in height).
  async function draw(refresh = false) {
    const my = ++gen;
    const untilS = Math.floor(Date.now() / 1000), rangeS = RANGES[range.value] / 1000;
    let fromS = untilS - rangeS;
    const panels = d.panels.map(p => ({ ...p, title: expand(p.title, vals), query: expand(p.query, vals), targets: (p.targets || []).map(t => ({ ...t, expr: expand(t.expr, vals) })), traceService: vals.service }));
    const keep = refresh && shown && shown.bodies.length === panels.length;
    if (!keep) grid.replaceChildren();
    const bodies = keep ? shown.bodies : panels.map((p, i) => {
      const body = h('div', { class: 'panel-body' });
      const tools = editing ? h('span', {},
        h('button', { title: 'move left', onclick: () => { if (i > 0) { [d.panels[i - 1], d.panels[i]] = [d.panels[i], d.panels[i - 1]]; draw(); } } }, '←'),
        h('button', { title: 'move right', onclick: () => { if (i < d.panels.length - 1) { [d.panels[i + 1], d.panels[i]] = [d.panels[i], d.panels[i + 1]]; draw(); } } }, '→'),
        h('button', { title: 'narrower', onclick: () => { d.panels[i].width = Math.max(2, (p.width || 6) - 2); draw(); } }, '−'),
        h('button', { title: 'wider', onclick: () => { d.panels[i].width = Math.min(12, (p.width || 6) + 2); draw(); } }, '+'),
        h('button', { onclick: () => editPanel(i) }, 'edit'), h('button', { onclick: () => { d.panels.splice(i, 1); draw(); } }, '✕')) : null;
      grid.append(h('div', { class: 'panel', style: `grid-column:span ${p.width || 6}`, 'data-panel': p.id }, h('h3', {}, h('span', { class: 'ptitle', title: p.title }, p.title), tools), body));
      body.append(h('div', { class: 'muted' }, 'loading…'));
      return body;
    });
    if (!d.panels.length && !keep) grid.append(h('div', { class: 'muted', style: 'grid-column:span 12' }, 'No panels yet: Add panel.'));
    const load = (f) => Promise.all(panels.map(p => loadPanel(p, f, untilS).catch(error => ({ error }))));
    let loaded = await load(fromS);
    if (my !== gen) return;
    // Two minutes of data in "Last 1h" is a sliver at the right edge: show
    // what the data covers instead, and say so (Grafana's "zoom to data").
    const first = dataStart(loaded);
    span.textContent = '';
    if (first < Infinity && first / 1000 > fromS + rangeS * 0.1) {
      fromS = Math.max(fromS, Math.floor(first / 1000 - Math.max(30, (untilS - first / 1000) * 0.05)));
      span.textContent = `Showing ${new Date(fromS * 1000).toLocaleTimeString()} to now: the data starts there (Last ${range.value} chosen).`;
      loaded = await load(fromS);
      if (my !== gen) return;
    }
    shown = { panels, bodies, loaded, domain: [fromS * 1000, untilS * 1000] };
    redraw();
  }
  function redraw() { if (shown) shown.panels.forEach((p, i) => drawPanel(p, shown.bodies[i], shown.loaded[i], shown.domain)); }
  let rt = null;
  const onResize = () => { clearTimeout(rt); rt = setTimeout(redraw, 150); };
  window.addEventListener('resize', onResize); onLeave(() => window.removeEventListener('resize', onResize));
  range.onchange = () => { keepURL(); draw(); };
  draw();
  const t = setInterval(() => { if (!editing && !$('#panel-editor')) draw(true); }, 30000); onLeave(() => clearInterval(t));
};

// Traces: search, the dependency graph and a trace's waterfall, as Zipkin
// Lens and Jaeger draw them.
// Each service keeps one colour on every page (a hash of its name).
const SVC_COLORS = ['#4c9ffe', '#2e9d5a', '#8e44ad', '#d89614', '#16a2b8', '#c2185b', '#5d6d7e', '#7cb342', '#6d4c41', '#3949ab'];
function svcColor(name) { let x = 0; for (const c of String(name)) x = (x * 31 + c.charCodeAt(0)) >>> 0; return SVC_COLORS[x % SVC_COLORS.length]; }
const svcOf = sp => (sp.localEndpoint && sp.localEndpoint.serviceName) || '?';
const isErr = sp => !!(sp.tags && 'error' in sp.tags);
pages.traces = async (app, args) => {
  if (args[0]) return traceView(app, args[0]);
  const services = await api('/api/v2/services');
  const svc = h('select', { id: 'trace-service' }, h('option', { value: '' }, 'any service'), services.map(s => h('option', { value: s }, s)));
  const span = h('input', { placeholder: 'span name', id: 'trace-span' }), tags = h('input', { placeholder: 'tags: error and http.method=GET', class: 'grow' });
  const minD = h('input', { placeholder: 'min ms', size: 6, id: 'trace-min' }), maxD = h('input', { placeholder: 'max ms', size: 6, id: 'trace-max' });
  const lb = h('select', { id: 'trace-range' }, ['1h', '15m', '24h', '7d'].map(k => h('option', { value: k }, 'Last ' + k)));
  const results = h('div', { class: 'card', id: 'trace-results' }), deps = h('div', { class: 'card', id: 'deps' });
  // ?service=web-api&range=1h&tag=error: a search another page links to (the incident view).
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  if (params.get('service')) { if (!services.includes(params.get('service'))) svc.append(h('option', { value: params.get('service') }, params.get('service'))); svc.value = params.get('service'); }
  if (RANGES[params.get('range')]) lb.value = params.get('range');
  if (params.get('tag')) tags.value = params.get('tag');
  // end and lookback (ms), min and max (ms): a latency panel's point.
  const custom = { end: +params.get('end'), lookback: +params.get('lookback') };
  if (custom.end > 0 && custom.lookback > 0) { lb.append(h('option', { value: 'custom' }, `${new Date(custom.end - custom.lookback).toLocaleTimeString()} – ${new Date(custom.end).toLocaleTimeString()}`)); lb.value = 'custom'; }
  if (+params.get('min') > 0) minD.value = params.get('min');
  if (+params.get('max') > 0) maxD.value = params.get('max');
  app.append(h('div', { class: 'card row' }, svc, span, tags, minD, maxD, lb, h('button', { class: 'primary', id: 'find-traces', onclick: find }, 'Find traces')), deps, results);
  async function find() {
    const p = new URLSearchParams(lb.value === 'custom' ? { limit: 50, lookback: custom.lookback, endTs: custom.end } : { limit: 50, lookback: RANGES[lb.value], endTs: Date.now() });
    if (svc.value) p.set('serviceName', svc.value); if (span.value) p.set('spanName', span.value); if (tags.value) p.set('annotationQuery', tags.value);
    if (minD.value) p.set('minDuration', Math.round(minD.value * 1000)); if (maxD.value) { p.set('maxDuration', Math.round(maxD.value * 1000)); if (!minD.value) p.set('minDuration', 1); }
    const traces = await api('/api/v2/traces?' + p);
    results.replaceChildren(h('h3', {}, `${traces.length} traces`, svc.value ? ` of ${svc.value}` : ''));
    const maxDur = Math.max(1, ...traces.map(t => summary(t).dur));
    results.append(h('table', {}, traces.map(t => {
      const s = summary(t), svcs = [...new Set(t.map(svcOf))];
      return h('tr', { class: 'trace-row' }, h('td', {}, h('a', { href: `#/traces/${t[0].traceId}` }, `${svcOf(s.root)}: ${s.root.name || ''}`), s.err ? h('span', { class: 'sev-error' }, ' error') : null),
        h('td', {}, svcs.map(n => h('span', { class: 'svc-chip', style: `border-color:${svcColor(n)}` }, n))),
        h('td', { class: 'mono' }, new Date(s.start / 1000).toLocaleString()), h('td', {}, `${t.length} spans`),
        h('td', { style: 'width:25%' }, h('div', { class: 'dur', style: `width:${s.dur / maxDur * 100}%;${s.err ? 'background:#f08c6c' : ''}` })), h('td', {}, fmtDur(s.dur)));
    })));
    if (!traces.length) results.append(h('div', { class: 'muted' }, 'No traces match.'));
  }
  const links = await api(`/api/v2/dependencies?endTs=${Date.now()}&lookback=${7 * 24 * 3600e3}`);
  // A node's click narrows the search to that service, as Lens does.
  deps.append(h('h3', {}, 'Service dependencies'), depGraph(links, deps.clientWidth - 24, n => { svc.value = n; find(); }));
  await find();
};
function summary(spans) {
  const ids = new Set(spans.map(s => s.id));
  let start = Infinity, end = 0, err = false, root = spans[0];
  for (const s of spans) { if (s.timestamp) { start = Math.min(start, s.timestamp); end = Math.max(end, s.timestamp + (s.duration || 0)); } if (isErr(s)) err = true; if (!s.parentId || !ids.has(s.parentId)) if (!root.parentId === false || s.timestamp < root.timestamp) root = s; }
  return { start, dur: end - start, err, root };
}
// depGraph lays services out left to right in layers (callers before the
// services they call), as Zipkin's dependency page: boxes with the name,
// curved edges with call and error counts, error edges red.
function depGraph(links, width, onPick) {
  const names = [...new Set(links.flatMap(l => [l.parent, l.child]))].sort();
  const layer = Object.fromEntries(names.map(n => [n, 0]));
  // Longest path from a caller: a cycle stops growing after |names| rounds.
  for (let i = 0; i < names.length; i++) for (const l of links) if (l.parent !== l.child && layer[l.child] < layer[l.parent] + 1) layer[l.child] = layer[l.parent] + 1;
  const cols = [];
  for (const n of names) (cols[layer[n]] = cols[layer[n]] || []).push(n);
  const W = Math.max(width || 600, 320), colW = Math.max(...names.map(n => textW(n) + 28), 90), rowH = 64;
  // Room between layers for the edge labels, the whole graph centred.
  const gap = cols.length > 1 ? Math.min(Math.max((W - 40 - colW * cols.length) / (cols.length - 1), 140), 320) : 0;
  const total = cols.length * colW + (cols.length - 1) * gap, VW = Math.max(W, total + 40), x0 = (VW - total) / 2;
  const H = Math.max(110, Math.max(...cols.map(c => c.length), 1) * rowH + 30);
  const pos = {};
  cols.forEach((c, i) => c.forEach((n, j) => { pos[n] = { x: x0 + i * (colW + gap), y: (H - c.length * rowH) / 2 + j * rowH + rowH / 2, w: textW(n) + 24 }; }));
  const svg = S('svg', { viewBox: `0 0 ${VW} ${H}`, width: '100%', id: 'dep-graph' },
    S('defs', {}, ['#889', '#d9480f'].map((c, i) => S('marker', { id: 'arr' + i, viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto' }, S('path', { d: 'M0,0L10,5L0,10z', fill: c })))));
  for (const l of links) {
    const a = pos[l.parent], b = pos[l.child], red = l.errorCount > 0;
    const x1 = a.x + a.w, y1 = a.y, x2 = b.x - 2, y2 = b.y, mx = (x1 + x2) / 2;
    const d = l.parent === l.child ? `M${x1},${y1 - 6}C${x1 + 40},${y1 - 40} ${a.x - 40},${y1 - 40} ${a.x},${y1 - 6}` : `M${x1},${y1}C${mx},${y1} ${mx},${y2} ${x2},${y2}`;
    const calls = `${l.callCount.toLocaleString()} ${l.callCount === 1 ? 'call' : 'calls'}`, errs = red ? `${l.errorCount} ${l.errorCount === 1 ? 'error' : 'errors'}` : '';
    svg.append(S('path', { d, fill: 'none', stroke: red ? '#d9480f' : '#889', 'stroke-width': 1.5, 'marker-end': `url(#arr${red ? 1 : 0})`, class: 'dep-edge' }),
      S('text', { x: mx, y: (y1 + y2) / 2 - 8, 'text-anchor': 'middle', class: 'dep-label' }, calls, red ? S('tspan', { fill: '#b3261e' }, ', ' + errs) : null));
  }
  for (const n of names) {
    const p = pos[n];
    svg.append(S('g', { class: 'dep-node', onclick: () => onPick && onPick(n) }, S('title', {}, `${n}: click to find its traces`),
      S('rect', { x: p.x, y: p.y - 14, width: p.w, height: 28, rx: 5, fill: '#fff', stroke: svcColor(n), 'stroke-width': 2 }),
      S('text', { x: p.x + p.w / 2, y: p.y + 4, 'text-anchor': 'middle', class: 'dep-name' }, n)));
  }
  if (!names.length) svg.append(S('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'no dependencies yet'));
  return svg;
}
const fmtEndpoint = e => !e ? '-' : [e.serviceName || '', [e.ipv4 || (e.ipv6 ? `[${e.ipv6}]` : ''), e.port ? e.port : ''].filter(Boolean).join(':')].filter(Boolean).join(' ') || '-';
async function traceView(app, id) {
  const spans = await api('/api/v2/trace/' + id);
  const s = summary(spans);
  // One row per span id: a CLIENT half and its SERVER half share it (Zipkin's shared spans).
  const rows = {}, order = [];
  for (const sp of spans) { if (!rows[sp.id]) { rows[sp.id] = { id: sp.id, halves: [], parent: sp.parentId }; order.push(sp.id); } rows[sp.id].halves.push(sp); if (sp.kind !== 'SERVER') rows[sp.id].parent = sp.parentId; }
  for (const r of Object.values(rows)) r.halves.sort((a, b) => (a.kind === 'SERVER') - (b.kind === 'SERVER'));
  const kids = {}, roots = [];
  for (const rid of order) { const r = rows[rid]; (r.parent && rows[r.parent] && r.parent !== rid ? (kids[r.parent] = kids[r.parent] || []) : roots).push(r); }
  const services = [...new Set(spans.map(svcOf))], errors = spans.filter(isErr).length;
  const dur = Math.max(s.dur, 1), pct = us => ((us - s.start) / dur * 100);
  const logs = await api(`/api/logs/search?q=${encodeURIComponent(traceKQL(id))}&from=now-30d&to=now%2B1d&limit=500&order=asc`).catch(() => ({ hits: [] }));
  const detail = h('div', { class: 'card', id: 'span-detail' }, h('span', { class: 'muted' }, 'Click a span for its tags, annotations and log events.'));
  // The ruler: ticks at round fractions of the trace's duration.
  const rt = niceTicks(0, dur, 5);
  const ruler = h('div', { class: 'wf-row wf-ruler' }, h('div', { class: 'wf-label muted' }, `${services.length} services`),
    h('div', { class: 'wf-bar' }, rt.ticks.filter(t => t <= dur).map(t => h('span', { class: 'tick', style: `left:${t / dur * 100}%` }, fmtDur(t)))), h('div', { class: 'wf-dur' }, ''));
  const wf = h('div', { class: 'card grow', id: 'waterfall' },
    h('h2', {}, `Trace ${id}`), h('div', { class: 'row muted' }, `${fmtDur(s.dur)} · ${spans.length} spans · `, services.map(n => h('span', { class: 'svc-chip', style: `border-color:${svcColor(n)}` }, n)),
      errors ? h('span', { class: 'sev-error' }, `${errors} error${errors === 1 ? '' : 's'}`) : null, `started ${new Date(s.start / 1000).toLocaleString()}`), ruler);
  const els = {};
  const walk = (r, depth) => {
    const st = Math.min(...r.halves.map(x => x.timestamp || s.start)), en = Math.max(...r.halves.map(x => (x.timestamp || s.start) + (x.duration || 0)));
    const err = r.halves.some(isErr), main = r.halves[r.halves.length - 1], has = (kids[r.id] || []).length;
    const tog = h('span', { class: 'wf-tog', title: has ? 'collapse / expand' : null }, has ? '▾' : '');
    const label = h('div', { class: 'wf-label', style: `padding-left:${depth * 14}px`, title: r.halves.map(x => `${svcOf(x)} ${x.kind || ''} ${x.name || ''}`).join(' / ') }, tog,
      h('span', { class: 'svc-dot', style: `background:${svcColor(svcOf(main))}` }), h('b', { class: err ? 'sev-error' : '' }, svcOf(main)), ' ', h('span', {}, main.name || ''),
      r.halves.length > 1 ? h('span', { class: 'muted' }, ` ${r.halves.map(x => (x.kind || '').toLowerCase()).join('+')}`) : main.kind ? h('span', { class: 'muted' }, ' ' + main.kind.toLowerCase()) : null);
    const bar = h('div', { class: 'wf-bar' }, rt.ticks.filter(t => t <= dur).map(t => h('span', { class: 'grid-line', style: `left:${t / dur * 100}%` })),
      // CLIENT half light, SERVER half in the service's colour on top: the gap is the network.
      r.halves.map(x => { const a = x.timestamp || s.start; return h('div', { class: `span-bar${isErr(x) ? ' e' : ''}${x.kind === 'CLIENT' && r.halves.length > 1 ? ' client' : ''}`, title: `${svcOf(x)} ${x.kind || ''}: ${fmtDur(x.duration || 0)}`, style: `left:${pct(a)}%;width:${Math.max((x.duration || 0) / dur * 100, 0.4)}%;background:${isErr(x) ? '#d9480f' : svcColor(svcOf(x))}` }); }),
      r.halves.flatMap(x => (x.annotations || []).map(a => h('span', { class: 'anno', title: `${a.value} at +${fmtDur(a.timestamp - s.start)} (${svcOf(x)})`, style: `left:${pct(a.timestamp)}%` }))));
    const row = h('div', { class: `wf-row span-row${err ? ' err' : ''}`, 'data-span': r.id, onclick: () => showSpan(r) }, label, bar, h('div', { class: 'wf-dur' }, fmtDur(en - st)));
    els[r.id] = row; wf.append(row);
    if (has) tog.onclick = e => { e.stopPropagation(); const hide = tog.textContent === '▾'; tog.textContent = hide ? '▸' : '▾'; setHidden(r.id, hide); };
    (kids[r.id] || []).sort((a, b) => (a.halves[0].timestamp || 0) - (b.halves[0].timestamp || 0)).forEach(k => walk(k, depth + 1));
  };
  // A collapsed span hides its whole subtree; expanding shows what was not itself collapsed.
  const setHidden = (rid, hide) => { for (const k of kids[rid] || []) { els[k.id].hidden = hide; const t = $('.wf-tog', els[k.id]); if (!hide && t.textContent === '▸') continue; setHidden(k.id, hide); } };
  roots.forEach(r => walk(r, 0));
  function showSpan(r) {
    wf.querySelectorAll('.span-row.sel').forEach(e => e.classList.remove('sel')); els[r.id].classList.add('sel');
    detail.replaceChildren();
    for (const x of r.halves) {
      const rel = us => '+' + fmtDur(us - s.start);
      detail.append(h('h3', {}, h('span', { class: 'svc-dot', style: `background:${svcColor(svcOf(x))}` }), `${svcOf(x)} ${x.kind || 'LOCAL'}: ${x.name || ''}`), h('table', { class: 'kv-table' },
        [['span id', x.id], ['parent', x.parentId || '-'], ['start', rel(x.timestamp || s.start)], ['duration', fmtDur(x.duration || 0)],
          ['local endpoint', fmtEndpoint(x.localEndpoint)], ['remote endpoint', fmtEndpoint(x.remoteEndpoint)]].map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', { class: 'mono' }, v))),
        Object.entries(x.tags || {}).map(([k, v]) => h('tr', { class: k === 'error' ? 'sev-error' : '' }, h('th', { class: 'mono' }, k), h('td', { class: 'mono' }, v))),
        (x.annotations || []).map(a => h('tr', {}, h('th', {}, rel(a.timestamp)), h('td', {}, a.value)))));
    }
    const mine = logs.hits.filter(l => { const ev = l.event || {}; return [ev.spanId, ev.span_id, ev.fields && ev.fields.span_id].includes(r.id); });
    detail.append(h('h3', {}, `Log events of this span (${mine.length})`), h('div', {}, mine.length ? mine.map(x => plainRow(x, true)) : h('div', { class: 'muted' }, 'None.')));
  }
  app.append(h('div', { class: 'layout trace-layout' }, wf, detail));
  app.append(h('div', { class: 'card', id: 'trace-logs' }, h('h3', {}, `Log events of this trace (${logs.hits.length}) `, h('a', { href: '#/logs?q=' + encodeURIComponent(traceKQL(id)), class: 'small' }, 'in Discover')),
    logs.hits.length ? logs.hits.map(x => plainRow(x)) : h('div', { class: 'muted' }, 'No log event carries this trace id.')));
  showSpan(roots[0] || rows[order[0]]);
}

// Services.
pages.services = async (app, args) => {
  const svcs = await api('/api/services');
  if (args[0] === '_new' || !svcs.length) {
    if (!svcs.length && args[0] !== '_new') app.append(h('div', { class: 'card muted' }, 'No services yet: add services: to the config file, or create one here.'));
    app.append(definitionEditor(null, { name: 'my-service', notify: [], channels: ['sms', 'call'], checks: [{ name: 'my-service-health', type: 'http', endpoint: 'http://127.0.0.1:3000/health', status_code: 200, importance: 'critical', interval: '30s' }] }));
    return;
  }
  const name = args[0] || svcs[0].name;
  const nav = h('div', { class: 'tiles' }, svcs.map(s => h('a', { href: `#/services/${encodeURIComponent(s.name)}`, class: `tile ${s.status}`, style: 'text-decoration:none' }, s.name, h('small', {}, s.status))),
    h('a', { href: '#/services/_new', class: 'tile', id: 'new-service', style: 'text-decoration:none;color:#2d6cdf;border:1px dashed #9cc3ff' }, '+ New service'));
  if (args[1] === 'edit') {
    const d = await api(`/api/services/${encodeURIComponent(name)}/definition`);
    app.append(h('div', { class: 'card' }, nav), definitionEditor(name, d.definition));
    return;
  }
  const v = await api('/api/services/' + encodeURIComponent(name));
  const alerts = (await api('/api/alerts')).filter(a => a.service === name).slice(0, 30);
  const msg = h('span', { class: 'muted', id: 'svc-msg' });
  const act = async (f) => { try { await f(); route(); } catch (e) { msg.textContent = e.message; msg.className = 'sev-error'; } };
  const ackFor = h('input', { value: '20m', size: 5, id: 'ack-for' });
  const report = h('div', { class: 'card', id: 'svc-report' }, h('h3', {}, 'Report, last 7 days'));
  app.append(h('div', { class: 'card' }, nav),
    h('div', { class: 'card', id: 'service' }, h('div', { class: 'row' }, h('h2', { class: 'grow', style: 'margin:0' }, v.name, ' ', h('span', { class: `tile ${v.status}`, id: 'svc-status', style: 'padding:2px 8px' }, v.status)),
      v.acknowledged_until ? h('span', { id: 'acked' }, `acknowledged until ${new Date(v.acknowledged_until).toLocaleTimeString()} by ${v.acknowledged_by || '?'}`) : null,
      'for', ackFor, h('button', { id: 'ack', onclick: () => act(() => api(`/api/services/${encodeURIComponent(name)}/ack`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ for: ackFor.value, by: 'ui' }) })) }, 'Acknowledge'),
      v.acknowledged_until ? h('button', { onclick: () => act(() => api(`/api/services/${encodeURIComponent(name)}/ack`, { method: 'DELETE' })) }, 'Unacknowledge') : null,
      v.read_only ? h('span', { class: 'muted', id: 'svc-source' }, 'from obs.yaml (read-only)') : [
        h('a', { href: `#/services/${encodeURIComponent(name)}/edit`, id: 'svc-edit' }, 'Edit'),
        h('button', { id: 'svc-delete', onclick: () => { if (confirm(`Delete ${name}?`)) act(async () => { await api(`/api/services/${encodeURIComponent(name)}`, { method: 'DELETE' }); location.hash = '#/services'; }); } }, 'Delete')],
      msg),
      h('div', { class: 'muted', id: 'svc-oncall' }, `on call: ${v.on_call.join(', ') || 'nobody'}${v.on_call_source ? ' (' + v.on_call_source + ')' : ''} — texts: ${v.paged.sms.join(', ') || 'nobody'}; calls: ${v.paged.call.join(', ') || 'nobody'}`,
        v.runbook ? h('a', { href: v.runbook, style: 'margin-left:12px' }, 'runbook') : null, v.in_maintenance ? ' — in maintenance' : ''),
      v.unpaged ? h('div', { class: 'sev-error', id: 'svc-unpaged' }, `Alert at ${new Date(v.unpaged.time).toLocaleString()} paged nobody: ${v.unpaged.reason}`) : null,
      statusStrip(v.status_history || []),
      h('table', {}, h('tr', {}, ['check', 'type', 'importance', 'last result', 'response', ''].map(x => h('th', {}, x))),
        v.checks.map(c => [h('tr', { class: 'check-row' }, h('td', {}, c.name, c.active ? '' : h('small', { class: 'muted' }, ' (disabled)')), h('td', {}, c.type, c.reads_from ? h('small', { class: 'muted' }, ' ' + c.reads_from) : ''), h('td', {}, c.importance),
          h('td', { class: c.failing ? 'sev-error' : '' }, c.last ? (c.last.ok ? 'passing' : c.last.reason) + ` (${new Date(c.last.time).toLocaleTimeString()})` : 'not run yet'),
          h('td', {}, c.last ? c.last.response_ms.toFixed(0) + ' ms' : ''),
          h('td', {}, h('button', { onclick: async () => { const r = await api(`/api/checks/${encodeURIComponent(c.name)}/run`, { method: 'POST' }); msg.textContent = `${c.name}: ${r.ok ? 'passing' : r.reason}`; setTimeout(route, 800); } }, 'Run now'))),
        c.last_failure && c.last_failure.raw_data ? h('tr', {}, h('td', { colspan: 6 }, h('details', { class: 'raw-data' }, h('summary', { class: 'muted' }, `raw data of the last failure (${new Date(c.last_failure.time).toLocaleString()})`),
          h('pre', { class: 'mono', style: 'white-space:pre-wrap;max-height:240px;overflow:auto' }, c.last_failure.raw_data)))) : null]).flat())),
    incidentView(name, v),
    report,
    h('div', { class: 'card' }, h('h3', {}, 'Alerts'), alerts.length ? h('table', {}, alerts.map(a => h('tr', {}, h('td', {}, new Date(a.time).toLocaleString()), h('td', {}, a.kind), h('td', {}, `${a.previous} → ${a.status}`),
      h('td', {}, (a.channels || []).map(ch => h('div', { class: ch.ok ? '' : 'sev-error' }, `${ch.channel} ${ch.user || ''} ${ch.to || ''}: ${ch.ok ? 'sent ' + (ch.sid || '') : ch.error}`)))))) : h('div', { class: 'muted' }, 'No alerts sent.')));
  api(`/api/services/${encodeURIComponent(name)}/report?from=now-7d`).then(r => {
    const line = (x) => h('div', {}, h('b', {}, x.name), ` ${x.uptime_percent === null ? 'no data' : x.uptime_percent.toFixed(2) + '% up'}${x.kind === 'check' ? `, ${x.runs} runs` : ''}, ${x.problems.length} problems`,
      x.problems.length ? h('table', {}, x.problems.slice(-20).map(p => h('tr', {}, h('td', {}, new Date(p.start).toLocaleString()), h('td', {}, p.end ? new Date(p.end).toLocaleString() : 'ongoing'), h('td', {}, p.duration), h('td', { class: 'sev-' + p.worst_status }, p.worst_status)))) : null);
    report.append(line(r), ...(r.checks || []).map(line));
  }).catch(e => report.append(h('div', { class: 'err' }, e.message)));
  const t = setInterval(async () => { const nv = await api('/api/services/' + encodeURIComponent(name)).catch(() => null); if (nv && nv.status !== v.status) route(); }, 5000);
  onLeave(() => clearInterval(t));
};
// The incident view: what explains a service's state, over the window of
// its current failure (the incident API's default) or one chosen: failing
// checks, its log events (errors first, the messages grouped), its failing
// and slow traces, its dashboard's panels; each a click from its full page.
const INCIDENT_RANGES = { '': 'current failure', '15m': 'last 15m', '1h': 'last 1h', '6h': 'last 6h', '24h': 'last 24h' };
// serviceKQL is alert/incident's ServiceKQL: app (the seed), service, service.name (OTLP).
// JSON's string quoting is KQL's: \" and \\ escaped.
function serviceKQL(name) { const q = JSON.stringify(name); return `app:${q} or service:${q} or service.name:${q}`; }
function incidentView(name, v) {
  const since = new URLSearchParams(location.hash.split('?')[1] || '').get('since') || '';
  const sel = h('select', { id: 'incident-range' }, Object.entries(INCIDENT_RANGES).map(([k, label]) => h('option', { value: k, selected: k === since ? 'selected' : null }, label)));
  sel.onchange = () => { location.hash = `#/services/${encodeURIComponent(name)}` + (sel.value ? '?since=' + sel.value : ''); };
  const win = h('span', { class: 'muted', id: 'incident-window' }, 'loading…');
  const checks = h('div', { id: 'incident-checks' }), history = h('div', { id: 'incident-history' }), logs = h('div', { id: 'incident-logs' }), traces = h('div', { id: 'incident-traces' }), metrics = h('div', { id: 'incident-metrics' });
  const card = h('div', { class: 'card', id: 'incident' }, h('div', { class: 'row' }, h('h2', { class: 'grow', style: 'margin:0' }, 'Incident'), win, sel),
    checks, history, h('h3', {}, 'Log events'), logs, h('h3', {}, 'Traces'), traces, h('h3', {}, 'Metrics'), metrics);
  (async () => {
    const rep = await api(`/api/incident/${encodeURIComponent(name)}` + (since ? '?since=' + encodeURIComponent(since) : ''));
    const f = Date.parse(rep.window.from), t = Date.parse(rep.window.to);
    win.textContent = `${fmtTime(f)} – ${fmtTime(t)}`;
    const failing = rep.checks.filter(c => c.status !== 'PASSING');
    checks.replaceChildren(h('h3', {}, 'Failing checks'), failing.length ? h('table', {}, failing.map(c => h('tr', { class: 'incident-check' }, h('td', { class: 'sev-' + c.status.toLowerCase() }, c.status), h('td', {}, h('b', {}, c.name)), h('td', {}, c.reason))))
      : h('div', { class: 'muted' }, 'No check is failing.'));
    // The status changes in the window, and the one it started from.
    const hist = (v.status_history || []).map(x => ({ ...x, t: Date.parse(x.time) })), inWin = hist.filter(x => x.t >= f), before = hist.filter(x => x.t < f).pop();
    history.replaceChildren(h('h3', {}, 'Status history'), [before, ...inWin].filter(Boolean).length ? h('div', { class: 'row' }, [before, ...inWin].filter(Boolean).map(x => h('span', { class: `tile ${x.status} status-change`, style: 'padding:2px 8px' }, `${x.status} ${x.t < f ? 'before' : 'at'} ${new Date(x.t).toLocaleTimeString()}`)))
      : h('div', { class: 'muted' }, 'No status change recorded.'));
    // Logs: the counts, the messages grouped, then the events, errors first.
    const svcQ = serviceKQL(rep.service), errQ = `(${svcQ}) and (${ERROR_Q})`, restQ = `(${svcQ}) and not (${ERROR_Q})`;
    const discover = (q, a = f, z = t) => `#/logs?q=${encodeURIComponent(q)}&from=${Math.floor(a)}&to=${Math.ceil(z) + 1}`;
    const window_ = `from=${Math.floor(f)}&to=${Math.ceil(t) + 1}`;
    const [errs, rest] = await Promise.all([api(`/api/logs/search?q=${encodeURIComponent(errQ)}&${window_}&limit=15`), api(`/api/logs/search?q=${encodeURIComponent(restQ)}&${window_}&limit=5`)]);
    // replaceChildren would write a null as the text "null": h() drops them.
    logs.replaceChildren(h('div', {}, h('div', { class: 'row', id: 'incident-log-counts' }, h('span', { class: rep.logs.errors ? 'sev-error' : '' }, `${rep.logs.errors.toLocaleString()} errors`), `in ${rep.logs.total.toLocaleString()} events`, rep.logs.errors > 10000 ? h('span', { class: 'muted' }, '(messages grouped from the newest 10,000)') : null, // alert/incident.MaxGrouped
      h('a', { href: discover(errQ), id: 'incident-discover-errors' }, 'errors in Discover'), h('a', { href: discover(svcQ), id: 'incident-discover' }, 'all events in Discover')),
      rep.logs.top.length ? h('table', { id: 'incident-groups' }, h('tr', {}, ['count', 'message', 'first', 'last'].map(x => h('th', {}, x))),
        rep.logs.top.map(g => h('tr', { class: 'incident-group' }, h('td', {}, g.count.toLocaleString()), h('td', { class: 'mono' }, h('a', { href: discover(errQ, Date.parse(g.first), Date.parse(g.last)), title: 'these errors in Discover' }, g.message)),
          h('td', {}, new Date(g.first).toLocaleTimeString()), h('td', {}, new Date(g.last).toLocaleTimeString())))) : null,
      h('div', { id: 'incident-events' }, [...errs.hits, ...rest.hits].map(x => plainRow(x))),
      errs.hits.length + rest.hits.length ? null : h('div', { class: 'muted' }, 'No log events of this service in the window.')));
    // Traces: failing first, then those over the checks' latency threshold (else the slowest).
    const range = Object.keys(RANGES).find(k => RANGES[k] >= Date.now() - f) || '7d';
    traces.replaceChildren(rep.traces.length ? h('table', {}, rep.traces.map(x => h('tr', { class: 'incident-trace' }, h('td', {}, x.error ? h('span', { class: 'sev-error' }, 'error') : 'slow'),
      h('td', {}, h('a', { href: `#/traces/${encodeURIComponent(x.traceId)}`, class: 'mono' }, x.traceId)), h('td', {}, x.rootSpan), h('td', {}, fmtDur(x.durationMs * 1000))))) : h('div', { class: 'muted' }, 'No failing or slow traces in the window.'),
      h('div', { class: 'row' }, h('a', { href: `#/traces?service=${encodeURIComponent(rep.service.toLowerCase())}&range=${range}&tag=error` }, 'failing traces in Traces'), h('a', { href: `#/traces?service=${encodeURIComponent(rep.service.toLowerCase())}&range=${range}` }, 'all traces')));
    // Metrics: the panels of each dashboard with a $service variable, for this service.
    const dashes = (await api('/api/dashboards').catch(() => [])).filter(d => (d.variables || []).some(x => x.name === 'service'));
    const fromS = Math.floor(f / 1000), untilS = Math.ceil(t / 1000), vals = { service: rep.service };
    metrics.replaceChildren(...(dashes.length ? [] : [h('div', { class: 'muted' }, 'No dashboard has a $service variable.')]));
    for (const d of dashes) {
      const grid = h('div', { class: 'grid' });
      metrics.append(h('div', { class: 'row' }, h('b', {}, d.title), h('a', { href: `#/dashboards/${encodeURIComponent(d.id)}?range=${range}&var-service=${encodeURIComponent(rep.service)}`, class: 'incident-dashboard' }, 'open the dashboard')), grid);
      const panels = d.panels.filter(p => p.type === 'timeseries' || p.type === 'stat').map(p => ({ ...p, title: expand(p.title, vals), targets: (p.targets || []).map(x => ({ ...x, expr: expand(x.expr, vals) })), traceService: rep.service }));
      const boxes = panels.map(p => h('div', { class: 'panel', style: `grid-column:span ${Math.max(p.width || 6, 4)}`, 'data-panel': p.id }, h('h3', {}, h('span', { class: 'ptitle', title: p.title }, p.title)), h('div', { class: 'panel-body' }, h('div', { class: 'muted' }, 'loading…'))));
      grid.append(...boxes);
      const loaded = await Promise.all(panels.map(p => loadPanel(p, fromS, untilS).catch(error => ({ error }))));
      // A panel of metrics this service does not send is left out, not drawn empty.
      const empty = loaded.map(x => !x.error && !(x.series || []).some(sr => sr.points.some(pt => pt[1] !== null)));
      panels.forEach((p, i) => empty[i] ? boxes[i].remove() : drawPanel(p, boxes[i].lastChild, loaded[i], [f, t]));
      if (empty.every(Boolean)) grid.replaceWith(h('div', { class: 'muted' }, `No metrics of ${rep.service} in this dashboard's panels over the window.`));
    }
  })().catch(e => { win.textContent = ''; card.append(h('div', { class: 'err', id: 'incident-error' }, e.message)); });
  return card;
}
// definitionEditor edits a service as JSON with obs.yaml's keys; the API
// validates it as the file is and names the bad key.
function definitionEditor(name, def) {
  const text = h('textarea', { id: 'svc-definition', rows: 22, style: 'width:100%', spellcheck: 'false', class: 'mono' });
  text.value = JSON.stringify(def, null, 2);
  const err = h('div', { class: 'err', id: 'svc-definition-error' });
  const save = async () => {
    err.textContent = '';
    try {
      const body = text.value;
      const d = name ? await api(`/api/services/${encodeURIComponent(name)}`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body })
        : await api('/api/services', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
      location.hash = `#/services/${encodeURIComponent(d.definition.name)}`;
    } catch (e) { err.textContent = e.message; }
  };
  return h('div', { class: 'card' }, h('h3', {}, name ? `Edit ${name}` : 'New service'),
    h('div', { class: 'muted' }, 'Keys as in obs.yaml (configs/obs.example.yaml); secrets show as REDACTED and are kept when left so. A check with "active": false is disabled.'),
    text, err, h('div', { class: 'row' }, h('button', { class: 'primary', id: 'svc-save', onclick: save }, 'Save'), h('a', { href: name ? `#/services/${encodeURIComponent(name)}` : '#/services' }, 'Cancel')));
}
function statusStrip(hist) {
  // A bar per status change over the last day: how the service has been.
  const W = 600, H = 18, now = Date.now(), from = now - 24 * 3600e3;
  const svg = S('svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', height: H, preserveAspectRatio: 'none', id: 'status-history' });
  const col = { PASSING: '#2e9d5a', WARNING: '#d89614', ERROR: '#d9480f', CRITICAL: '#b3261e' };
  svg.append(S('rect', { x: 0, y: 0, width: W, height: H, fill: '#e8ebf0' }));
  hist.forEach((c, i) => {
    const a = Math.max(new Date(c.time).getTime(), from), z = i + 1 < hist.length ? new Date(hist[i + 1].time).getTime() : now; if (z < from) return;
    svg.append(S('rect', { x: (a - from) / (now - from) * W, y: 0, width: Math.max((z - a) / (now - from) * W, 1), height: H, fill: col[c.status] || '#889' },
      S('title', {}, `${c.status} since ${new Date(c.time).toLocaleString()}`)));
  });
  return h('div', {}, svg, h('div', { class: 'row muted', style: 'font-size:11px;justify-content:space-between' }, h('span', {}, 'status, last 24h'), h('span', {}, 'now')));
}

route();
