// The namespaces step alone: the supervisor's flags for the namespaces this host gives every job
// (its network is the network step's: test/unit/network-step.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NamespacesStep } from '../../src/launcher/steps/namespaces-step.ts';

describe('the namespaces step', () => {
  it("gives a root server's jobs their own PID and mount namespaces", async () => {
    const step = new NamespacesStep({ pid: true });
    assert.deepEqual((await step.prepare()).args, ['--pidns']);
    assert.deepEqual(step.protections, { pidNamespace: true, mountNamespace: true });
    assert.equal(step.missingWhenRequired(), undefined);
  });

  it('gives none without root, and refuses jobs then if isolation is required', async () => {
    const step = new NamespacesStep({ pid: false });
    step.check();
    assert.deepEqual((await step.prepare()).args, []);
    assert.equal(
      step.missingWhenRequired(),
      'isolation is required but namespaces are unavailable',
    );
  });
});
