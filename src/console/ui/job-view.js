// @ts-check
// `/jobs/{id}`: one job: what it runs, its limits, usage, timing and end, its output as it
// arrives, and the stop and delete buttons its client's role allows.
import { ApiError, describe, getJson, jobPath, send } from './api.js';
import {
  commandLine,
  el,
  elapsed,
  factList,
  formatBytes,
  formatDuration,
  formatTime,
  labelChips,
  show,
  statusChip,
  statusOf,
} from './dom.js';
import { ENDED_STATUSES } from './job-status.js';
import { outputView } from './output-view.js';
import { refresher } from './refresh.js';
import { terminalView } from './terminal-view.js';

const REFRESH_MS = 3000;
/** Longer commands are cut in the heading; the arguments are listed whole below it. */
const HEADING_CHARS = 160;

/**
 * @param {HTMLElement} main
 * @param {import('./app.js').Session} session
 * @param {string} id
 * @returns {import('./app.js').View}
 */
export function jobView(main, session, id) {
  document.title = 'job · jobworker';
  const facts = el('div');
  const actions = el('div', { class: 'actions' });
  const message = el('p', { class: 'error', role: 'alert' });
  const output = el('section', { class: 'card', id: 'output' });
  const heading = el('h1', { class: 'command' });
  const banner = el('div', { class: 'banner', id: 'failure', role: 'status', hidden: true });
  show(
    main,
    el('a', { href: '/', class: 'back' }, '← jobs'),
    banner,
    heading,
    message,
    actions,
    el('section', { class: 'card' }, facts),
    output,
  );

  let closed = false;
  /** @type {import('./app.js').View | undefined} */
  let follower;

  /** Shows the job; answers whether to look again (not once it has ended, or cannot be read). */
  async function load(isCurrent = () => !closed) {
    /** @type {import('./api.js').Job} */
    let job;
    try {
      job = await getJson(jobPath(id));
    } catch (error) {
      if (!isCurrent()) return false;
      if (error instanceof ApiError && error.status === 404) {
        show(
          main,
          el('a', { href: '/', class: 'back' }, '← jobs'),
          el('p', { class: 'error' }, `No job ${id} here.`),
        );
        return false;
      }
      message.textContent = describe(error);
      // Asking again helps when the server was away or busy, not when it said no.
      return (
        !(error instanceof ApiError) ||
        error.status === 0 ||
        error.status === 429 ||
        error.status >= 500
      );
    }
    if (!isCurrent()) return false;
    message.textContent = '';
    render(job);
    follower ??=
      job.tty === null
        ? outputView(output, job, () => refresh.now())
        : terminalView(output, job, session, () => refresh.now());
    return !ENDED_STATUSES.includes(job.status);
  }
  const refresh = refresher(load, REFRESH_MS);

  let shownStatus = '';

  /** @param {import('./api.js').Job} job */
  function render(job) {
    const command = commandLine(job.command, job.args);
    document.title = `${job.command} · ${job.status} · jobworker`;
    show(heading, command.length > HEADING_CHARS ? `${command.slice(0, HEADING_CHARS)}…` : command);
    show(facts, jobFacts(job));
    showFailure(banner, job);
    const ended = ENDED_STATUSES.includes(job.status);
    const { permissions } = session.health;
    // The buttons are drawn again only when the status changed: one replaced under a pointer
    // on its way to it (every few seconds, on a busy page) would lose the click.
    const shown = `${job.status} ${statusOf(job).text}`;
    if (shown === shownStatus) return;
    shownStatus = shown;
    show(
      actions,
      statusChip(job, { id: 'status' }),
      permissions.includes('stop') &&
        !ended &&
        el(
          'button',
          { type: 'button', onclick: () => void act('POST', `${jobPath(id)}/stop`) },
          'Stop',
        ),
      permissions.includes('start') &&
        job.owner === session.health.client.name &&
        el(
          'button',
          {
            type: 'button',
            title: rerunNote(job),
            onclick: () => void rerun(job),
          },
          'Re-run',
        ),
      permissions.includes('delete') &&
        ended &&
        el(
          'button',
          { type: 'button', class: 'danger', onclick: () => void act('DELETE', jobPath(id), '/') },
          'Delete',
        ),
    );
  }

  /**
   * @param {string} method
   * @param {string} path
   * @param {string} [then] where to go once it is done; else the job is shown again
   */
  async function act(method, path, then) {
    try {
      await send(method, path);
      if (closed) return;
      if (then !== undefined) session.navigate(then);
      else refresh.now();
    } catch (error) {
      message.textContent = describe(error);
    }
  }

  /**
   * Starts the same command again, and opens the new job.
   * @param {import('./api.js').Job} job
   */
  async function rerun(job) {
    try {
      const started = /** @type {import('./api.js').Job} */ (
        await send('POST', '/v1/jobs', rerunRequest(job))
      );
      if (!closed) session.navigate(`/jobs/${started.id}`);
    } catch (error) {
      message.textContent = describe(error);
    }
  }

  return {
    close() {
      closed = true;
      refresh.close();
      follower?.close();
    },
  };
}

