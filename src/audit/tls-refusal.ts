// A refused TLS client as an audit record: who it claimed to be (its certificate, when it sent
// one), from where, and why it was refused.
import type { AuditEvent } from '../contract/audit.ts';
import type { TlsRefusal } from '../tls/client-certificate-guard.ts';

export function tlsRefusalRecord(refusal: TlsRefusal): AuditEvent {
  const certificate = refusal.certificate;
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
    details: { code: refusal.code, reason: refusal.reason, remoteAddress: refusal.remoteAddress },
  };
}
