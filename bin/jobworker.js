#!/usr/bin/env node
// The server as it is started (`npm start`, systemd/jobworker.service): src/server.ts, after the
// compile cache is on (bin/compile-cache.js). Plain JavaScript on purpose: the cache has to be on
// before the first TypeScript module is read, and an ES module's imports are all read before its
// body runs. An old Node.js says which one the server needs before it meets any TypeScript.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(
    `jobworker needs Node.js 24 or later, this is ${process.version}; 'npm install' puts one ` +
      'in node_modules: start the server with npm start, or node_modules/.bin/node bin/jobworker.js',
  );
  process.exit(1);
}
(await import('./compile-cache.js')).useCompileCache();
await import('../src/server.ts');
