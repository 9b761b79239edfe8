// Sends log events to obs the ways real Node apps do: the seed's logstash.js
// (dgram, one JSON per datagram), log4js with @log4js-node/logstashudp,
// winston 2 with winston-logstash-udp, pino with pino-socket in UDP mode,
// and garbage. Usage: node send.js PORT
'use strict';
const dgram = require('dgram');
const port = Number(process.argv[2]);
const host = '127.0.0.1';

function seedLogstash() {
  // What the seed's web-api logstash.js does.
  const client = dgram.createSocket('udp4');
  const send = (severity, type, fields) => new Promise((resolve) => {
    const payload = JSON.stringify({
      '@timestamp': (new Date()).toISOString(),
      '@version': 1, app: 'web-api', environment: 'development',
      severity, type, fields, host: 'seed-host',
    });
    client.send(payload, port, host, resolve);
  });
  const sev = ['info', 'error', 'warn', 'info', 'error', 'debug', 'warn', 'info'];
  return sev.reduce((p, s, i) => p.then(() => send(s, 'request', { n: i, path: `/recipes/${i}`, method: 'GET' })), Promise.resolve())
    .then(() => send('error', 'request', { n: 100 }).then(() => null))
    .then(() => new Promise((resolve) => {
      // The same app, recipe-api, must not match app:"web-api".
      const payload = JSON.stringify({ '@timestamp': new Date().toISOString(), '@version': 1, app: 'recipe-api', severity: 'error', type: 'request', fields: { n: 200 } });
      client.send(payload, port, host, () => { client.close(); resolve(); });
    }));
}

function log4jsLogs() {
  const log4js = require('log4js');
  log4js.configure({
    appenders: { logstash: { type: '@log4js-node/logstashudp', host, port } },
    categories: { default: { appenders: ['logstash'], level: 'info' } },
  });
  const logger = log4js.getLogger('recipes');
  logger.info('recipe fetched', { id: 42 });
  logger.error('recipe store unreachable', { id: 43 });
  logger.warn('slow recipe', { id: 44 });
  return new Promise((resolve) => setTimeout(() => log4js.shutdown(resolve), 200));
}

function winstonLogs() {
  const winston = require('winston');
  const { LogstashUDP } = require('winston-logstash-udp');
  const logger = new winston.Logger({ transports: [new LogstashUDP({ port, host, appName: 'winston-app' })] });
  const log = (level, msg, meta) => new Promise((resolve) => logger.log(level, msg, meta, resolve));
  return log('info', 'winston says hi', { user: 'alice' })
    .then(() => log('error', 'winston failed', { user: 'bob' }));
}

function pinoLogs() {
  const pino = require('pino');
  const transport = pino.transport({ target: 'pino-socket', options: { address: host, port, mode: 'udp' } });
  const logger = pino({ name: 'pino-app' }, transport);
  logger.info({ order: 1 }, 'pino order placed');
  logger.error({ order: 2 }, 'pino order failed');
  logger.fatal({ order: 3 }, 'pino crashed');
  // The transport runs in a worker thread: flush, then give it time to send.
  return new Promise((resolve) => logger.flush(() => setTimeout(resolve, 500)));
}

function garbage() {
  const client = dgram.createSocket('udp4');
  const bad = ['this is not json', '{"unterminated": ', '42', '"just a string"', Buffer.from([0xff, 0xfe, 0x00, 0x41])];
  return bad.reduce((p, b) => p.then(() => new Promise((r) => client.send(b, port, host, r))), Promise.resolve())
    .then(() => client.close());
}

seedLogstash()
  .then(log4jsLogs)
  .then(winstonLogs)
  .then(pinoLogs)
  .then(garbage)
  .then(() => { console.log('sent'); process.exit(0); })
  .catch((e) => { console.error(e); process.exit(1); });
