// web-api of the seed's tracing chapter: a fastify service traced with
// zipkin-lite that starts traces (init: 'short', 64-bit ids) and calls
// recipe-api with node-fetch, reporting a CLIENT span for the call with
// prepare()/complete(), as the seed's consumer does.
// Usage: PORT=3000 HOST=127.0.0.1 TARGET=127.0.0.1:4000 ZIPKIN=127.0.0.1:9411 node seed-web-api.js
'use strict';
const server = require('fastify')();
const fetch = require('node-fetch');
const Zipkin = require('zipkin-lite');

const HOST = process.env.HOST || '127.0.0.1';
const PORT = process.env.PORT || 3000;
const TARGET = process.env.TARGET || 'localhost:4000';
const zipkin = new Zipkin({
  zipkinHost: process.env.ZIPKIN || 'localhost:9411',
  serviceName: 'web-api', servicePort: PORT, serviceIp: HOST,
  init: 'short',
});
server.addHook('onRequest', zipkin.onRequest());
server.addHook('onResponse', zipkin.onResponse());

server.get('/', async (req) => {
  req.zipkin.setName('get_root');
  const url = `http://${TARGET}/recipes/42`;
  const zreq = req.zipkin.prepare();
  const recipe = await fetch(url, { headers: zreq.headers });
  zreq.complete('GET', url);
  const producer_data = await recipe.json();
  return { pid: process.pid, producer_data, trace: req.zipkin.trace };
});

server.listen(PORT, HOST, (err) => {
  if (err) { console.error(err); process.exit(1); }
  console.log('listening');
});
