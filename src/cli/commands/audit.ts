// jobctl audit: the server's audit trail for admins and auditors (GET /v1/audit), with the filters
// the API has, and `audit verify` to have the server check the whole signed chain
// (GET /v1/audit/verify). A table on a terminal, tab-separated lines in a pipe, JSON with --json.
import type { AuditVerdict, SignedAuditRecord } from '../../contract/audit.ts';
import { defineCommand } from '../define-command.ts';
import { UsageError } from '../errors.ts';
import { EXIT } from '../exit-status.ts';
import { resolveJobId } from '../job-ids.ts';
import { print, printJson, say } from '../output.ts';
import { printable } from '../printable.ts';
import { sinceTime } from '../since-time.ts';
import { renderTable } from '../table.ts';
import { terminalOf } from '../terminal.ts';

const HELP = `Usage: jobctl audit [options]
       jobctl audit verify [options]

Show records of the server's audit trail (admins and auditors): who did what to which job,
and whether it was allowed. 'audit verify' has the server check the whole signed chain and
exits 1 if a record is missing, edited or forged.

Options:
      --client NAME   only this client's records
      --job ID        only this job's records (any unique prefix of its id)
      --since TIME    only records from TIME on: RFC 3339 or a time ago (10m, 2h, 7d)
      --until TIME    only records up to TIME
  -n, --limit N       at most N records (the server's default is 100)
      --json          the records (or the verdict) as JSON
  -h, --help          show this help

Piped, each record is one line of tab-separated fields, without a header:
  SEQ  TIME  CLIENT  ACTION  OUTCOME  STATUS  JOB

Examples:
  jobctl audit --since 1h
  jobctl audit --client alice --limit 20
  jobctl audit verify
`;

export const command = defineCommand({
  name: 'audit',
  help: HELP,
  options: {
    // Also the connection's --client, as it always was: a filter by one's own name needs none.
    client: { type: 'string' },
    job: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    limit: { type: 'string', short: 'n' },
    json: { type: 'boolean' },
  },
  // `verify`, or nothing.
  arguments: { takes: 'words' },
  async run({ values, positionals, connect }) {
    const [verb, extra] = positionals;
    if (verb !== undefined && verb !== 'verify') {
      throw new UsageError(`unknown audit command '${verb}': only 'verify'`);
    }
    if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
    const client = await connect();
    if (verb === 'verify')
      return verify(
        await client.json<AuditVerdict>('GET', '/v1/audit/verify'),
        values.json === true,
      );
    const query = new URLSearchParams();
    const now = new Date();
    if (values.client !== undefined) query.set('client', values.client);
    if (values.job !== undefined) query.set('job', await resolveJobId(client, values.job));
    if (values.since !== undefined) query.set('since', sinceTime('--since', values.since, now));
    if (values.until !== undefined) query.set('until', sinceTime('--until', values.until, now));
    if (values.limit !== undefined) query.set('limit', values.limit);
    const path = `/v1/audit${query.size === 0 ? '' : `?${query.toString()}`}`;
    const { records } = await client.json<{ records: SignedAuditRecord[] }>('GET', path);
    if (values.json === true) printJson(records);
    else printRecords(records);
    return EXIT.OK;
  },
});

function verify(verdict: AuditVerdict, json: boolean): number {
  if (json) printJson(verdict);
  if (verdict.ok) {
    if (!json) print(`the audit trail verifies: ${verdict.records} records`);
    return EXIT.OK;
  }
  if (!json)
    say(`the audit trail does not verify: ${verdict.file} line ${verdict.line}: ${verdict.reason}`);
  return EXIT.FAILURE;
}

function fieldsOf(record: SignedAuditRecord): string[] {
  return [
    String(record.seq),
    record.time,
    record.client.name ?? '-',
    record.action,
    record.outcome,
    record.status === null ? '-' : String(record.status),
    record.jobId ?? '-',
  ];
}

function printRecords(records: readonly SignedAuditRecord[]): void {
  const terminal = terminalOf(process.stdout, process.env);
  if (!terminal.isTTY) {
    print(records.map((record) => fieldsOf(record).map(printable).join('\t')).join('\n'));
    return;
  }
  const headers = ['SEQ', 'TIME', 'CLIENT', 'ACTION', 'OUTCOME', 'STATUS', 'JOB'];
  process.stdout.write(renderTable(headers, records.map(fieldsOf), { columns: terminal.columns }));
}
