// Refused TLS clients summarised without a server: a source's first refusal is told at once,
// its later ones once a minute as a count and the codes seen, per certificate when one was
// presented and per address otherwise; past the sources told apart the rest share one summary.
// The minute is the mock timers', so nothing here waits.
import assert from 'node:assert/strict';
import type { PeerCertificate } from 'node:tls';
import { describe, it, type TestContext } from 'node:test';
import { pino } from 'pino';
import { tlsRefusalRecord } from '../../src/audit/tls-refusal.ts';
import type { TlsRefusal, TlsRefusalSummary } from '../../src/pki/tls-refusal.ts';
import { RefusalSummaries, SUMMARY_EVERY_MS } from '../../src/tls/refusal-summaries.ts';

function certificate(name: string): PeerCertificate {
  return {
    subject: { CN: name },
    issuer: { CN: 'jobworker CA' },
    serialNumber: `0${name.length}`,
    fingerprint256: `fingerprint of ${name}`,
    valid_to: 'Jan  1 00:00:00 2030 GMT',
  } as unknown as PeerCertificate;
}

function anonymous(remoteAddress: string, code = 'HANDSHAKE_EVICTED'): TlsRefusal {
  return { code, reason: code, certificate: undefined, remoteAddress, stage: 'handshake' };
}

function revoked(name: string, remoteAddress = '192.0.2.7'): TlsRefusal {
  const code = 'CERT_REVOKED';
  return {
    code,
    reason: code,
    certificate: certificate(name),
    remoteAddress,
    stage: 'certificate',
  };
}

/** Summaries with the mock timers on, and what they told. */
function summaries(
  t: TestContext,
  maxSources?: number,
): { refusals: RefusalSummaries; told: TlsRefusalSummary[] } {
  t.mock.timers.enable({ apis: ['setInterval', 'Date'] });
  const told: TlsRefusalSummary[] = [];
  const refusals = new RefusalSummaries({
    logger: pino({ level: 'silent' }),
    onSummary: (summary) => told.push(summary),
    ...(maxSources === undefined ? {} : { maxSources }),
  });
  t.after(() => refusals.close());
  return { refusals, told };
}

describe('refused TLS clients, summarised', () => {
  it('tells a revoked certificate refused 5,000 times in one record at once and one a minute', (t) => {
    const { refusals, told } = summaries(t);
    for (let i = 0; i < 5000; i += 1) refusals.add(revoked('mallory'));
    assert.deepEqual(
      told.map((summary) => summary.count),
      [1],
    );
    t.mock.timers.tick(SUMMARY_EVERY_MS);
    assert.deepEqual(
      told.map((summary) => [summary.count, summary.codes]),
      [
        [1, { CERT_REVOKED: 1 }],
        [4999, { CERT_REVOKED: 4999 }],
      ],
    );
    const record = tlsRefusalRecord(told[1]!);
    assert.equal(record.action, 'tls.refused');
    assert.equal(record.client.name, 'mallory');
    assert.deepEqual(record.details, {
      code: 'CERT_REVOKED',
      reason: 'CERT_REVOKED',
      remoteAddress: '192.0.2.7',
      count: 4999,
      codes: { CERT_REVOKED: 4999 },
      since: told[1]!.since.toISOString(),
    });
  });

  it('tells each address and each certificate apart, with every code seen', (t) => {
    const { refusals, told } = summaries(t);
    refusals.add(anonymous('192.0.2.1'));
    refusals.add(anonymous('192.0.2.1', 'NO_CLIENT_HELLO'));
    refusals.add(anonymous('192.0.2.1', 'ERR_TLS_HANDSHAKE_TIMEOUT'));
    refusals.add(anonymous('192.0.2.1'));
    refusals.add(anonymous('192.0.2.2'));
    // A certificate is its own source, wherever it comes from.
    refusals.add(revoked('mallory', '192.0.2.1'));
    refusals.add(revoked('trudy', '192.0.2.1'));
    assert.equal(told.length, 4);
    t.mock.timers.tick(SUMMARY_EVERY_MS);
    assert.equal(told.length, 5);
    assert.equal(told[4]!.first.remoteAddress, '192.0.2.1');
    assert.deepEqual(told[4]!.codes, {
      NO_CLIENT_HELLO: 1,
      ERR_TLS_HANDSHAKE_TIMEOUT: 1,
      HANDSHAKE_EVICTED: 1,
    });
  });

  it('forgets a source quiet for a minute: its next refusal is told at once again', (t) => {
    const { refusals, told } = summaries(t);
    refusals.add(anonymous('192.0.2.1'));
    refusals.add(anonymous('192.0.2.1'));
    assert.equal(told.length, 1, 'the second waits for the minute');
    t.mock.timers.tick(SUMMARY_EVERY_MS);
    assert.equal(told.length, 2);
    t.mock.timers.tick(SUMMARY_EVERY_MS);
    assert.equal(told.length, 2, 'a quiet minute tells nothing');
    refusals.add(anonymous('192.0.2.1'));
    assert.equal(told.length, 3);
  });

  it('summarises the sources past the ones told apart together, naming none', (t) => {
    const { refusals, told } = summaries(t, 2);
    for (let i = 1; i <= 1000; i += 1) refusals.add(anonymous(`198.51.100.${i % 250}`));
    assert.equal(told.length, 2);
    t.mock.timers.tick(SUMMARY_EVERY_MS);
    const others = told.filter((summary) => summary.otherSources === true);
    assert.equal(others.length, 1);
    assert.equal(tlsRefusalRecord(others[0]!).details.remoteAddress, null);
    const counted = told.reduce((sum, summary) => sum + summary.count, 0);
    assert.equal(counted, 1000, 'every refusal is in a summary');
    assert.ok(told.length <= 5, `${told.length} summaries`);
  });

  it('tells what it still counts when closed', (t) => {
    const { refusals, told } = summaries(t);
    refusals.add(anonymous('192.0.2.1'));
    refusals.add(anonymous('192.0.2.1'));
    refusals.close();
    assert.deepEqual(
      told.map((summary) => summary.count),
      [1, 1],
    );
  });
});
