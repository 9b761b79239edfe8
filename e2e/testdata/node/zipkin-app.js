// Two Node services traced with the npm packages zipkin and
// zipkin-transport-http at their defaults (v1 JSON to /api/v1/spans):
// node-web receives a request and calls node-recipe. Prints the trace id.
// Usage: node zipkin-app.js ZIPKIN_PORT
'use strict';
const http = require('http');
const express = require('express');
const { Tracer, BatchRecorder, ExplicitContext, Instrumentation } = require('zipkin');
const { HttpLogger } = require('zipkin-transport-http');
const { expressMiddleware } = require('zipkin-instrumentation-express');

const zport = Number(process.argv[2]);
const loggers = [];

function tracer(service) {
  const logger = new HttpLogger({ endpoint: `http://127.0.0.1:${zport}/api/v1/spans` });
  loggers.push(logger);
  return new Tracer({ ctxImpl: new ExplicitContext(), recorder: new BatchRecorder({ logger }), localServiceName: service });
}

function listen(app) {
  return new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
}

function get(url, headers) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
}

async function main() {
  const recipeTracer = tracer('node-recipe');
  const recipe = express();
  recipe.use(expressMiddleware({ tracer: recipeTracer }));
  recipe.get('/recipes/:id', (req, res) => setTimeout(() => res.json({ id: req.params.id }), 20));
  const recipeServer = await listen(recipe);

  const webTracer = tracer('node-web');
  const client = new Instrumentation.HttpClient({ tracer: webTracer, remoteServiceName: 'node-recipe' });
  const web = express();
  web.use(expressMiddleware({ tracer: webTracer }));
  web.get('/', (req, res) => {
    const traceId = webTracer.id.traceId;
    const url = `http://127.0.0.1:${recipeServer.address().port}/recipes/42`;
    const opts = client.recordRequest({ headers: {} }, url, 'GET');
    const id = webTracer.id;
    get(url, opts.headers).then((r) => {
      webTracer.letId(id, () => client.recordResponse(id, r.status));
      res.json({ traceId, recipe: JSON.parse(r.body) });
    }, (e) => { webTracer.letId(id, () => client.recordError(id, e)); res.status(500).end(); });
  });
  const webServer = await listen(web);

  const r = await get(`http://127.0.0.1:${webServer.address().port}/`, {});
  const { traceId } = JSON.parse(r.body);
  // HttpLogger sends its queue every second.
  await new Promise((res) => setTimeout(res, 2500));
  webServer.close();
  recipeServer.close();
  console.log(traceId);
  process.exit(0);
}

main().catch((e) => { console.error(e); process.exit(1); });
