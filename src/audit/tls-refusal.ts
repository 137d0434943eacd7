// Refused TLS clients as audit records: who they claimed to be (the certificate, when one was
// sent), from where, why, and how many times since the source's previous record. A source's
// first refusal is a record of its own (count 1); the rest are summarised once a minute
// (tls/refusal-summaries.ts), so a storm of refusals is a few records, not one each.
import type { AuditEvent } from '../contract/audit.ts';
import type { TlsRefusalSummary } from '../pki/tls-refusal.ts';

export function tlsRefusalRecord(summary: TlsRefusalSummary): AuditEvent {
  const { first } = summary;
  const certificate = first.certificate;
  const commonName = certificate?.subject.CN;
  return {
    action: 'tls.refused',
    outcome: 'denied',
    status: null,
    client: {
      name: typeof commonName === 'string' ? commonName : null,
      role: null,
      serial: certificate?.serialNumber ?? null,
      fingerprint256: certificate?.fingerprint256 ?? null,
    },
    jobId: null,
    details: {
      code: first.code,
      reason: first.reason,
      // Past the sources told apart, the rest share a record that names none of them.
      remoteAddress: summary.otherSources === true ? null : (first.remoteAddress ?? null),
      count: summary.count,
      codes: summary.codes,
      since: summary.since.toISOString(),
    },
  };
}
