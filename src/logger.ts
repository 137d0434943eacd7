// The process-wide pino logger, and where its lines go: stdout (as JSON, or as readable lines
// when stdout is a terminal and pino-pretty is installed), and any destination added later (the
// syslog collector, once the server's certificate is loaded). Redaction is a second line of
// defence: nothing secret is logged on purpose (no keys, no job output or input, no environment
// values).
import { pino, type DestinationStream, type Logger } from 'pino';

export interface Logging {
  readonly logger: Logger;
  /** Sends every line from now on to `destination` too, as JSON. */
  addDestination(destination: DestinationStream): void;
}

export async function createLogging(level: string): Promise<Logging> {
  const console = await consoleDestination();
  if (level === 'silent') {
    return { logger: pino({ level }, console), addDestination: () => undefined };
  }
  const streams = pino.multistream([{ level: level as pino.Level, stream: console }]);
  const logger = pino(
    {
      level,
      base: { service: 'jobworker' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['*.key', '*.keyPem', '*.env', '*.password', 'headers.authorization'],
        censor: '[redacted]',
      },
    },
    streams,
  );
  return {
    logger,
    addDestination: (destination) =>
      streams.add({ level: level as pino.Level, stream: destination }),
  };
}

/** JSON for machines (a service's journal, a pipe); readable lines for a person at a terminal. */
async function consoleDestination(): Promise<DestinationStream> {
  if (!process.stdout.isTTY) return pino.destination(1);
  return (await prettyLines()) ?? pino.destination(1);
}

/**
 * pino-pretty, when it is installed: it is a development dependency, so a production install
 * (`npm ci --omit=dev`) writes JSON to a terminal too.
 */
async function prettyLines(): Promise<DestinationStream | undefined> {
  try {
    const { default: pretty } = await import('pino-pretty');
    return pretty({
      sync: true,
      colorize: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,service',
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}
