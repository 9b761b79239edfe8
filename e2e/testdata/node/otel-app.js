// A Node service instrumented with the OpenTelemetry JS SDK
// (@opentelemetry/sdk-node) at its defaults: OTLP/HTTP with JSON bodies,
// cumulative metrics. It serves one request (a server span with a client
// call under it), logs inside it, counts and times it, then shuts the SDK
// down (which flushes every signal) and prints the trace id.
// Usage: node otel-app.js OTLP_HTTP_PORT
'use strict';
const api = require('@opentelemetry/api');
const { logs, SeverityNumber } = require('@opentelemetry/api-logs');
const { NodeSDK } = require('@opentelemetry/sdk-node');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-http');
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-http');
const { PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
const { BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { resourceFromAttributes } = require('@opentelemetry/resources');

const base = `http://127.0.0.1:${Number(process.argv[2])}`;

const sdk = new NodeSDK({
  resource: resourceFromAttributes({ 'service.name': 'node-shop', 'service.namespace': 'shop', 'service.instance.id': 'n-1' }),
  // gzip on one signal: both encodings of a body are in the test.
  traceExporter: new OTLPTraceExporter({ url: `${base}/v1/traces`, compression: 'gzip' }),
  metricReaders: [new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }), exportIntervalMillis: 60000 })],
  logRecordProcessors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${base}/v1/logs` }) })],
  instrumentations: [],
});
sdk.start();

async function main() {
  const tracer = api.trace.getTracer('node-e2e');
  const logger = logs.getLogger('node-e2e');
  const meter = api.metrics.getMeter('node-e2e');
  const views = meter.createCounter('menu.views', { unit: '{view}' });
  const render = meter.createHistogram('menu.render.duration', { unit: 'ms' });
  let traceId;
  await tracer.startActiveSpan('GET /menu', { kind: api.SpanKind.SERVER, attributes: { 'http.route': '/menu' } }, async (server) => {
    traceId = server.spanContext().traceId;
    await tracer.startActiveSpan('load menu', { kind: api.SpanKind.CLIENT, attributes: { 'peer.service': 'menu-db', 'db.system': 'postgresql' } }, async (client) => {
      logger.emit({ severityNumber: SeverityNumber.WARN, severityText: 'WARN', body: 'menu is stale', attributes: { 'menu.id': 'm-1' } });
      logger.emit({ severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: { msg: 'structured', user: { id: 7 } } });
      client.setStatus({ code: api.SpanStatusCode.ERROR, message: 'timeout' });
      client.end();
    });
    views.add(5, { 'menu.section': 'lunch' });
    render.record(12);
    server.end();
  });
  await sdk.shutdown();
  console.log(traceId);
}

main().catch((e) => { console.error(e); process.exit(1); });
