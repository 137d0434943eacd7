// The admission policy without a server: which rule holds a job back and what it says, the
// output cap a job launches with, and that a client's jobs together never pass its output budget
// while it can still run its most jobs at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  admit,
  IDLE_CLIENT,
  outputFloor,
  type Admission,
  type Candidate,
  type ClientLoad,
  type Snapshot,
} from '../../src/worker/admission.ts';

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;

function snapshot(overrides: Partial<Snapshot> = {}): Snapshot {
  return {
    hostMemoryBytes: 256 * MIB,
    runningCap: 64,
    maxOutputBytes: GIB,
    clients: new Map(),
    queueHeads: [],
    ...overrides,
  };
}

function load(overrides: Partial<ClientLoad> = {}): ClientLoad {
  return { ...IDLE_CLIENT, ...overrides };
}

function candidate(owner: string, overrides: Partial<Candidate> = {}): Candidate {
  return {
    owner,
    reservationBytes: 32 * MIB,
    clientMemoryBytes: 128 * MIB,
    outputBudgetBytes: undefined,
    queuedAhead: 0,
    ...overrides,
  };
}

/** The queue reason's code, or `start` / `spent`. */
function verdict(admission: Admission): string {
  if (admission.start) return 'start';
  return 'budgetSpent' in admission ? 'spent' : admission.reason.code;
}

function capOf(admission: Admission): number | null {
  assert.ok(admission.start, JSON.stringify(admission));
  return admission.outputCapBytes;
}

describe('admission: the rules of a job’s own client', () => {
  it('starts a job nothing holds back, with the per-job output cap', () => {
    const admission = admit(candidate('alice'), snapshot());
    assert.equal(capOf(admission), GIB);
    assert.equal(capOf(admit(candidate('alice'), snapshot({ maxOutputBytes: null }))), null);
  });

  it("keeps a job behind its client's earlier queued jobs", () => {
    const admission = admit(candidate('alice', { queuedAhead: 3 }), snapshot());
    assert.equal(verdict(admission), 'behind-own-queue');
    assert.ok(!admission.start && 'reason' in admission);
    assert.equal(admission.reason.message, "alice's 3 earlier queued jobs start first");
  });

  it('holds a job while its client runs its most jobs', () => {
    const clients = new Map([['alice', load({ running: 2, reservedBytes: 64 * MIB })]]);
    const admission = admit(candidate('alice'), snapshot({ runningCap: 2, clients }));
    assert.ok(!admission.start && 'reason' in admission);
    assert.equal(admission.reason.code, 'running-cap');
    assert.match(admission.reason.message, /^alice runs 2 jobs, the most one client may run/);
  });

  it("holds a job that would take its client's running jobs past its memory total", () => {
    const clients = new Map([['alice', load({ running: 4, reservedBytes: 128 * MIB })]]);
    const admission = admit(candidate('alice'), snapshot({ clients, hostMemoryBytes: GIB }));
    assert.ok(!admission.start && 'reason' in admission);
    assert.equal(admission.reason.code, 'client-memory');
    assert.match(admission.reason.message, /reserve 128 MiB of 128 MiB.*this job reserves 32 MiB/);
    // Within the total it starts; a job alone is held to the total by the client's cgroup.
    const room = new Map([['alice', load({ running: 3, reservedBytes: 96 * MIB })]]);
    assert.equal(verdict(admit(candidate('alice'), snapshot({ clients: room }))), 'start');
    const big = candidate('alice', { reservationBytes: 200 * MIB });
    assert.equal(verdict(admit(big, snapshot({ hostMemoryBytes: GIB }))), 'start');
  });
});

