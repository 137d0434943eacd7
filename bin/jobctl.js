#!/usr/bin/env node
// The `jobctl` command (docs/jobctl.md). Plain JavaScript on purpose: any Node.js can run it, so
// an old one says clearly that jobctl needs Node.js 24 (it could not even load TypeScript), and a
// command starts without Node first loading its TypeScript support for the entry file.
import { requireNode24 } from './require-node.js';

requireNode24(
  'jobctl',
  "'npm install' in the project puts one in node_modules, and bin/jobctl runs on it",
);
// Compiled code of jobctl's modules is cached in the project (bin/compile-cache.js), warmed by
// `npm install`, so even a first run starts without stripping its TypeScript.
(await import('./compile-cache.js')).useCompileCache();
await import('../src/cli/jobctl.ts');
