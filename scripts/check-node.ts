// Fails early, with a useful message, when npm scripts run on a Node.js older than 24: the
// project relies on Node 24's TypeScript type stripping and node:sqlite.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(`jobworker needs Node.js 24 or later, this is ${process.version}.`);
  console.error(
    "Run 'npm install' first: it installs Node 24 into node_modules, which npm scripts use.",
  );
  process.exit(1);
}
