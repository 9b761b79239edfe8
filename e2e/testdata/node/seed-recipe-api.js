// recipe-api of the seed's tracing chapter: a fastify service traced with
// zipkin-lite (a SERVER span per request, named with setName), configured
// from the environment as the seed's services are. Not a root service: it
// joins the trace its caller started.
// Usage: PORT=4000 HOST=127.0.0.1 ZIPKIN=127.0.0.1:9411 node seed-recipe-api.js
'use strict';
const server = require('fastify')();
const Zipkin = require('zipkin-lite');

const HOST = process.env.HOST || '127.0.0.1';
const PORT = process.env.PORT || 4000;
const zipkin = new Zipkin({
  zipkinHost: process.env.ZIPKIN || 'localhost:9411',
  serviceName: 'recipe-api', servicePort: PORT, serviceIp: HOST,
});
server.addHook('onRequest', zipkin.onRequest());
server.addHook('onResponse', zipkin.onResponse());

server.get('/recipes/:id', async (req) => {
  req.zipkin.setName('get_recipe');
  const id = Number(req.params.id);
  return { producer_pid: process.pid, recipe: { id, name: 'Chicken Tikka Masala', steps: 'Throw it in a pot...' } };
});

server.listen(PORT, HOST, (err) => {
  if (err) { console.error(err); process.exit(1); }
  console.log('listening');
});
