// The API's contract: an OpenAPI 3.1 document of every route the server answers, served at
// GET /openapi.json. Each route declares its own operation next to its handler (routes/); this
// file assembles them, in routes/route-list.ts's order, with the components they share
// (openapi/): schemas and query parameters generated (z.toJSONSchema) from the zod schemas that
// validate requests and from which the code's wire types are inferred (src/contract/ and the
// job vocabulary in src/jobs/), problem codes from the contract's table, and each operation's
// roles from permissions.ts, so nothing here can drift from the code;
// test/api/openapi.test.ts checks the routes against the router, and statuses, media types and
// bodies against a running server.
import { HEADERS, PARAMETERS, RESPONSES } from './openapi/components.ts';
import { SCHEMAS } from './openapi/schemas.ts';
import type { OpenApiDocument, Operation, PathItem } from './openapi/types.ts';
import type { RouteDeclaration } from './route-declaration.ts';
import { ROUTES } from './routes/route-list.ts';

/** The routes' operations by path, each path's methods in the order its routes are declared. */
function pathsOf(routes: readonly RouteDeclaration[]): Record<string, PathItem> {
  const paths: Record<string, Partial<Record<RouteDeclaration['method'], Operation>>> = {};
  for (const { path, method, operation } of routes) {
    paths[path] = { ...paths[path], [method]: operation };
  }
  return paths;
}

const DESCRIPTION = `Run Linux commands on a host over HTTPS, stop them, and read or follow their output.

**Authentication** is mutual TLS: every client presents a certificate from the server's CA, whose
\`CN\` is the client's name and \`OU\` its role (\`admin\`, \`user\` or \`auditor\`). Refused
certificates never reach HTTP: the connection is closed after the handshake. Each operation lists
the roles that may call it (\`x-roles\`); every other role is answered \`403 FORBIDDEN\`.

**Errors** are \`application/problem+json\` (RFC 9457) with a stable \`code\`. Besides the
responses each operation lists, any path answers \`404 NOT_FOUND\` when it is not one of these, and
every path answers \`405 METHOD_NOT_ALLOWED\` to a method it does not list. Every path answers
\`OPTIONS\` with \`200\` and its methods in \`Allow\`, and \`HEAD\` wherever it answers \`GET\`.
Every response carries \`X-Request-Id\`, and \`Cache-Control: no-store\` but for the console's
files (\`no-cache\`: they hold no data).

**Browsers** hold a client certificate as an ambient credential, so a request a browser marks as
coming from another site's page (\`Sec-Fetch-Site\` or \`Origin\`) is answered
\`403 CROSS_SITE_REQUEST\`, reads included; only a navigation to a page of the console is not.`;

export const OPENAPI_DOCUMENT: OpenApiDocument = {
  openapi: '3.1.1',
  info: {
    title: 'jobworker',
    version: 'v1',
    description: DESCRIPTION,
    license: { name: 'MIT', identifier: 'MIT' },
  },
  servers: [
    {
      url: 'https://localhost:8443',
      description: 'a local development server on its default address',
      // Clients of this API are operators' own machines and CI systems, never the public.
      'x-internal': true,
    },
  ],
  security: [{ clientCertificate: [] }],
  tags: [
    { name: 'jobs', description: 'start, inspect, follow, stop and delete jobs' },
    { name: 'volumes', description: "a client's named volumes and their files as tar streams" },
    { name: 'audit', description: 'the signed audit trail and the keys that verify it' },
    { name: 'service', description: 'health, metrics and this document' },
    { name: 'console', description: 'the web console: HTML pages and their assets' },
  ],
  paths: pathsOf(ROUTES),
  components: {
    securitySchemes: {
      clientCertificate: {
        type: 'mutualTLS',
        description: "a client certificate issued by the server's CA; CN is the name, OU the role",
      },
    },
    schemas: SCHEMAS,
    parameters: PARAMETERS,
    headers: HEADERS,
    responses: RESPONSES,
  },
};
