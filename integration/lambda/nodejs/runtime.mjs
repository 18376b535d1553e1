// Switchboard's runtime client for Node.js Lambda functions (nodejs18.x,
// nodejs20.x, nodejs22.x). Switchboard writes this file, with hooks.mjs, to
// a content-addressed cache directory (LAMBDA_RUNTIME_DIR) and runs
//
//     node --expose-gc --max-http-header-size=81920 runtime.mjs
//
// in the function's code directory (LAMBDA_TASK_ROOT), with _HANDLER and
// AWS_LAMBDA_RUNTIME_API set, as Lambda's Node.js runtime runs its own. It
// behaves like the runtime interface client of Lambda's managed Node.js
// runtimes (github.com/aws/aws-lambda-nodejs-runtime-interface-client 3.x):
// the same handler lookup (CommonJS and ES modules), the same handler
// conventions (async, callback with callbackWaitsForEmptyEventLoop, the
// legacy context.done/succeed/fail), the same context object, the same
// error documents and process exits, and the same console format. It talks
// to the Runtime API with node's http module instead of a native addon, so
// that nothing needs compiling. It has no dependencies.
//
// On top of Lambda's behaviour it adds three things a function needs to run
// outside AWS unchanged:
//   - @aws-sdk/* and @smithy/* packages the function does not bundle (Lambda's
//     runtime includes the AWS SDK for JavaScript v3) resolve from a shared
//     directory (SWITCHBOARD_NODE_SDK_DIR), where Switchboard installs missing
//     ones with npm on first use;
//   - the AWS SDK for JavaScript v2 (npm aws-sdk), which ignores
//     AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>, is made to honour them
//     (an endpoint set in code still wins);
//   - connections to SWITCHBOARD_EXECUTE_API_HOST (the API's
//     {apiId}.execute-api.{region}.amazonaws.com name) on port 443 or 80 go to
//     SWITCHBOARD_GATEWAY_ADDR, keeping the TLS server name and Host header.

