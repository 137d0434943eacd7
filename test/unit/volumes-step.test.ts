// The volumes step alone: what jobshim is told for a job's volumes (where each is mounted on the
// host, where the job sees it, read-only or not; an outer path before one inside it), nothing for
// a job that names none, and refusals before anything is set up: a volume that is not its
// client's, a host that keeps no volumes, a job on the host's filesystem.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LimitNotEnforceableError, VolumeNotFoundError } from '../../src/errors.ts';
import { VolumesStep } from '../../src/launcher/steps/volumes-step.ts';
import { launchRequest } from '../helpers/launch-request.ts';

/** alice's volumes, where the host mounts them; anyone else's name is not found. */
function mountedPath(client: string, name: string): string {
  if (client !== 'alice' || !['src', 'cache'].includes(name)) throw new VolumeNotFoundError(name);
  return `/data/volumes/mounts/${name}`;
}

describe('the volumes step', () => {
  it('binds each volume where the job asked, read-only when it asked, outer paths first', async () => {
    const step = new VolumesStep(mountedPath);
    const request = launchRequest({
      sandbox: 'private',
      volumes: [
        { name: 'cache', path: '/work/src/.cache', readOnly: false },
        { name: 'src', path: '/work/src', readOnly: true },
      ],
    });
    step.check(request);
    const setup = await step.prepare(request);
    assert.deepEqual(setup.args, [
      '--ro-volume',
      '/data/volumes/mounts/src',
      '/work/src',
      '--rw-volume',
      '/data/volumes/mounts/cache',
      '/work/src/.cache',
    ]);
  });

  it('tells the supervisor nothing for a job without volumes, even where the host keeps none', async () => {
    for (const step of [new VolumesStep(mountedPath), new VolumesStep(undefined)]) {
      const request = launchRequest({ sandbox: 'host' });
      step.check(request);
      assert.deepEqual((await step.prepare(request)).args, []);
    }
  });

  it("refuses another client's volume, a host without volumes and the host's filesystem", async () => {
    const bobs = launchRequest(
      { sandbox: 'private', volumes: [{ name: 'src', path: '/src', readOnly: false }] },
      { owner: 'bob' },
    );
    assert.throws(() => new VolumesStep(mountedPath).check(bobs), VolumeNotFoundError);
    await assert.rejects(new VolumesStep(mountedPath).prepare(bobs), VolumeNotFoundError);
    const alices = launchRequest({
      sandbox: 'private',
      volumes: [{ name: 'src', path: '/src', readOnly: false }],
    });
    assert.throws(() => new VolumesStep(undefined).check(alices), LimitNotEnforceableError);
    const onHost = launchRequest({
      sandbox: 'host',
      volumes: [{ name: 'src', path: '/src', readOnly: false }],
    });
    assert.throws(() => new VolumesStep(mountedPath).check(onHost), LimitNotEnforceableError);
  });
});
