// A web-api like the seed's, instrumented with statsd-client and its Express
// middleware, plus hot-shots with DogStatsD tags. Usage: node statsd-app.js STATSD_PORT
// Prints "sent" once every request has been served and every client closed.
'use strict';
const http = require('http');
const express = require('express');
const SDC = require('statsd-client');
const HotShots = require('hot-shots');

const port = Number(process.argv[2]);
const statsd = new SDC({ host: '127.0.0.1', port, prefix: 'web-api' });

const app = express();
app.use(statsd.helpers.getExpressMiddleware('inbound', { timeByUrl: true }));
app.get('/recipes/:id', (req, res) => {
  // The seed's outbound call to recipe-api, timed and counted.
  const begin = new Date();
  statsd.timing('outbound.recipe-api.request-time', begin);
  statsd.increment('outbound.recipe-api.request-count');
  res.json({ id: req.params.id });
});
app.get('/fail', (req, res) => res.status(500).send('boom'));

function get(base, path) {
  return new Promise((resolve, reject) => {
    http.get(base + path, (res) => { res.resume(); res.on('end', resolve); }).on('error', reject);
  });
}

async function main() {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.on('listening', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  for (let i = 0; i < 7; i++) await get(base, `/recipes/${i}`);
  for (let i = 0; i < 3; i++) await get(base, '/fail');
  // The seed's Node.js health gauges.
  statsd.gauge('server.conn', 3);
  statsd.gauge('server.memory.used', 52428800);

  const hot = new HotShots({ host: '127.0.0.1', port, globalTags: { env: 'test' } });
  hot.increment('hot.requests', 5, { route: '/a' });
  hot.increment('hot.requests', 2, { route: '/b' });
  hot.histogram('hot.latency', 42, { route: '/a' });
  hot.distribution('hot.latency', 58, { route: '/a' });
  hot.gauge('hot.queue', 9);
  hot.set('hot.users', 'alice');
  hot.set('hot.users', 'bob');
  hot.set('hot.users', 'alice');
  hot.event('deploy', 'web-api v2 rolled out', { alert_type: 'info' }, ['env:test']);
  hot.check('db.reachable', hot.CHECKS.OK, { message: 'fine' }, ['env:test']);

  await new Promise((r) => setTimeout(r, 200)); // let the middleware's last sends go
  statsd.close();
  await new Promise((r) => hot.close(r));
  server.close();
  console.log('sent');
}

main().catch((e) => { console.error(e); process.exit(1); });
