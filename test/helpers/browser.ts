// A real browser for the tests (and the screenshot script): Debian's Chromium driven by
// Playwright, holding one development client's certificate for the test server's origin, as a
// person who imported their PKCS#12 bundle would.
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import type { ClientName, TestServer } from './server.ts';

export const CHROMIUM = '/usr/bin/chromium';

/** The flags a headless Chromium needs as root on a machine without a network. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** A browser profile that presents `client`'s certificate to the server (and nobody else). */
export function contextFor(
  browser: Browser,
  server: TestServer,
  client: ClientName,
  options: { width?: number; height?: number } = {},
): Promise<BrowserContext> {
  return browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: options.width ?? 1280, height: options.height ?? 800 },
    clientCertificates: [
      {
        origin: `https://localhost:${server.port}`,
        certPath: join(server.certsDir, 'clients', client, 'cert.pem'),
        keyPath: join(server.certsDir, 'clients', client, 'key.pem'),
      },
    ],
  });
}

/** Whether the audit trail holds a refusal (403, `auth.denied`) of `client`'s request for `path`. */
export async function refusalAudited(
  server: TestServer,
  client: ClientName,
  path: string,
): Promise<boolean> {
  const response = await server.request('auditor', 'GET', `/v1/audit?client=${client}&limit=50`);
  const { records } = response.json<{
    records: { action: string; status: number; details: { path?: string } }[];
  }>();
  return records.some(
    (record) =>
      record.action === 'auth.denied' && record.status === 403 && record.details.path === path,
  );
}
