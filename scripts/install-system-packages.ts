// Makes sure the Debian packages the project relies on are present: a C compiler for the job
// supervisor, util-linux and procps for the tests' process tools, curl, openssl and sslscan. Runs at `npm install`; installs
// only what is missing, and only where it can (root with apt-get), otherwise it says what to do.
import { execFileSync, spawnSync } from 'node:child_process';

const NEEDED: readonly { command: string; packages: readonly string[] }[] = [
  { command: 'cc', packages: ['gcc', 'libc6-dev'] },
  { command: 'setsid', packages: ['util-linux'] },
  { command: 'ps', packages: ['procps'] },
  // The tests use curl as the README does, and openssl as an independent PKI consumer.
  { command: 'curl', packages: ['curl'] },
  { command: 'openssl', packages: ['openssl'] },
  // The reliability suite checks the TLS configuration from outside with a real scanner.
  { command: 'sslscan', packages: ['sslscan'] },
];

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

const missing = NEEDED.filter((need) => !has(need.command)).flatMap((need) => need.packages);
if (missing.length === 0) process.exit(0);

const canInstall = process.getuid?.() === 0 && has('apt-get');
if (!canInstall) {
  console.error(`install-system-packages: missing Debian packages: ${missing.join(' ')}`);
  console.error(`install them with: sudo apt-get install -y ${missing.join(' ')}`);
  process.exit(1);
}
console.log(`install-system-packages: installing ${missing.join(' ')}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], {
  stdio: 'inherit',
  env,
});
