// The web console's pages and files, as the document describes them: server.ts mounts the console
// beside the API (src/console/, a client of the API, which imports nothing of it), and the
// document lists what the server answers on its port, these included. Not audited.
import { ref, success } from './components.ts';
import { operation } from './operation.ts';
import type { Header } from './types.ts';
import type { RouteDeclaration } from '../route-declaration.ts';

const html = { 'text/html; charset=utf-8': { schema: { type: 'string' } } } as const;
const notModified = success('the copy the browser has is current (`If-None-Match`)');
const etag: Header = { description: 'the version of the file', schema: { type: 'string' } };

const GET_CONSOLE = operation({
  operationId: 'getConsole',
  summary: 'The web console',
  description:
    "The console's page: the caller's jobs (live, paged, filtered), a form to start one, and for " +
    "admins the host's protections and capacity, for admins and auditors the audit trail and its " +
    'verification. It uses this API and nothing else, with the browser holding the client ' +
    'certificate, so it shows exactly what the certificate may see.',
  tag: 'console',
  responses: { 200: success('the page', html, { ETag: etag }), 304: notModified },
});

const GET_CONSOLE_JOB = operation({
  operationId: 'getConsoleJobPage',
  summary: "A job's page in the web console",
  description:
    'The same page, showing one job (a link that can be shared): its command, limits, usage, ' +
    'timing and end, its output following live, and the stop and delete buttons. The page asks ' +
    '`GET /v1/jobs/{id}`; a job the caller may not see is "no job" there as here.',
  tag: 'console',
  parameters: [
    {
      name: 'id',
      in: 'path',
      required: true,
      description: "a job's id; the page shows it, or that there is no such job",
      schema: { type: 'string', maxLength: 200 },
    },
  ],
  responses: { 200: success('the page', html, { ETag: etag }), 304: notModified },
});

const GET_CONSOLE_ASSET = operation({
  operationId: 'getConsoleAsset',
  summary: "The web console's code and styles",
  description: "The console's JavaScript modules, style sheet and icon; any other name is 404.",
  tag: 'console',
  parameters: [
    {
      name: 'file',
      in: 'path',
      required: true,
      description: 'a file of the console, e.g. `app.js` or `console.css`',
      schema: { type: 'string', pattern: '^[a-z0-9-]+\\.(js|css|svg)$', maxLength: 64 },
    },
  ],
  responses: {
    200: success(
      'the file',
      {
        'text/javascript; charset=utf-8': { schema: { type: 'string' } },
        'text/css; charset=utf-8': { schema: { type: 'string' } },
        'image/svg+xml': { schema: { type: 'string' } },
      },
      { ETag: etag },
    ),
    304: notModified,
    404: ref('responses', 'NoSuchFile'),
  },
});

export const CONSOLE_ROUTES: readonly RouteDeclaration[] = [
  { method: 'get', path: '/', operation: GET_CONSOLE },
  { method: 'get', path: '/jobs/{id}', operation: GET_CONSOLE_JOB },
  { method: 'get', path: '/ui/{file}', operation: GET_CONSOLE_ASSET },
];
