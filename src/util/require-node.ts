// Imported first by every entry point (the server, jobctl, the bench, npm's scripts): on a Node.js
// older than package.json's "engines" asks for, one clear line instead of a confusing failure
// further on. The project relies on Node 24's type stripping and node:sqlite.
const REQUIRED_MAJOR = 24;

const major = Number(process.versions.node.split('.')[0]);
if (major < REQUIRED_MAJOR) {
  process.stderr.write(
    `jobworker needs Node.js ${REQUIRED_MAJOR} or later, this is ${process.version}. ` +
      "Run it through npm (npm start, npm test) or bin/jobctl: 'npm install' puts Node.js " +
      `${REQUIRED_MAJOR} into node_modules, and they use it.\n`,
  );
  process.exit(1);
}

export {};