/** @param {import('./api.js').Job} job */
function jobFacts(job) {
  /** @type {Parameters<typeof factList>[0]} */
  const facts = [
    ['id', job.id],
    ['client', job.owner],
    ['ended', endOf(job)],
    ['created', formatTime(job.createdAt)],
    ['started', formatTime(job.startedAt)],
    ['finished', formatTime(job.endedAt)],
    ['took', formatDuration(elapsed(job.startedAt, job.endedAt))],
    ['limits', limitsOf(job)],
    ['timeout', job.timeoutMs === null ? 'none' : formatDuration(job.timeoutMs)],
    ['CPU time', job.usage === null ? '—' : formatDuration(job.usage.cpuMs)],
    ['peak memory', job.usage === null ? '—' : formatBytes(job.usage.peakMemoryBytes)],
    // Filled while the job runs (the API reads its cgroup); null once it has ended.
    ['memory now', job.usage?.memoryBytes == null ? '—' : formatBytes(job.usage.memoryBytes)],
    ['output', `${formatBytes(job.outputBytes)}${job.outputTruncated ? ' (cut at its cap)' : ''}`],
    ['sandbox', job.image === null ? job.sandbox : `${job.sandbox}, image ${job.image}`],
    ['network', job.network],
    ['volumes', volumesOf(job)],
    ['directory', job.cwd],
    ['environment', job.envNames.join(', ') || 'none set'],
    ['labels', labelsOf(job)],
    ['program', job.command, 'wide'],
    ['arguments', argumentList(job.args), 'wide'],
  ];
  return factList(facts);
}

/**
 * A job that ended other than as its owner asked (it failed, was lost or killed, or the worker
 * ended it: revocation, the disk floor, its output budget) says why at the top of its page.
 * @param {HTMLElement} banner
 * @param {import('./api.js').Job} job
 */
function showFailure(banner, job) {
  const reason = failureOf(job);
  banner.hidden = reason === undefined;
  show(banner, reason === undefined ? [] : [el('strong', {}, statusOf(job).text), ': ', reason]);
}

/** @param {import('./api.js').Job} job */
function failureOf(job) {
  if (!ENDED_STATUSES.includes(job.status)) return undefined;
  if (job.error !== null) return job.error;
  if (job.oomKilled) return 'killed by the kernel: out of memory (its memory limit)';
  if (job.status === 'exited' && job.signal !== null) return `killed by ${job.signal}`;
  if (job.status === 'timedout') return 'its time limit passed';
  if (job.status === 'failed' || job.status === 'lost') return 'the worker gave no reason';
  return undefined;
}

