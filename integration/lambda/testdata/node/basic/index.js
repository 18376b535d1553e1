// A CommonJS handler: one async function, whose event's "op" picks what it
// does (integration/lambda tests).
'use strict';
const http = require('node:http');
const https = require('node:https');
const tls = require('node:tls');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function get(url) {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    mod
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf-8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      })
      .on('error', reject);
  });
}

function rawTLS(host, path) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port: 443 }, () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    });
    let data = '';
    s.setEncoding('utf-8');
    s.on('data', (c) => (data += c));
    s.on('end', () => resolve({ status: parseInt(data.split(' ')[1]), body: data.split('\r\n\r\n')[1] }));
    s.on('error', reject);
  });
}

class ValidationError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ValidationError';
  }
}

exports.handler = async (event, context) => {
  switch (event.op) {
    case 'echo':
      return event;
    case 'info':
      return {
        pid: process.pid,
        cwd: process.cwd(),
        awsRequestId: context.awsRequestId,
        functionName: context.functionName,
        functionVersion: context.functionVersion,
        invokedFunctionArn: context.invokedFunctionArn,
        memoryLimitInMB: context.memoryLimitInMB,
        logGroupName: context.logGroupName,
        logStreamName: context.logStreamName,
        remainingMs: context.getRemainingTimeInMillis(),
        callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
        legacy: [typeof context.done, typeof context.succeed, typeof context.fail],
        traceId: process.env._X_AMZN_TRACE_ID,
        env: process.env,
        execArgv: process.execArgv,
      };
    case 'throw':
      throw new Error(event.text);
    case 'throwCustom':
      throw new ValidationError(event.text);
    case 'throwString':
      throw event.text;
    case 'throwObject':
      throw { code: 42 };
    case 'unhandled':
      Promise.reject(new Error(event.text));
      await sleep(1000);
      return 'not reached';
    case 'uncaught':
      setTimeout(() => {
        throw new TypeError(event.text);
      }, 10);
      await sleep(1000);
      return 'not reached';
    case 'never':
      return new Promise(() => {});
    case 'circular': {
      const o = {};
      o.self = o;
      return o;
    }
    case 'exit':
      process.exit(3);
      break;
    case 'log':
      console.log('hello from node\nsecond line');
      console.warn('careful: %d', 42);
      console.error('bad', { a: 1 });
      console.debug('details');
      process.stdout.write('raw stdout line\n');
      return 'logged';
    case 'sleep':
      await sleep(event.ms);
      return { pid: process.pid };
    case 'get':
      return get(event.url);
    case 'tls':
      return rawTLS(event.host, event.path);
    case 'fetch': {
      const res = await fetch(event.url);
      return { status: res.status, body: await res.text() };
    }
    default:
      return { unknown: event.op };
  }
};
