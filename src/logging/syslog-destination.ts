// The server's log lines and audit records as syslog messages for the shipper: each line (pino's
// JSON) becomes one message of facility daemon with its level's severity; each audit record one
// of facility authpriv, as the JSON the audit API answers.
import type { DestinationStream } from 'pino';
import { FACILITY, framedSyslogMessage, severityOfLevel } from './syslog-message.ts';
import type { SyslogShipper } from './syslog-shipper.ts';

/** A pino destination that ships every line it is given. */
export function syslogLogDestination(shipper: SyslogShipper): DestinationStream {
  return {
    write(line: string): void {
      const message = line.trimEnd();
      let fields: Record<string, unknown>;
      try {
        fields = JSON.parse(message) as Record<string, unknown>;
      } catch {
        return;
      }
      shipper.send(
        framedSyslogMessage({
          facility: FACILITY.daemon,
          severity: severityOfLevel(fields.level),
          time: typeof fields.time === 'string' ? fields.time : new Date().toISOString(),
          msgId: 'log',
          fields,
          message,
        }),
      );
    },
  };
}

/** Ships one audit record (notice: it is a security event whatever its outcome). */
export function shipAuditRecord(
  shipper: SyslogShipper,
  record: Readonly<Record<string, unknown>> & { readonly time: string },
): void {
  shipper.send(
    framedSyslogMessage({
      facility: FACILITY.authpriv,
      severity: 5,
      time: record.time,
      msgId: 'audit',
      fields: correlationOf(record),
      message: JSON.stringify(record),
    }),
  );
}

/** An audit record names its client in an object; the correlation fields are flat. */
function correlationOf(record: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const client = record.client as { name?: unknown; role?: unknown } | undefined;
  return {
    ...record,
    client: client?.name,
    role: client?.role,
  };
}
