// Module resolution hooks of Switchboard's Node.js runtime client (see
// runtime.mjs): an ES module's import of an @aws-sdk/* or @smithy/* package
// the function does not bundle resolves from the shared SDK directory, where
// Switchboard installs it first if it is missing there (Lambda's Node.js
// runtimes include the AWS SDK for JavaScript v3).
//
// Run as a program (node hooks.mjs --switchboard-install PACKAGE), it asks
// Switchboard for that installation and waits: runtime.mjs does so, through
// spawnSync, for CommonJS require, which cannot wait for a promise.

import http from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SDK_PACKAGE = /^(@aws-sdk|@smithy)\/[^/]+/;

let api = process.env.AWS_LAMBDA_RUNTIME_API;
let sdkDir = process.env.SWITCHBOARD_NODE_SDK_DIR;

// initialize receives what module.register passed as data.
export function initialize(data) {
  if (data?.api) api = data.api;
  if (data?.sdkDir) sdkDir = data.sdkDir;
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    const m = err?.code === 'ERR_MODULE_NOT_FOUND' && sdkDir ? SDK_PACKAGE.exec(specifier) : null;
    if (!m) throw err;
    const fromSDK = { ...context, parentURL: pathToFileURL(path.join(sdkDir, 'index.mjs')).href };
    try {
      return await nextResolve(specifier, fromSDK);
    } catch {
      // Not installed yet.
    }
    const failure = await requestInstall(m[0]);
    if (failure) {
      err.message += '\n' + failure;
      throw err;
    }
    return nextResolve(specifier, fromSDK);
  }
}

// requestInstall asks Switchboard, through the instance's Runtime API
// server, to install pkg into the SDK directory; it resolves to null once
// it is there, or to the reason it is not.
export function requestInstall(pkg) {
  return new Promise((done) => {
    const i = (api ?? '').lastIndexOf(':');
    if (i <= 0) return done('AWS_LAMBDA_RUNTIME_API is not set');
    const req = http.request(
      {
        hostname: api.slice(0, i),
        port: parseInt(api.slice(i + 1), 10),
        method: 'POST',
        path: '/switchboard/node-sdk/install?package=' + encodeURIComponent(pkg),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf-8');
        res.on('data', (c) => (body += c));
        res.on('end', () => {
          if (res.statusCode === 200) return done(null);
          try {
            done(JSON.parse(body).errorMessage || body);
          } catch {
            done(body || `HTTP ${res.statusCode}`);
          }
        });
      },
    );
    req.on('error', (e) => done(`asking Switchboard to install ${pkg}: ${e.message}`));
    req.end();
  });
}

if (process.argv[2] === '--switchboard-install' && path.resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  const failure = await requestInstall(process.argv[3]);
  if (failure) {
    process.stderr.write(failure + '\n');
    process.exitCode = 1;
  }
}
