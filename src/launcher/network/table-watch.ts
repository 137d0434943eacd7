// Whether the server's nftables table is still there, as `nft monitor tables` tells each change,
// so that an egress launch need not run `nft list table` to find out that an operator's `flush
// ruleset` (or `systemctl restart nftables`) removed it: that exec cost 8-12 ms of each egress
// job's start here. The watch knows nothing until it has seen the table added (it is surely
// listening then), nor once it has stopped; launches then ask nft themselves.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export type TableState = 'unknown' | 'present' | 'gone';

export class TableWatch {
  readonly #table: string;
  #child: ChildProcess | undefined;
  #state: TableState = 'unknown';

  constructor(table: string) {
    this.#table = table;
  }

  /** The table as last told: 'unknown' before the first word and once the watch has stopped. */
  get state(): TableState {
    return this.#state;
  }

  start(): void {
    if (this.#child !== undefined) return;
    // Killed with the server, even a SIGKILLed one (setpriv, of util-linux, sets the signal).
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', 'nft', 'monitor', 'tables'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    this.#child = child;
    child.once('error', () => this.#stopped(child));
    child.once('exit', () => this.#stopped(child));
    createInterface({ input: child.stdout }).on('line', (line) => this.#told(line));
  }

  close(): void {
    const child = this.#child;
    this.#child = undefined;
    this.#state = 'unknown';
    child?.kill();
  }

  /** `add table inet NAME` or `delete table inet NAME`, one change a line. */
  #told(line: string): void {
    const [verb, kind, family, name] = line.trim().split(/\s+/);
    if (kind !== 'table' || family !== 'inet' || name !== this.#table) return;
    if (verb === 'add') this.#state = 'present';
    else if (verb === 'delete') this.#state = 'gone';
  }

  #stopped(child: ChildProcess): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    this.#state = 'unknown';
  }
}
