// The server-side policy that overrides what client certificates say, without reissuing them:
// give a client another role, disable it, or admit only the clients it lists. A certificate
// names the client; this file decides what that client may be.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Identity } from '../pki/identity.ts';
import { CLIENT_NAME_PATTERN } from '../pki/names.ts';
import { ROLES } from '../pki/roles.ts';

const clientRuleSchema = z.strictObject({
  role: z.enum(ROLES).optional(),
  disabled: z.boolean().optional(),
  /** Why the rule exists: for the people who read the file, never used by the server. */
  note: z.string().optional(),
});

const policySchema = z.strictObject({
  /** `certificate` admits any client the CA certified; `deny` only those listed here. */
  unlisted: z.enum(['certificate', 'deny']).default('certificate'),
  clients: z.record(z.string().regex(CLIENT_NAME_PATTERN), clientRuleSchema).default({}),
});

export type IdentityPolicyDocument = z.infer<typeof policySchema>;

/** With no policy file, every certificate's own subject decides. */
export const CERTIFICATE_ONLY: IdentityPolicyDocument = { unlisted: 'certificate', clients: {} };

export class IdentityPolicyError extends Error {
  readonly code = 'IDENTITY_POLICY_INVALID';
}

/** The identity a request acts as, or undefined when the policy disables the client. */
export function applyPolicy(
  policy: IdentityPolicyDocument,
  identity: Identity,
): Identity | undefined {
  const rule = Object.hasOwn(policy.clients, identity.name)
    ? policy.clients[identity.name]
    : undefined;
  if (rule === undefined) return policy.unlisted === 'deny' ? undefined : identity;
  if (rule.disabled === true) return undefined;
  return { name: identity.name, role: rule.role ?? identity.role };
}

/** Reads the policy file; a missing file means certificates alone decide. */
export async function readIdentityPolicy(path: string): Promise<IdentityPolicyDocument> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') {
      return CERTIFICATE_ONLY;
    }
    throw new IdentityPolicyError(`cannot read the identity policy ${path}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new IdentityPolicyError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = policySchema.safeParse(json);
  if (!parsed.success) {
    throw new IdentityPolicyError(`${path}: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
  }
  return parsed.data;
}