/**
 * A start request for the same job: its command, arguments, directory, labels, limits, timeout,
 * sandbox, network, volumes, input and terminal. Not its environment: the server keeps only the names, never the
 * values (they may be secrets), so the new job starts without them, as the button's title says.
 * @param {import('./api.js').Job} job
 */
function rerunRequest(job) {
  const { limits } = job;
  return {
    command: job.command,
    args: job.args,
    cwd: job.cwd,
    labels: job.labels,
    limits: {
      ...(limits.cpus === undefined ? {} : { cpus: limits.cpus }),
      ...(limits.memoryBytes === undefined ? {} : { memory: limits.memoryBytes }),
      ...(limits.pids === undefined ? {} : { pids: limits.pids }),
      ...(limits.ioReadBytesPerSecond === undefined
        ? {}
        : { ioReadBps: limits.ioReadBytesPerSecond }),
      ...(limits.ioWriteBytesPerSecond === undefined
        ? {}
        : { ioWriteBps: limits.ioWriteBytesPerSecond }),
    },
    ...(job.timeoutMs === null ? {} : { timeout: `${job.timeoutMs}ms` }),
    sandbox: job.sandbox,
    ...(job.image === null ? {} : { image: job.image }),
    network: job.network,
    ...(job.volumes.length === 0 ? {} : { volumes: job.volumes }),
    stdin: job.stdin,
    ...(job.tty === null ? {} : { tty: true, ttySize: job.tty }),
    ...(job.stderr === undefined ? {} : { stderr: job.stderr }),
  };
}

/** Each volume and where the job saw it. @param {import('./api.js').Job} job */
function volumesOf(job) {
  if (job.volumes.length === 0) return 'none';
  return job.volumes
    .map(({ name, path, readOnly }) => `${name} at ${path}${readOnly ? ' (read-only)' : ''}`)
    .join(', ');
}

/** @param {import('./api.js').Job} job */
function rerunNote(job) {
  const start = 'Start the same command, arguments, directory, limits and labels again';
  if (job.envNames.length === 0) return start;
  return `${start}; without its environment (${job.envNames.join(', ')}): values are never kept`;
}

/** Each argument whole, one to a line, as the job received it. @param {readonly string[]} args */
function argumentList(args) {
  if (args.length === 0) return 'none';
  return el(
    'ol',
    { class: 'args' },
    args.map((arg) => el('li', {}, el('code', {}, arg))),
  );
}

/** @param {import('./api.js').Job} job */
function labelsOf(job) {
  return Object.keys(job.labels).length === 0 ? 'none' : labelChips(job.labels);
}

/** @param {import('./api.js').Job} job */
function endOf(job) {
  if (job.error !== null) return job.error;
  if (job.oomKilled) return 'OOMKilled: the kernel killed it for memory';
  if (job.signal !== null)
    return `${job.status === 'exited' ? 'killed' : 'stopped'} by ${job.signal}`;
  if (job.exitCode !== null) return `exit code ${job.exitCode}`;
  if (job.queuePosition === null) return 'not yet';
  const why = job.queueReason === null ? '' : `: ${job.queueReason.message}`;
  return `not yet (number ${job.queuePosition} in the queue${why})`;
}

/** @param {import('./api.js').Job} job */
function limitsOf(job) {
  const { limits } = job;
  const parts = [
    limits.cpus !== undefined && `${limits.cpus} CPU${limits.cpus === 1 ? '' : 's'}`,
    limits.memoryBytes !== undefined && formatBytes(limits.memoryBytes),
    limits.pids !== undefined && `${limits.pids} processes`,
    limits.ioReadBytesPerSecond !== undefined &&
      `read ${formatBytes(limits.ioReadBytesPerSecond)}/s`,
    limits.ioWriteBytesPerSecond !== undefined &&
      `write ${formatBytes(limits.ioWriteBytesPerSecond)}/s`,
  ].filter((part) => part !== false);
  return parts.join(', ') || 'none';
}
