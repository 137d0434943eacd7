// Fails early, with a useful message, when npm scripts run on a Node.js older than 24: the
// project relies on Node 24's TypeScript type stripping and node:sqlite.
import '../src/util/require-node.ts';
