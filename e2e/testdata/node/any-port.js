// Loaded with `node -r ./any-port.js PROGRAM`: every UDP socket and TCP
// server PROGRAM binds takes a free port, whatever port it asks for, and
// says which on stderr ("listening udp 41234", "listening tcp 40321").
// A test then never picks a port that another process could take before
// the program binds it; Etsy's statsd cannot be told port 0 (it reads 0
// as "use the default, 8125").
'use strict';
const dgram = require('dgram');
const net = require('net');

const bind = dgram.Socket.prototype.bind;
dgram.Socket.prototype.bind = function (port, address, cb) {
  this.once('listening', () => process.stderr.write(`listening udp ${this.address().port}\n`));
  if (port !== null && typeof port === 'object') return bind.call(this, { ...port, port: 0 }, address);
  return bind.call(this, 0, address, cb);
};

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  this.once('listening', () => process.stderr.write(`listening tcp ${this.address().port}\n`));
  if (typeof args[0] === 'number' || typeof args[0] === 'string') args[0] = 0;
  else if (args[0] !== null && typeof args[0] === 'object') args[0] = { ...args[0], port: 0 };
  return listen.apply(this, args);
};
