// @ts-check
// The console's only way to the server: the public API, as this browser's client certificate
// allows. Types come from the server's own contract (type-only imports: erased, never loaded).

/**
 * @typedef {import('../../jobs/job.ts').Job} Job
 * @typedef {import('../../contract/jobs.ts').ListedJob} ListedJob
 * @typedef {import('../../contract/health.ts').Health} Health
 * @typedef {import('../../contract/problem.ts').Problem} Problem
 * @typedef {import('../../contract/audit.ts').AuditRecord} AuditRecord
 * @typedef {import('../../contract/limits.ts').Limits} Limits
 * @typedef {import('../../contract/audit.ts').AuditVerdict} AuditVerdict
 */

/** A problem+json answer (RFC 9457), or a request that never got one. */
export class ApiError extends Error {
  /**
   * @param {number} status 0 when the server could not be reached
   * @param {string} message
   * @param {Problem | undefined} problem
   */
  constructor(status, message, problem) {
    super(message);
    this.status = status;
    this.problem = problem;
  }

  /** The problem's detail and each field it names, as a person would read them. */
  describe() {
    const fields = (this.problem?.errors ?? []).map((error) => `${error.field}: ${error.message}`);
    return [this.message, ...fields].join('\n');
  }
}

/**
 * What went wrong, as a person would read it.
 * @param {unknown} error
 */
export function describe(error) {
  return error instanceof ApiError ? error.describe() : String(error);
}

/** A job's page in the console, for an id that looks like one (else undefined). @param {string} id */
export function jobPage(id) {
  return /^[0-9a-f-]{36}$/.test(id) ? `/jobs/${id}` : undefined;
}

/**
 * A response's JSON, as `unknown` until a caller says what it is.
 * @param {Response} response
 * @returns {Promise<unknown>}
 */
function bodyOf(response) {
  return response.json();
}

/**
 * Sends a request and answers the response, or throws an ApiError.
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
export async function request(path, init = {}) {
  let response;
  try {
    response = await fetch(path, {
      ...init,
      headers: { accept: 'application/json', ...init.headers },
    });
  } catch {
    throw new ApiError(0, 'the server cannot be reached', undefined);
  }
  if (response.ok) return response;
  /** @type {Problem | undefined} */
  let problem;
  try {
    problem = /** @type {Problem} */ (await bodyOf(response));
  } catch {
    problem = undefined;
  }
  throw new ApiError(
    response.status,
    problem?.detail ?? `${response.status} ${response.statusText}`,
    problem,
  );
}

/**
 * @template T
 * @param {string} path
 * @returns {Promise<T>}
 */
export async function getJson(path) {
  const response = await request(path);
  return /** @type {T} */ (await bodyOf(response));
}

/**
 * A state-changing request with a JSON body (or none).
 * @template T
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<T | undefined>}
 */
export async function send(method, path, body) {
  const response = await request(path, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  if (response.status === 204) return undefined;
  return /** @type {T} */ (await bodyOf(response));
}

/**
 * A page of a listing and where the next one is (the `Link: rel="next"` header).
 * @param {string} path
 * @returns {Promise<{ jobs: ListedJob[], next: string | undefined }>}
 */
export async function listJobs(path) {
  const response = await request(path);
  const body = /** @type {{ jobs: ListedJob[] }} */ (await bodyOf(response));
  const next = /<([^>]+)>;\s*rel="next"/.exec(response.headers.get('link') ?? '')?.[1];
  return { jobs: body.jobs, next };
}

/** @param {string} id */
export function jobPath(id) {
  return `/v1/jobs/${encodeURIComponent(id)}`;
}
