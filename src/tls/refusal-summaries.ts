// Refused TLS clients, told to the log and the audit trail in summaries: a source's first refusal
// at once, then the rest of its refusals once a minute, as a count and the codes seen. A source is
// the certificate a client presented (its fingerprint), or its address when it presented none.
// Without this every connection a peer opens and drops costs a signed audit record: 8,450
// connections in 10 s added 8,450 records (4.9 MB), and verifying the log slowed with them.
// Past MAX_SOURCES sources in a minute the rest share one summary, so records stay bounded
// however many addresses a peer has. Metrics count every refusal on their own.
import type { PeerCertificate } from 'node:tls';
import type { Logger } from 'pino';
import type { TlsRefusal, TlsRefusalSummary } from '../pki/tls-refusal.ts';

/** How often the refusals counted since a source's previous summary are summarised. */
export const SUMMARY_EVERY_MS = 60_000;
/** Sources told apart at once; a larger number of them is a storm of its own. */
const MAX_SOURCES = 256;

interface Tally {
  readonly first: TlsRefusal;
  readonly since: Date;
  count: number;
  readonly codes: Map<string, number>;
}

export interface RefusalSummariesOptions {
  readonly logger: Logger;
  /** Told of each summary, the first refusal of a source included (for the audit trail). */
  readonly onSummary: (summary: TlsRefusalSummary) => void;
  readonly everyMs?: number;
  readonly maxSources?: number;
}

export class RefusalSummaries {
  readonly #logger: Logger;
  readonly #onSummary: (summary: TlsRefusalSummary) => void;
  readonly #maxSources: number;
  /** Each source heard from in this period or the one before; undefined: nothing to tell yet. */
  readonly #sources = new Map<string, Tally | undefined>();
  #others: Tally | undefined;
  readonly #timer: NodeJS.Timeout;

  constructor(options: RefusalSummariesOptions) {
    this.#logger = options.logger;
    this.#onSummary = options.onSummary;
    this.#maxSources = options.maxSources ?? MAX_SOURCES;
    this.#timer = setInterval(() => this.#summarise(), options.everyMs ?? SUMMARY_EVERY_MS);
    this.#timer.unref();
  }

  add(refusal: TlsRefusal): void {
    const source = sourceOf(refusal);
    if (this.#sources.has(source)) {
      this.#sources.set(source, counted(this.#sources.get(source), refusal));
    } else if (this.#sources.size < this.#maxSources) {
      // A source's first refusal is told at once: an operator looking for one client's
      // refusal (a revoked certificate, an expired one) finds it without waiting a minute.
      this.#sources.set(source, undefined);
      this.#tell(counted(undefined, refusal), 'first');
    } else {
      this.#others = counted(this.#others, refusal);
    }
  }

  /** Tells what is still counted and stops; for shutdown, before the audit log closes. */
  close(): void {
    clearInterval(this.#timer);
    this.#summarise();
  }

  #summarise(): void {
    for (const [source, tally] of this.#sources) {
      // A source quiet for a whole period is forgotten: its next refusal is told at once again.
      if (tally === undefined) this.#sources.delete(source);
      else {
        this.#sources.set(source, undefined);
        this.#tell(tally, 'summary');
      }
    }
    if (this.#others !== undefined) this.#tell(this.#others, 'others');
    this.#others = undefined;
  }

  #tell(tally: Tally, kind: 'first' | 'summary' | 'others'): void {
    const summary: TlsRefusalSummary = {
      first: tally.first,
      count: tally.count,
      codes: Object.fromEntries(tally.codes),
      since: tally.since,
      ...(kind === 'others' ? { otherSources: true as const } : {}),
    };
    this.#log(summary, kind === 'first');
    try {
      this.#onSummary(summary);
    } catch (error) {
      this.#logger.error({ err: error }, 'could not record a TLS refusal');
    }
  }

  #log(summary: TlsRefusalSummary, first: boolean): void {
    const refusal = summary.first;
    const fields = {
      ...(refusal.certificate === undefined ? {} : describeCertificate(refusal.certificate)),
      code: refusal.code,
      reason: refusal.reason,
      remoteAddress: summary.otherSources === true ? 'others' : refusal.remoteAddress,
    };
    const level = refusal.stage === 'certificate' ? 'warn' : 'info';
    if (first) {
      const message =
        refusal.stage === 'certificate' ? 'TLS client refused' : 'TLS handshake refused';
      this.#logger[level](fields, message);
      return;
    }
    this.#logger[level](
      { ...fields, count: summary.count, codes: summary.codes, since: summary.since },
      'TLS refusals summarised',
    );
  }
}

/** Who a refusal is counted against: the certificate it presented, or else its address. */
function sourceOf(refusal: TlsRefusal): string {
  if (refusal.certificate !== undefined) return `certificate ${refusal.certificate.fingerprint256}`;
  return `address ${refusal.remoteAddress ?? 'unknown'}`;
}

function counted(tally: Tally | undefined, refusal: TlsRefusal): Tally {
  const next = tally ?? {
    first: refusal,
    since: new Date(),
    count: 0,
    codes: new Map<string, number>(),
  };
  next.count += 1;
  next.codes.set(refusal.code, (next.codes.get(refusal.code) ?? 0) + 1);
  return next;
}

function describeCertificate(certificate: PeerCertificate): Record<string, unknown> {
  return {
    subject: certificate.subject,
    issuer: certificate.issuer.CN,
    serial: certificate.serialNumber,
    fingerprint256: certificate.fingerprint256,
    validTo: certificate.valid_to,
  };
}
