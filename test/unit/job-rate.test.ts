// The per-client job rate without a server, on a clock the test moves: a minute's worth at once,
// then the steady rate, each client on its own, and a Retry-After that says when the next fits.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JobRateExceededError } from '../../src/errors.ts';
import { JobRate } from '../../src/worker/job-rate.ts';

function refusal(take: () => void): JobRateExceededError {
  try {
    take();
  } catch (error) {
    assert.ok(error instanceof JobRateExceededError);
    return error;
  }
  assert.fail('the job was not refused');
}

describe('JobRate', () => {
  it("takes a minute's worth at once, then one each 60/rate seconds", () => {
    let now = 0;
    const rate = new JobRate(6, () => now);
    for (let i = 0; i < 6; i += 1) rate.take('alice');
    const refused = refusal(() => rate.take('alice'));
    assert.equal(refused.code, 'JOB_RATE_EXCEEDED');
    assert.equal(refused.retryAfterSeconds, 10);
    now += 4000;
    assert.equal(refusal(() => rate.take('alice')).retryAfterSeconds, 6);
    now += 6000;
    rate.take('alice');
    assert.equal(refusal(() => rate.take('alice')).retryAfterSeconds, 10);
  });

  it('keeps each client to its own bucket, and a refusal costs no turn', () => {
    let now = 0;
    const rate = new JobRate(2, () => now);
    rate.take('alice');
    rate.take('alice');
    for (let i = 0; i < 5; i += 1) refusal(() => rate.take('alice'));
    rate.take('bob');
    rate.take('bob');
    now += 30_000;
    rate.take('alice');
    refusal(() => rate.take('alice'));
  });

  it('fills no more than a minute ahead, however long a client was quiet', () => {
    let now = 0;
    const rate = new JobRate(3, () => now);
    now += 3_600_000;
    for (let i = 0; i < 3; i += 1) rate.take('alice');
    assert.ok(refusal(() => rate.take('alice')).retryAfterSeconds >= 1);
  });
});
