// The process-wide pino logger. Redaction is a second line of defence: nothing secret is
// logged on purpose (no keys, no job output, no environment values).
import { pino, type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'jobworker' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['*.key', '*.keyPem', '*.env', '*.password', 'headers.authorization'],
      censor: '[redacted]',
    },
  });
}
