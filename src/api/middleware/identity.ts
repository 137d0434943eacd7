// Attaches the caller's identity to ctx.state, once, from the client certificate the TLS layer
// has already verified: CN is the client's name, OU its role. A certificate from our CA whose
// subject does not name a known role is authenticated but may do nothing; the server's identity
// policy may give a client another role or disable it.
import type { TLSSocket } from 'node:tls';
import type { Next } from 'koa';
import type { AppContext } from '../state.ts';
import { ClientDisabledError, UnauthenticatedError } from '../../errors.ts';
import { normalizeSerial } from '../../pki/crl.ts';
import { identityFromSubject, type Identity } from '../../pki/identity.ts';
import { peerCertificate } from '../../tls/peer-certificate.ts';

/** Overrides the certificate's role or disables an identity without reissuing certificates. */
export type IdentityPolicy = (identity: Identity) => Identity | undefined;

export function identify(policy: IdentityPolicy = (identity) => identity) {
  return async function identity(ctx: AppContext, next: Next): Promise<void> {
    const socket = ctx.req.socket as TLSSocket;
    const certificate = socket.authorized ? peerCertificate(socket) : undefined;
    const fromCertificate =
      certificate === undefined ? undefined : identityFromSubject(certificate.subject);
    // Checked at the handshake, and again here: a keep-alive connection (or a resumed session)
    // must not outlive its certificate.
    if (certificate !== undefined && Date.parse(certificate.valid_to) <= Date.now()) {
      throw new UnauthenticatedError('the client certificate has expired');
    }
    if (certificate === undefined || fromCertificate === undefined) {
      throw new UnauthenticatedError(
        'the client certificate does not name a known client and role',
      );
    }
    const identity = policy(fromCertificate);
    if (identity === undefined) {
      throw new ClientDisabledError(fromCertificate.name);
    }
    ctx.state.identity = identity;
    // Jobs record it, so that revoking this certificate ends what it started; in the form the
    // CRL's serials are compared in.
    ctx.state.certificateSerial = normalizeSerial(certificate.serialNumber);
    ctx.state.log = ctx.state.log.child({ client: identity.name, role: identity.role });
    await next();
  };
}
