#!/usr/bin/env node
// The server as it is started (`npm start`, systemd/jobworker.service): src/server.ts, after the
// compile cache is on (bin/compile-cache.js). Plain JavaScript on purpose: the cache has to be on
// before the first TypeScript module is read, and an ES module's imports are all read before its
// body runs. An old Node.js says which one the server needs before it meets any TypeScript.
import { requireNode24 } from './require-node.js';

requireNode24(
  'jobworker',
  "'npm install' puts one in node_modules: start the server with npm start, or " +
    'node_modules/.bin/node bin/jobworker.js',
);
(await import('./compile-cache.js')).useCompileCache();
await import('../src/server.ts');
