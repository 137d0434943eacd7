// Makes sure the Debian packages a command needs are present, installing only what is missing
// and only where it can (root with apt-get); elsewhere it names the packages and stops.
//   server (run by `npm install`): the C compiler and libseccomp for the job supervisor.
//   test   (run by `npm test`):    the tools the tests drive jobs and the server with.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

interface Need {
  /** A command on PATH, or an absolute path, whose presence means the packages are there. */
  readonly probe: string;
  readonly packages: readonly string[];
}

const NEEDS: Readonly<Record<string, readonly Need[]>> = {
  server: [
    { probe: 'cc', packages: ['gcc', 'libc6-dev'] },
    // The supervisor's seccomp filter is compiled by libseccomp at install, as Docker's and
    // systemd's are; only the build needs it, not the supervisor at run time.
    { probe: '/usr/include/seccomp.h', packages: ['libseccomp-dev'] },
    // Volumes (issue 34): an ext4 image each, loop-mounted (mkfs.ext4; fallocate, losetup and
    // mount), and their archives unpacked by a static busybox's tar in a namespace of its own
    // (unshare, setpriv).
    { probe: '/sbin/mkfs.ext4', packages: ['e2fsprogs'] },
    { probe: 'unshare', packages: ['util-linux', 'mount'] },
    { probe: '/bin/busybox', packages: ['busybox-static'] },
    // Egress jobs are filtered by the kernel, through the server's nftables table (issue 33).
    { probe: '/usr/sbin/nft', packages: ['nftables'] },
  ],
  test: [
    { probe: 'setsid', packages: ['util-linux'] },
    { probe: 'ps', packages: ['procps'] },
    // Jobs run Debian's python3 (a job's PATH is the system's, not a version manager's).
    { probe: '/usr/bin/python3', packages: ['python3'] },
    // The tests use curl as the README does, and openssl as an independent PKI consumer.
    { probe: 'curl', packages: ['curl'] },
    { probe: 'openssl', packages: ['openssl'] },
    // The reliability suite checks the TLS configuration from outside with a real scanner.
    { probe: 'sslscan', packages: ['sslscan'] },
    // The sandbox suite builds a root filesystem image from a static busybox.
    { probe: '/bin/busybox', packages: ['busybox-static'] },
    // The cross-site suite drives a real browser holding a client certificate (Playwright).
    { probe: '/usr/bin/chromium', packages: ['chromium'] },
    // The terminal suite runs jobctl -it in a real terminal: a tmux pane.
    { probe: 'tmux', packages: ['tmux'] },
    // jobctl's completion scripts are checked by the shells they are for.
    { probe: 'zsh', packages: ['zsh'] },
    { probe: 'fish', packages: ['fish'] },
    // The central-logs suite ships to a real rsyslog over TLS (its GnuTLS stream driver).
    { probe: '/usr/sbin/rsyslogd', packages: ['rsyslog'] },
    { probe: '/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so', packages: ['rsyslog-gnutls'] },
    // The operations suite checks the systemd unit with systemd-analyze.
    { probe: 'systemd-analyze', packages: ['systemd'] },
    // The monitoring suite and CI check ops/'s alert rules and scrape configuration.
    { probe: 'promtool', packages: ['prometheus'] },
    // The bench's floors: a bare sandboxed spawn is Debian's bwrap running `true`.
    { probe: 'bwrap', packages: ['bubblewrap'] },
    // The egress suite's test host: its namespace and links (ip), and a real resolver.
    { probe: '/usr/sbin/ip', packages: ['iproute2'] },
    { probe: '/usr/sbin/dnsmasq', packages: ['dnsmasq-base'] },
  ],
};

function present(probe: string): boolean {
  if (probe.startsWith('/')) return existsSync(probe);
  return spawnSync('sh', ['-c', `command -v ${probe}`], { stdio: 'ignore' }).status === 0;
}

const purpose = process.argv[2] ?? 'server';
const needs = NEEDS[purpose];
if (needs === undefined) {
  console.error(`install-system-packages: unknown purpose '${purpose}' (server or test)`);
  process.exit(2);
}
const missing = needs.filter((need) => !present(need.probe)).flatMap((need) => need.packages);
if (missing.length === 0) process.exit(0);

const canInstall = process.getuid?.() === 0 && present('apt-get');
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
