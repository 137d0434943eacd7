// Identity extraction from peer-certificate subjects as Node reports them.

// node:test reports failures itself; the promises its describe/it return need no handling.
/* eslint @typescript-eslint/no-floating-promises: ["error", { "allowForKnownSafeCalls": [{ "from": "package", "package": "node:test", "name": ["describe", "it"] }] }] */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { identityFromSubject } from '../../src/pki/identity.ts';

describe('identityFromSubject', () => {
  it('reads the name from CN and the role from OU', () => {
    assert.deepEqual(identityFromSubject({ CN: 'alice', OU: 'user' }), {
      name: 'alice',
      role: 'user',
    });
  });

  it('rejects repeated CN or OU fields', () => {
    assert.equal(identityFromSubject({ CN: ['alice', 'admin'], OU: 'user' }), undefined);
    assert.equal(identityFromSubject({ CN: 'alice', OU: ['user', 'admin'] }), undefined);
  });

  it('rejects unknown roles and invalid or missing names', () => {
    assert.equal(identityFromSubject({ CN: 'alice', OU: 'root' }), undefined);
    assert.equal(identityFromSubject({ CN: '../alice', OU: 'user' }), undefined);
    assert.equal(identityFromSubject({ OU: 'user' }), undefined);
    assert.equal(identityFromSubject({ CN: 'alice' }), undefined);
    assert.equal(identityFromSubject({}), undefined);
  });
});
