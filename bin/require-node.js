// The check both entry points (bin/jobctl.js, bin/jobworker.js) make first, in plain JavaScript
// that any Node.js runs: an old one says which Node.js is needed and where to find it, instead
// of failing on the TypeScript it could not load.
export function requireNode24(program, where) {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 24) return;
  console.error(`${program} needs Node.js 24 or later, this is ${process.version}; ${where}`);
  process.exit(1);
}
