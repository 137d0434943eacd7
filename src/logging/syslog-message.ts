// One syslog message as RFC 5424 writes it, framed for a TLS stream as RFC 5425 says (the octet
// count, a space, the message), so that a collector reads messages with newlines in them whole.
// The fields every line about a request or a job carries (docs/logging.md) also go in a
// structured-data element, so a collector can filter on them without parsing the JSON.
import { hostname } from 'node:os';

/** RFC 5424 facilities used here: the server's own log, and its audit trail. */
export const FACILITY = { daemon: 3, authpriv: 10 } as const;

/** pino's levels to syslog severities (RFC 5424, section 6.2.1). */
const SEVERITY_OF_LEVEL: Readonly<Record<number, number>> = {
  10: 7, // trace: debug
  20: 7, // debug
  30: 6, // info
  40: 4, // warn: warning
  50: 3, // error
  60: 2, // fatal: critical
};

/** Private enterprise number 32473 is the one RFC 5612 sets aside for documentation. */
const SD_ID = 'jobworker@32473';
/** The correlation fields, in the order they are written. */
export const CORRELATION_FIELDS = ['requestId', 'traceId', 'client', 'role', 'jobId'] as const;

export interface SyslogEntry {
  readonly facility: number;
  readonly severity: number;
  readonly time: string;
  /** `log` for the server's log lines, `audit` for audit records. */
  readonly msgId: 'log' | 'audit';
  readonly fields: Readonly<Record<string, unknown>>;
  /** The whole record, as JSON. */
  readonly message: string;
}

const HOSTNAME = printable(hostname(), 255);
const APP_NAME = 'jobworker';

export function severityOfLevel(level: unknown): number {
  return typeof level === 'number' ? (SEVERITY_OF_LEVEL[level] ?? 6) : 6;
}

/** The message with its RFC 5425 frame: `LENGTH SP SYSLOG-MSG`. */
export function framedSyslogMessage(entry: SyslogEntry): Buffer {
  const priority = entry.facility * 8 + entry.severity;
  const header = `<${priority}>1 ${entry.time} ${HOSTNAME} ${APP_NAME} ${process.pid} ${entry.msgId}`;
  const message = Buffer.from(`${header} ${structuredData(entry.fields)} ${entry.message}`);
  return Buffer.concat([Buffer.from(`${message.length} `), message]);
}

function structuredData(fields: Readonly<Record<string, unknown>>): string {
  const params = CORRELATION_FIELDS.flatMap((name) => {
    const value = fields[name];
    return typeof value === 'string' && value !== '' ? [`${name}="${escapeParam(value)}"`] : [];
  });
  return params.length === 0 ? '-' : `[${SD_ID} ${params.join(' ')}]`;
}

/**
 * RFC 5424, 6.3.3: '"', '\' and ']' are escaped in a parameter's value. Control characters are
 * dropped: a value may come from a certificate's CN that nobody verified (a refused TLS client),
 * and a relay that frames by newline must not be fooled by one.
 */
function escapeParam(value: string): string {
  const printableOnly = [...value.slice(0, 256)]
    .filter((character) => character.charCodeAt(0) >= 0x20 && character.charCodeAt(0) !== 0x7f)
    .join('');
  return printableOnly.replace(/["\\\]]/g, (character) => `\\${character}`);
}

/** Header fields are printable US-ASCII without spaces. */
function printable(text: string, max: number): string {
  const cleaned = text.replace(/[^\x21-\x7e]/g, '');
  return cleaned === '' ? '-' : cleaned.slice(0, max);
}
