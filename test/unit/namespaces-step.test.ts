// The namespaces step alone: the supervisor's flags for the namespaces this host gives every job.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NamespacesStep } from '../../src/launcher/steps/namespaces-step.ts';

describe('the namespaces step', () => {
  it("gives a root server's jobs their own PID, mount and network namespaces", async () => {
    const step = new NamespacesStep({ pid: true, network: true });
    assert.deepEqual((await step.prepare()).args, ['--pidns', '--netns']);
    assert.deepEqual(step.protections, {
      pidNamespace: true,
      mountNamespace: true,
      networkNamespace: true,
    });
    assert.equal(step.missingWhenRequired(), undefined);
  });

  it("leaves jobs the host's network when it is configured so", async () => {
    const step = new NamespacesStep({ pid: true, network: false });
    assert.deepEqual((await step.prepare()).args, ['--pidns']);
    assert.equal(step.protections.networkNamespace, false);
  });

  it('gives none without root, and refuses jobs then if isolation is required', async () => {
    const step = new NamespacesStep({ pid: false, network: false });
    step.check();
    assert.deepEqual((await step.prepare()).args, []);
    assert.equal(
      step.missingWhenRequired(),
      'isolation is required but namespaces are unavailable',
    );
  });
});