describe('admission: the host and the other clients', () => {
  it("holds a job the host has not the memory for, counting each client's at most its total", () => {
    const clients = new Map([
      ['alice', load({ running: 5, reservedBytes: 160 * MIB, memoryTotalBytes: 128 * MIB })],
      ['bob', load({ running: 2, reservedBytes: 96 * MIB })],
    ]);
    // 128 + 96 reserved: 32 MiB of 256 are free.
    assert.equal(verdict(admit(candidate('carol'), snapshot({ clients }))), 'start');
    const bigger = admit(candidate('carol', { reservationBytes: 64 * MIB }), snapshot({ clients }));
    assert.ok(!bigger.start && 'reason' in bigger);
    assert.equal(bigger.reason.code, 'host-memory');
    assert.equal(
      bigger.reason.message,
      'the host has not the 64 MiB of memory this job reserves free right now',
    );
  });

  it("holds a client at its fair share while another client's job waits for the host", () => {
    const clients = new Map([
      ['alice', load({ running: 3, reservedBytes: 96 * MIB, memoryTotalBytes: 128 * MIB })],
      ['bob', load({ running: 2, reservedBytes: 128 * MIB, memoryTotalBytes: 128 * MIB })],
      ['carol', load({ queued: 1 })],
    ]);
    const carolWaits = [candidate('carol', { reservationBytes: 64 * MIB })];
    // Three clients want the host: a share is 256 / 3 MiB, and alice reserves 96.
    const admission = admit(candidate('alice'), snapshot({ clients, queueHeads: carolWaits }));
    assert.ok(!admission.start && 'reason' in admission);
    assert.equal(admission.reason.code, 'fair-share');
    assert.doesNotMatch(admission.reason.message, /carol|256|3 clients/);
    // Nobody else waits: the free 32 MiB are hers.
    const alone = new Map([...clients].filter(([owner]) => owner !== 'carol'));
    assert.equal(verdict(admit(candidate('alice'), snapshot({ clients: alone }))), 'start');
  });

  it('lets a client below its share start while another waits', () => {
    const clients = new Map([
      ['alice', load({ running: 2, reservedBytes: 64 * MIB })],
      ['bob', load({ running: 2, reservedBytes: 128 * MIB })],
      ['carol', load({ queued: 1 })],
    ]);
    const queueHeads = [candidate('carol', { reservationBytes: 128 * MIB })];
    assert.equal(verdict(admit(candidate('alice'), snapshot({ clients, queueHeads }))), 'start');
  });

  it("does not hold a client for another's job that its own rules hold anyway", () => {
    const clients = new Map([
      ['alice', load({ running: 2, reservedBytes: 128 * MIB })],
      ['carol', load({ running: 3, queued: 1, reservedBytes: 32 * MIB })],
    ]);
    // Two clients want the host: alice reserves her share of it, 128 MiB.
    const asks = candidate('alice', { clientMemoryBytes: 256 * MIB });
    const queueHeads = [candidate('carol')];
    assert.equal(
      verdict(admit(asks, snapshot({ clients, queueHeads, runningCap: 4 }))),
      'fair-share',
    );
    // carol runs her most jobs: what alice leaves could not start hers.
    assert.equal(verdict(admit(asks, snapshot({ clients, queueHeads, runningCap: 3 }))), 'start');
  });

  it('has no fair share or host rule on a host that makes no reservations', () => {
    const clients = new Map([
      ['alice', load({ running: 9, reservedBytes: 4 * GIB })],
      ['carol', load({ queued: 1 })],
    ]);
    const free = snapshot({
      clients,
      queueHeads: [candidate('carol')],
      hostMemoryBytes: undefined,
    });
    assert.equal(
      verdict(admit(candidate('alice', { clientMemoryBytes: undefined }), free)),
      'start',
    );
  });
});

