// A host for egress tests to reach, on this machine alone: a network namespace of the test's own,
// joined to the host by a veth pair (the host's end 10.250.N.1/24, the test host 10.250.N.2, N
// unique per test file so two files running at once never share one), also answering at
// 198.51.100.N (RFC 5737 documentation space, routed to it) and at the metadata address, with a
// small HTTP server on two ports and Debian's dnsmasq resolving test names (at the metadata
// address too, as GCP's resolver is). No address outside
// this machine is ever used; `close` removes the namespace, the pair, the routes and processes.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The test host's HTTP server: a greeting naming the port, and /bytes/N for N bytes. */
const HTTP_SERVER = `
import http.server, socketserver, sys, threading
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        port = self.server.server_address[1]
        if self.path.startswith('/bytes/'):
            size = int(self.path[7:])
            self.send_response(200)
            self.send_header('Content-Length', str(size))
            self.end_headers()
            chunk = b'x' * 65536
            while size > 0:
                self.wfile.write(chunk[:size])
                size -= len(chunk)
            return
        body = ('hello from the test host on port %d\\n' % port).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
servers = [Server(('0.0.0.0', int(port)), Handler) for port in sys.argv[1:]]
for server in servers:
    threading.Thread(target=server.serve_forever, daemon=True).start()
print('ready', flush=True)
sys.stdin.read()
`;

export interface TestHost {
  /** The host's own address on the test subnet. */
  readonly hostAddress: string;
  /** The test host's address on that subnet (RFC 1918). */
  readonly address: string;
  /** The test host's address in 198.51.100.0/24, which a test-only setting counts as public. */
  readonly publicAddress: string;
  /** Ports its HTTP server answers on. */
  readonly ports: readonly [number, number];
  /** A name its resolver (at `address`, port 53) answers with `address`. */
  readonly name: string;
  close(): Promise<void>;
}

export const METADATA_ADDRESS = '169.254.169.254';

/**
 * Starts the test host numbered `n` (1-200, unique per test file). `metadata`: it also answers at
 * 169.254.169.254, routed from the host, so a job refused it is refused by the filter, not by
 * an empty network (only one test file at a time may take that route).
 */
export async function startTestHost(
  n: number,
  options: { metadata?: boolean } = {},
): Promise<TestHost> {
  const namespace = `jwtest-host-${n}`;
  const link = `jwt${n}host`;
  const host: TestHost = {
    hostAddress: `10.250.${n}.1`,
    address: `10.250.${n}.2`,
    publicAddress: `198.51.100.${n}`,
    ports: [8080, 9090],
    name: `files${n}.test`,
    close: async () => {
      for (const child of children) child.kill('SIGKILL');
      for (const child of children) {
        if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
      }
      await removeNetwork(namespace, link, routes);
    },
  };
  const routes = [host.publicAddress, ...(options.metadata === true ? [METADATA_ADDRESS] : [])];
  const children: ChildProcess[] = [];
  await removeNetwork(namespace, link, routes);
  try {
    await run('ip', ['netns', 'add', namespace]);
    await ipBatch(
      [],
      [
        `link add ${link} type veth peer name eth0 netns ${namespace}`,
        `addr add ${host.hostAddress}/24 dev ${link}`,
        `link set ${link} up`,
      ],
    );
    await ipBatch(
      ['-n', namespace],
      [
        'link set lo up',
        `addr add ${host.address}/24 dev eth0`,
        ...routes.map((address) => `addr add ${address}/32 dev eth0`),
        'link set eth0 up',
        `route add default via ${host.hostAddress}`,
      ],
    );
    await ipBatch(
      [],
      routes.map((address) => `route add ${address}/32 via ${host.address}`),
    );
    children.push(
      await started(namespace, ['python3', '-c', HTTP_SERVER, ...host.ports.map(String)], 'ready'),
    );
    children.push(
      await started(
        namespace,
        [
          'dnsmasq',
          '--no-daemon',
          '--no-resolv',
          '--no-hosts',
          '--user=root',
          '--pid-file',
          '--bind-interfaces',
          `--listen-address=${host.address}`,
          // A resolver at the metadata address, as on GCP and Oracle Cloud.
          ...(options.metadata === true ? [`--listen-address=${METADATA_ADDRESS}`] : []),
          `--address=/${host.name}/${host.address}`,
          `--address=/public${n}.test/${host.publicAddress}`,
          '--log-facility=-',
        ],
        'started',
      ),
    );
  } catch (error) {
    await host.close();
    throw error;
  }
  return host;
}

async function ipBatch(options: readonly string[], commands: readonly string[]): Promise<void> {
  if (commands.length === 0) return;
  const child = execFile('ip', [...options, '-batch', '-']);
  child.stdin?.end(`${commands.join('\n')}\n`);
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`ip ${options.join(' ')} -batch failed: ${commands.join('; ')}`);
}

/** Starts `command` in the namespace and resolves once a line of its output includes `ready`. */
async function started(
  namespace: string,
  command: readonly string[],
  ready: string,
): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', namespace, ...command], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines = [
    createInterface({ input: child.stdout }),
    createInterface({ input: child.stderr }),
  ];
  const seen: string[] = [];
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) =>
      reject(new Error(`${command[0]} exited (${code}): ${seen.join('\n')}`)),
    );
    for (const input of lines) {
      input.on('line', (line) => {
        seen.push(line);
        if (line.includes(ready)) resolve();
      });
    }
  });
  return child;
}

/** Whatever an earlier run of this test host left, gone (each command may find nothing). */
async function removeNetwork(
  namespace: string,
  link: string,
  routes: readonly string[],
): Promise<void> {
  for (const address of routes)
    await run('ip', ['route', 'del', `${address}/32`]).catch(() => undefined);
  await run('ip', ['link', 'del', link]).catch(() => undefined);
  await run('ip', ['netns', 'del', namespace]).catch(() => undefined);
}