import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import util from 'node:util';
import { Writable } from 'node:stream';
import { spawnSync } from 'node:child_process';
import Module, { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const env = process.env;

// ---------------------------------------------------------------------------
// Errors: the runtime's own types and the documents the Runtime API gets.

function defineRuntimeError(name, base = Error) {
  const cls = { [name]: class extends base {} }[name];
  cls.prototype.name = `Runtime.${name}`;
  return cls;
}

const ImportModuleError = defineRuntimeError('ImportModuleError');
const HandlerNotFound = defineRuntimeError('HandlerNotFound');
const MalformedHandlerName = defineRuntimeError('MalformedHandlerName');
const UserCodeSyntaxError = defineRuntimeError('UserCodeSyntaxError');
const MalformedStreamingHandler = defineRuntimeError('MalformedStreamingHandler');
class NodeJsExit extends Error {
  constructor() {
    super(
      'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes',
    );
  }
}
NodeJsExit.prototype.name = 'Runtime.NodeJsExit';
class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
UnhandledPromiseRejection.prototype.name = 'Runtime.UnhandledPromiseRejection';

function isErrorLike(obj) {
  return (
    obj &&
    typeof obj.name === 'string' && obj.name &&
    typeof obj.message === 'string' && obj.message &&
    typeof obj.stack === 'string' && obj.stack
  );
}

function intoError(err) {
  return err instanceof Error ? err : new Error(err);
}

// toRapidResponse is the error document posted to the Runtime API:
// {errorType, errorMessage, trace}.
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      return {
        errorType: error.name?.replaceAll('\x7F', '%7F'),
        errorMessage: error.message?.replaceAll('\x7F', '%7F'),
        trace: error.stack.replaceAll('\x7F', '%7F').split('\n'),
      };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

function withEnumerableProperties(value) {
  if (!(value instanceof Error)) return value;
  const out = Object.assign({ errorType: value.name, errorMessage: value.message, code: value.code }, value);
  if (typeof value.stack === 'string') out.stack = value.stack.split('\n');
  return out;
}

// toFormatted is how the runtime logs an error: a tab, then JSON.
function toFormatted(error) {
  try {
    return '\t' + JSON.stringify(error, (_k, v) => withEnumerableProperties(v));
  } catch {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

// xrayCause is the Lambda-Runtime-Function-XRay-Error-Cause document.
function xrayCause(err) {
  try {
    const stack = [];
    if (err && typeof err.stack === 'string') {
      for (const raw of err.stack.split('\n').slice(1)) {
        let line = raw.trim().replace(/\(|\)/g, '');
        line = line.substring(line.indexOf(' ') + 1);
        const label = line.lastIndexOf(' ') >= 0 ? line.slice(0, line.lastIndexOf(' ')) : null;
        const where = (label ? line.slice(line.lastIndexOf(' ') + 1) : line).split(':');
        stack.push({ path: where[0], line: parseInt(where[1]), label: label || 'anonymous' });
      }
    }
    return JSON.stringify({
      working_directory: process.cwd(),
      exceptions: [{ type: err?.name, message: err?.message, stack }],
      paths: [...new Set(stack.map((s) => s.path))],
    });
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------------------
// Console: Lambda's text format, "TIMESTAMP\tREQUEST_ID\tLEVEL\tmessage", one
// line per call (newlines become \r), or its JSON format when
// AWS_LAMBDA_LOG_FORMAT=JSON; AWS_LAMBDA_LOG_LEVEL filters.

const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');
const levels = Object.freeze({
  TRACE: { name: 'TRACE', priority: 1 },
  DEBUG: { name: 'DEBUG', priority: 2 },
  INFO: { name: 'INFO', priority: 3 },
  WARN: { name: 'WARN', priority: 4 },
  ERROR: { name: 'ERROR', priority: 5 },
  FATAL: { name: 'FATAL', priority: 6 },
});
const jsonFormat = env.AWS_LAMBDA_LOG_FORMAT?.toUpperCase() === 'JSON';

function jsonErrorReplacer(_k, value) {
  if (value instanceof Error) {
    return Object.assign(
      {
        errorType: value?.constructor?.name ?? 'UnknownError',
        errorMessage: value.message,
        stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
      },
      value,
    );
  }
  return value;
}

function formatJSON(requestId, timestamp, level, ...params) {
  const out = { timestamp, level: level.name, requestId };
  if (params.length === 1) {
    out.message = params[0];
    try {
      return JSON.stringify(out, jsonErrorReplacer);
    } catch {
      out.message = util.format(out.message);
      return JSON.stringify(out);
    }
  }
  out.message = util.format(...params);
  for (const p of params) {
    if (p instanceof Error) {
      out.errorType = p?.constructor?.name ?? 'UnknownError';
      out.errorMessage = p.message;
      out.stackTrace = typeof p.stack === 'string' ? p.stack.split('\n') : [];
      break;
    }
  }
  return JSON.stringify(out);
}

function writeLog(level, ...params) {
  const time = new Date().toISOString();
  const requestId = globalThis[REQUEST_ID];
  const line = jsonFormat
    ? formatJSON(requestId, time, level, ...params)
    : `${time}\t${requestId}\t${level.name}\t${util.format(...params)}`;
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
}

function patchConsole() {
  const min = levels[env.AWS_LAMBDA_LOG_LEVEL?.toUpperCase()] ?? levels.TRACE;
  const nop = () => {};
  const at = (level) => (level.priority >= min.priority ? (...p) => writeLog(level, ...p) : nop);
  console.trace = at(levels.TRACE);
  console.debug = at(levels.DEBUG);
  console.info = at(levels.INFO);
  console.log = console.info;
  console.warn = at(levels.WARN);
  console.error = at(levels.ERROR);
  console.fatal = (...p) => writeLog(levels.FATAL, ...p);
}

function logError(msg, err) {
  if (jsonFormat) console.error(intoError(err));
  else console.error(msg, toFormatted(intoError(err)));
}

// ---------------------------------------------------------------------------
// The Runtime API client.

const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';
const XRAY_CAUSE_HEADER = 'Lambda-Runtime-Function-XRay-Error-Cause';

// headerValue keeps a header value to the characters node accepts.
function headerValue(s) {
  return String(s ?? '').replace(/[^\t\x20-\x7e]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

function serialize(body) {
  try {
    return JSON.stringify(body === undefined ? null : body);
  } catch {
    throw new Error('Unable to stringify response body');
  }
}

class RapidClient {
  constructor(hostPort) {
    const i = hostPort.lastIndexOf(':');
    this.hostname = hostPort.slice(0, i);
    this.port = parseInt(hostPort.slice(i + 1), 10);
    // Two agents: a post (an error reported from an uncaught exception)
    // must never wait behind a pending /next.
    this.nextAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.postAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  nextInvocation() {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          hostname: this.hostname,
          port: this.port,
          path: '/2018-06-01/runtime/invocation/next',
          method: 'GET',
          agent: this.nextAgent,
        },
        (res) => {
          let data = '';
          res.setEncoding('utf-8');
          res.on('data', (chunk) => (data += chunk));
          res.on('end', () => resolve({ bodyJson: data, headers: res.headers }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  postInvocationResponse(response, id, callback) {
    this._post(`/2018-06-01/runtime/invocation/${encodeURIComponent(id)}/response`, serialize(response), {}, callback);
  }

  postRawResponse(body, contentType, id, callback) {
    this._post(`/2018-06-01/runtime/invocation/${encodeURIComponent(id)}/response`, body, { 'Content-Type': contentType }, callback);
  }

  postInvocationError(error, id, callback) {
    const doc = toRapidResponse(error);
    const headers = { [ERROR_TYPE_HEADER]: headerValue(doc.errorType) };
    const cause = headerValue(xrayCause(error));
    if (cause && cause.length < 64 << 10) headers[XRAY_CAUSE_HEADER] = cause;
    this._post(`/2018-06-01/runtime/invocation/${encodeURIComponent(id)}/error`, serialize(doc), headers, callback);
  }

  postInitError(error, callback) {
    const doc = toRapidResponse(error);
    this._post('/2018-06-01/runtime/init/error', serialize(doc), { [ERROR_TYPE_HEADER]: headerValue(doc.errorType) }, callback);
  }

  _post(urlPath, body, headers, callback) {
    const buf = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf-8');
    const req = http.request(
      {
        hostname: this.hostname,
        port: this.port,
        path: urlPath,
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Content-Length': buf.length, ...headers },
        agent: this.postAgent,
      },
      (res) => {
        res.on('data', () => {});
        res.on('end', () => callback());
        res.on('error', (e) => {
          throw e;
        });
      },
    );
    req.on('error', (e) => {
      throw e;
    });
    req.end(buf);
  }
}

// ---------------------------------------------------------------------------
// The AWS SDK for JavaScript v3, as Lambda's runtime provides it: @aws-sdk/*
// and @smithy/* that the function does not bundle resolve from
// SWITCHBOARD_NODE_SDK_DIR, where Switchboard installs the missing ones.

const SDK_PACKAGE = /^(@aws-sdk|@smithy)\/[^/]+/;
const hooksFile = fileURLToPath(new URL('./hooks.mjs', import.meta.url));

function installSDKResolution() {
  const sdkDir = env.SWITCHBOARD_NODE_SDK_DIR;
  if (!sdkDir) return;
  // CommonJS: NODE_PATH already lists sdkDir/node_modules (as Lambda's
  // lists /var/runtime/node_modules); a package still missing there is
  // installed, synchronously, then resolved from there.
  const resolveFilename = Module._resolveFilename;
  Module._resolveFilename = function (request, parent, isMain, options) {
    try {
      return resolveFilename.call(this, request, parent, isMain, options);
    } catch (err) {
      const m = err?.code === 'MODULE_NOT_FOUND' && typeof request === 'string' ? SDK_PACKAGE.exec(request) : null;
      if (!m) throw err;
      const r = spawnSync(process.execPath, [hooksFile, '--switchboard-install', m[0]], {
        stdio: ['ignore', 'ignore', 'pipe'],
        encoding: 'utf-8',
      });
      if (r.status !== 0) {
        err.message += '\n' + (r.stderr || r.error?.message || `installer exited with ${r.status}`).trim();
        throw err;
      }
      return resolveFilename.call(this, request, parent, isMain, { paths: [sdkDir] });
    }
  };
}

// registerESMHooks registers the resolve hook of hooks.mjs for ES modules
// (module.register: Node 18.19+, 20.6+), before the first import of the
// function's code: it starts a loader thread, which costs a CommonJS
// function's cold start some 50 ms it does not need.
let esmHooks = false;
function registerESMHooks() {
  if (esmHooks || !env.SWITCHBOARD_NODE_SDK_DIR) return;
  esmHooks = true;
  if (typeof Module.register === 'function') {
    Module.register(pathToFileURL(hooksFile).href, {
      data: { api: env.AWS_LAMBDA_RUNTIME_API, sdkDir: env.SWITCHBOARD_NODE_SDK_DIR },
    });
  } else {
    process.stderr.write(
      `switchboard: node ${process.version} has no module.register (Node 18.19+, 20.6+): ES modules of this function cannot import an AWS SDK v3 package they do not bundle; upgrade node or bundle the SDK\n`,
    );
  }
}

// ---------------------------------------------------------------------------
// The AWS SDK for JavaScript v2 ignores AWS_ENDPOINT_URL and
// AWS_ENDPOINT_URL_<SERVICE>; when the function loads it, each client it
// creates gets the endpoint those variables name, unless the code set one
// (in the client's options, AWS.config[<service>] or AWS.config.endpoint):
// the precedence SDK v3 gives them.

const V2_REQUEST = /(^|[\\/])aws-sdk([\\/]|$)/;
const V2_FILE = /^(.*[\\/]node_modules[\\/]aws-sdk)[\\/]/;
const patchedV2 = new WeakSet();

function endpointFromEnv(serviceId, identifier) {
  if (/^true$/i.test(env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? '')) return undefined;
  if (serviceId) {
    const v = env['AWS_ENDPOINT_URL_' + serviceId.toUpperCase().replace(/ /g, '_')];
    if (v) return v;
  }
  if (identifier) {
    for (const [k, v] of Object.entries(env)) {
      if (v && k.startsWith('AWS_ENDPOINT_URL_') && k.slice(17).toLowerCase().replace(/_/g, '') === identifier) return v;
    }
  }
  return env.AWS_ENDPOINT_URL || undefined;
}

function remedyV2(AWS) {
  const Service = AWS?.Service;
  if (!Service?.prototype?.initialize || patchedV2.has(Service)) return;
  patchedV2.add(Service);
  const initialize = Service.prototype.initialize;
  Service.prototype.initialize = function (config) {
    const id = this.serviceIdentifier || this.constructor?.serviceIdentifier;
    const own = AWS.config?.[id];
    if (!config?.endpoint && !own?.endpoint && !AWS.config?.endpoint) {
      const endpoint = endpointFromEnv(this.api?.serviceId, id);
      if (endpoint) config = Object.assign({}, config, { endpoint });
    }
    return initialize.call(this, config);
  };
}

function installV2Remedy() {
  const load = Module._load;
  Module._load = function (request, parent, isMain) {
    const exports = load.apply(this, arguments);
    if (typeof request === 'string' && V2_REQUEST.test(request) && !V2_FILE.test(parent?.filename ?? '')) {
      try {
        const file = Module._resolveFilename(request, parent, isMain);
        const m = V2_FILE.exec(file);
        if (m) remedyV2(load.call(Module, path.join(m[1], 'lib', 'core.js'), null, false));
      } catch {
        // Not the SDK after all.
      }
    }
    return exports;
  };
}

// ---------------------------------------------------------------------------
// The API's own host name: connections to SWITCHBOARD_EXECUTE_API_HOST (a
// name, or several separated by commas) on port 443 or 80 go to
// SWITCHBOARD_GATEWAY_ADDR (host:port, TLS and plain HTTP on one port). Only
// the socket's destination changes: the TLS server name, the certificate
// check and the Host header keep the real name.

function installExecuteAPIRedirect() {
  const hosts = new Set(
    (env.SWITCHBOARD_EXECUTE_API_HOST ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase().replace(/\.$/, ''))
      .filter(Boolean),
  );
  const addr = env.SWITCHBOARD_GATEWAY_ADDR ?? '';
  const i = addr.lastIndexOf(':');
  if (hosts.size === 0 || i <= 0) return;
  const gwHost = addr.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const gwPort = parseInt(addr.slice(i + 1), 10);
  const matches = (host) => typeof host === 'string' && hosts.has(host.toLowerCase().replace(/\.$/, ''));
  const redirected = (port) => port === undefined || port === null || port === '' || +port === 443 || +port === 80;

  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (...args) {
    let opts = args[0];
    let cb = args[1];
    if (Array.isArray(opts)) {
      cb = opts[1];
      opts = opts[0];
    } else if (typeof opts === 'number' || (typeof opts === 'string' && /^\d+$/.test(opts))) {
      opts = { port: opts, host: typeof args[1] === 'string' ? args[1] : undefined };
      cb = args.find((a) => typeof a === 'function');
    }
    if (opts && typeof opts === 'object' && !opts.path && matches(opts.host) && redirected(opts.port)) {
      return connect.call(this, { ...opts, host: gwHost, port: gwPort }, cb);
    }
    return connect.apply(this, args);
  };

  // A bare tls.connect gets the real name as its server name (https.Agent
  // sets one itself).
  const tlsConnect = tls.connect;
  tls.connect = function (...args) {
    const o = args[0];
    if (o && typeof o === 'object' && !o.servername && matches(o.host)) {
      args[0] = { ...o, servername: o.host.replace(/\.$/, '') };
    }
    return tlsConnect.apply(this, args);
  };
}

// ---------------------------------------------------------------------------
// Loading the handler, as Lambda's runtime does: "dir/file.export.path".

const FUNCTION_EXPR = /^([^.]*)\.(.*)$/;
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HANDLER_HIGHWATERMARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const STREAM_RESPONSE = 'response';

function tryRequireFile(file, ext = '') {
  return fs.existsSync(file + ext) ? require(file + ext) : undefined;
}

async function tryImport(file, ext = '') {
  if (!fs.existsSync(file + ext)) return undefined;
  registerESMHooks();
  return await import(pathToFileURL(file + ext).href);
}

function folderIsTypeModule(folder) {
  if (folder.endsWith('/node_modules')) return false;
  const pj = path.join(folder, 'package.json');
  if (fs.existsSync(pj)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(pj));
      if (pkg) return pkg.type === 'module';
    } catch (e) {
      console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
      return false;
    }
  }
  if (folder === '/' || path.dirname(folder) === folder) return false;
  return folderIsTypeModule(path.resolve(folder, '..'));
}

async function loadModule(appRoot, moduleRoot, module) {
  const file = path.resolve(appRoot, moduleRoot, module);
  const extensionless = tryRequireFile(file);
  if (extensionless) return extensionless;
  const typeModule = fs.existsSync(file + '.js') && folderIsTypeModule(path.resolve(path.dirname(file + '.js')));
  if (!typeModule) {
    const loaded = tryRequireFile(file, '.js');
    if (loaded) return loaded;
  }
  const loaded =
    (typeModule && (await tryImport(file, '.js'))) || (await tryImport(file, '.mjs')) || tryRequireFile(file, '.cjs');
  if (loaded) return loaded;
  return require(require.resolve(module, { paths: [appRoot, moduleRoot] }));
}

async function loadHandler(appRoot, fullHandler) {
  if (!fullHandler) throw new MalformedHandlerName('Bad handler');
  if (fullHandler.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const base = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(base));
  const match = base.match(FUNCTION_EXPR);
  if (!match) throw new MalformedHandlerName('Bad handler');
  const [, module, handlerPath] = match;

  globalThis.awslambda = {
    streamifyResponse(handler, options) {
      handler[HANDLER_STREAMING] = STREAM_RESPONSE;
      if (typeof options?.highWaterMark === 'number') handler[HANDLER_HIGHWATERMARK] = parseInt(options.highWaterMark);
      return handler;
    },
    HttpResponseStream: {
      from(stream, prelude) {
        stream.setContentType?.('application/vnd.awslambda.http-integration-response');
        stream.write(JSON.stringify(prelude));
        stream.write(Buffer.alloc(8));
        return stream;
      },
    },
  };

  let app;
  try {
    app = await loadModule(appRoot, moduleRoot, module);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(e);
    if (e?.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(e);
    throw e;
  }
  const fn = handlerPath.split('.').reduce((o, k) => o && o[k], app);
  if (!fn) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof fn !== 'function') throw new HandlerNotFound(`${fullHandler} is not a function`);
  const streaming = fn[HANDLER_STREAMING];
  if (streaming !== undefined && streaming !== null && streaming !== false && streaming !== STREAM_RESPONSE) {
    throw new MalformedStreamingHandler('Only response streaming is supported.');
  }
  return fn;
}

// ---------------------------------------------------------------------------
// The invocation loop.

const BEFORE_EXIT = Symbol.for('aws.lambda.beforeExit');
const beforeExit = {
  invoke: () => globalThis[BEFORE_EXIT](),
  reset: () => (globalThis[BEFORE_EXIT] = () => {}),
  set: (fn) => (globalThis[BEFORE_EXIT] = fn),
};

// exiting is set once an uncaught exception or unhandled rejection is being
// reported: the process exits when the report is through, and asks for no
// more invocations meanwhile.
let exiting = false;

function isPromise(v) {
  return v && typeof v.then === 'function';
}

function lowerKeys(o) {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));
}

function parseJSONHeader(s, name) {
  if (s === undefined) return undefined;
  try {
    return JSON.parse(s);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

// attachEnvironmentData adds to the context what the environment and the
// invocation's headers say, and forwards the trace id.
function attachEnvironmentData(ctx, headers) {
  const trace = headers['lambda-runtime-trace-id'];
  if (trace) env._X_AMZN_TRACE_ID = trace;
  else delete env._X_AMZN_TRACE_ID;
  const deadline = headers['lambda-runtime-deadline-ms'];
  return Object.assign(
    ctx,
    {
      functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
      functionName: env.AWS_LAMBDA_FUNCTION_NAME,
      memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    },
    {
      clientContext: parseJSONHeader(headers['lambda-runtime-client-context'], 'ClientContext'),
      identity: parseJSONHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
      invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
      awsRequestId: headers['lambda-runtime-aws-request-id'],
      tenantId: headers['lambda-runtime-aws-tenant-id'],
      getRemainingTimeInMillis: () => deadline - Date.now(),
    },
  );
}

// callbackContext builds the callback and the context's callbackWaitsFor-
// EmptyEventLoop, done, succeed and fail; only the first call of any counts.
function callbackContext(client, id, scheduleNext) {
  const postError = (err, cb) => {
    console.error('Invoke Error', toFormatted(intoError(err)));
    client.postInvocationError(err, id, cb);
  };
  let completed = false;
  const complete = (result, cb) => {
    if (completed) {
      console.error('Invocation has already been reported as done. Cannot call complete more than once per invocation.');
      return;
    }
    completed = true;
    client.postInvocationResponse(result, id, cb);
  };
  let waitForEmptyEventLoop = true;
  const callback = (err, result) => {
    beforeExit.reset();
    if (err !== undefined && err !== null) postError(err, scheduleNext);
    else if (!waitForEmptyEventLoop) complete(result, scheduleNext);
    else beforeExit.set(() => setImmediate(() => complete(result, scheduleNext)));
  };
  const done = (err, result) => {
    beforeExit.reset();
    if (err !== undefined && err !== null) postError(err, scheduleNext);
    else complete(result, scheduleNext);
  };
  let finished = false;
  const once = (fn) =>
    function (...args) {
      if (!finished) {
        fn(...args);
        finished = true;
      }
    };
  const ctx = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(v) {
      waitForEmptyEventLoop = v;
    },
    succeed: once((result) => done(null, result)),
    fail: once((err) => (err === undefined || err === null ? done('handled') : done(err, null))),
    done: once(done),
  };
  return [once(callback), ctx, () => (completed = true)];
}

class Runtime {
  constructor(client, handler, errorCallbacks) {
    this.client = client;
    this.handler = handler;
    this.errorCallbacks = errorCallbacks;
    this.isAsync = handler.constructor?.name === 'AsyncFunction';
    this.streaming = handler[HANDLER_STREAMING] === STREAM_RESPONSE;
  }

  scheduleIteration() {
    setImmediate(() => {
      if (exiting) return; // an error is being reported before the exit
      (this.streaming ? this.handleOnceStreaming() : this.handleOnce()).then(
        () => {},
        (err) => {
          console.log(`Unexpected Top Level Error: ${err.toString()}`);
          this.errorCallbacks.uncaughtException(err);
        },
      );
    });
  }

  setErrorCallbacks(id) {
    this.errorCallbacks.uncaughtException = (error) => {
      exiting = true;
      this.client.postInvocationError(error, id, () => process.exit(129));
    };
    this.errorCallbacks.unhandledRejection = (error) => {
      exiting = true;
      this.client.postInvocationError(error, id, () => process.exit(128));
    };
  }

  async handleOnce() {
    const { bodyJson, headers: raw } = await this.client.nextInvocation();
    const headers = lowerKeys(raw);
    const id = headers['lambda-runtime-aws-request-id'];
    globalThis[REQUEST_ID] = id;
    const [callback, ctx, markCompleted] = callbackContext(this.client, id, this.scheduleIteration.bind(this));
    try {
      this.setErrorCallbacks(id);
      // When the event loop empties without an answer: an async handler
      // whose promise never settled fails; any other answers null.
      beforeExit.set(() => {
        markCompleted();
        if (this.isAsync) {
          const err = new NodeJsExit();
          logError('Invoke Error', err);
          this.client.postInvocationError(err, id, () => this.scheduleIteration());
        } else {
          this.client.postInvocationResponse(null, id, () => this.scheduleIteration());
        }
      });
      const result = this.handler(JSON.parse(bodyJson), attachEnvironmentData(ctx, headers), callback);
      if (isPromise(result)) result.then(ctx.succeed, ctx.fail).catch(ctx.fail);
    } catch (err) {
      callback(err);
    }
  }

  // handleOnceStreaming serves a handler wrapped in
  // awslambda.streamifyResponse: what it writes is buffered and posted as
  // the response once it has ended.
  async handleOnceStreaming() {
    const { bodyJson, headers: raw } = await this.client.nextInvocation();
    const headers = lowerKeys(raw);
    const id = headers['lambda-runtime-aws-request-id'];
    globalThis[REQUEST_ID] = id;
    this.setErrorCallbacks(id);
    beforeExit.set(() => this.scheduleIteration());
    const chunks = [];
    let contentType = 'application/octet-stream';
    const stream = new Writable({
      write(chunk, encoding, cb) {
        chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding));
        cb();
      },
    });
    stream.setContentType = (t) => (contentType = t);
    const fail = (err) => {
      beforeExit.reset();
      console.error('Invoke Error', toFormatted(intoError(err)));
      this.client.postInvocationError(err, id, () => this.scheduleIteration());
    };
    try {
      const result = this.handler(JSON.parse(bodyJson), stream, attachEnvironmentData({}, headers));
      if (!isPromise(result)) return fail('Streaming does not support non-async handlers.');
      if ((await result) !== undefined) console.warn('Streaming handlers ignore return values.');
      if (!stream.writableFinished) return fail('Response stream is not finished.');
      beforeExit.reset();
      this.client.postRawResponse(Buffer.concat(chunks), contentType, id, () => this.scheduleIteration());
    } catch (err) {
      fail(err);
    }
  }
}

// ---------------------------------------------------------------------------

async function main() {
  patchConsole();
  const client = new RapidClient(env.AWS_LAMBDA_RUNTIME_API ?? '');
  const errorCallbacks = {
    uncaughtException: (error) => {
      exiting = true;
      client.postInitError(error, () => process.exit(129));
    },
    unhandledRejection: (error) => {
      exiting = true;
      client.postInitError(error, () => process.exit(128));
    },
  };
  process.on('uncaughtException', (error) => {
    logError('Uncaught Exception', error);
    errorCallbacks.uncaughtException(error);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason, promise);
    logError('Unhandled Promise Rejection', error);
    errorCallbacks.unhandledRejection(error);
  });
  beforeExit.reset();
  process.on('beforeExit', beforeExit.invoke);

  installSDKResolution();
  installV2Remedy();
  installExecuteAPIRedirect();

  let handler;
  try {
    handler = await loadHandler(env.LAMBDA_TASK_ROOT || process.cwd(), env._HANDLER);
  } catch (err) {
    // Lambda's runtime lets this escape its top-level await: an uncaught
    // exception, reported as the init error.
    logError('Uncaught Exception', err);
    errorCallbacks.uncaughtException(err);
    return;
  }
  new Runtime(client, handler, errorCallbacks).scheduleIteration();
}

await main();