describe('admission: the output budget', () => {
  const small = snapshot({ runningCap: 2, maxOutputBytes: 4 * MIB });
  const budget = { outputBudgetBytes: 8 * MIB };

  it('counts running jobs at their caps: two jobs take an 8 MiB budget, the third waits', () => {
    assert.equal(outputFloor(8 * MIB, 4 * MIB), MIB);
    assert.equal(capOf(admit(candidate('alice', budget), small)), 4 * MIB);
    const oneRuns = new Map([['alice', load({ running: 1, heldOutputBytes: 4 * MIB })]]);
    assert.equal(capOf(admit(candidate('alice', budget), { ...small, clients: oneRuns })), 4 * MIB);
    // One has ended having written 4 MiB, the other may still write 4: the third waits.
    const held = new Map([
      ['alice', load({ running: 1, keptOutputBytes: 4 * MIB, heldOutputBytes: 4 * MIB })],
    ]);
    const waits = admit(candidate('alice', budget), { ...small, clients: held });
    assert.ok(!waits.start && 'reason' in waits);
    assert.equal(waits.reason.code, 'output-budget');
    assert.match(waits.reason.message, /keep 4 MiB.*4 MiB more, of its 8 MiB output budget/);
  });

  it("refuses, rather than queues, once ended jobs' output fills the budget", () => {
    const spent = new Map([['alice', load({ keptOutputBytes: 8 * MIB - 10, queued: 3 })]]);
    // Refused before any other rule: it would wait for ever behind its client's queue.
    const admission = admit(candidate('alice', { ...budget, queuedAhead: 3 }), {
      ...small,
      clients: spent,
    });
    assert.ok(!admission.start && 'budgetSpent' in admission);
    assert.deepEqual(admission.budgetSpent, { budgetBytes: 8 * MIB, keptBytes: 8 * MIB - 10 });
  });

  it('gives a job what is left when less than the per-job cap is', () => {
    const used = new Map([['alice', load({ keptOutputBytes: 5 * MIB })]]);
    const one = snapshot({ runningCap: 1, maxOutputBytes: 4 * MIB, clients: used });
    assert.equal(capOf(admit(candidate('alice', budget), one)), 3 * MIB);
  });

  it('lets a client run its most jobs at once under the default budget (16 GiB, 64 of 1 GiB)', () => {
    const defaults = snapshot({ runningCap: 64, maxOutputBytes: GIB });
    let client = load();
    const caps: number[] = [];
    for (let launch = 0; launch < 64; launch++) {
      const admission = admit(candidate('alice', { outputBudgetBytes: 16 * GIB }), {
        ...defaults,
        clients: new Map([['alice', client]]),
      });
      const cap = capOf(admission) ?? 0;
      caps.push(cap);
      client = {
        ...client,
        running: client.running + 1,
        heldOutputBytes: client.heldOutputBytes + cap,
      };
    }
    assert.ok(
      caps.slice(0, 15).every((cap) => cap === GIB),
      'the first jobs get the per-job cap',
    );
    assert.ok(
      caps.every((cap) => cap >= MIB),
      'every job gets at least the floor',
    );
    assert.ok(client.heldOutputBytes <= 16 * GIB, `${client.heldOutputBytes} held`);
    const more = admit(candidate('alice', { outputBudgetBytes: 16 * GIB }), {
      ...defaults,
      runningCap: 65,
      clients: new Map([['alice', client]]),
    });
    assert.equal(verdict(more), 'output-budget', 'a 65th would find nothing left');
  });

  it('keeps at most a quarter of the budget for the other slots', () => {
    // 3 MiB: a floor of 768 KiB, kept once however many slots are free.
    const many = snapshot({ runningCap: 64, maxOutputBytes: GIB });
    assert.equal(outputFloor(3 * MIB, GIB), 768 * KIB);
    const small = { outputBudgetBytes: 3 * MIB };
    assert.equal(capOf(admit(candidate('alice', small), many)), 3 * MIB - 768 * KIB);
    const oneRuns = new Map([
      ['alice', load({ running: 1, heldOutputBytes: 3 * MIB - 768 * KIB })],
    ]);
    assert.equal(capOf(admit(candidate('alice', small), { ...many, clients: oneRuns })), 768 * KIB);
    // No running cap: the same quarter kept.
    const open = snapshot({ runningCap: Infinity, maxOutputBytes: null });
    assert.equal(capOf(admit(candidate('alice', small), open)), 3 * MIB - 768 * KIB);
  });

  it('gives jobs the floor once the quarter is all that is left, with a running cap of 5,000', () => {
    const tests = snapshot({ runningCap: 5000, maxOutputBytes: GIB });
    let client = load();
    const caps: number[] = [];
    for (let launch = 0; launch < 20; launch++) {
      const admission = admit(candidate('alice', { outputBudgetBytes: 16 * GIB }), {
        ...tests,
        clients: new Map([['alice', client]]),
      });
      const cap = capOf(admission) ?? 0;
      caps.push(cap);
      client = {
        ...client,
        running: client.running + 1,
        heldOutputBytes: client.heldOutputBytes + cap,
      };
    }
    assert.deepEqual(caps, [...Array<number>(12).fill(GIB), ...Array<number>(8).fill(MIB)]);
  });
});
