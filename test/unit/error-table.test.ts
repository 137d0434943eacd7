// The one table of problem codes (src/contract/problem.ts): each code's status, the title a
// problem body carries and the retry hint its answer gives, pinned, and the errors the HTTP
// layer throws for routing, identity and request rates carried by the same typed errors.
import assert from 'node:assert/strict';
import { STATUS_CODES } from 'node:http';
import { describe, it } from 'node:test';
import { PROBLEMS, STATUS_OF } from '../../src/contract/problem.ts';
import {
  ClientDisabledError,
  type CodedError,
  CrossSiteRequestError,
  MethodNotAllowedError,
  NoRouteError,
  TooManyFollowersError,
  TooManyRequestsError,
  UnauthenticatedError,
  UpgradeRequiredError,
} from '../../src/errors.ts';

describe('the table of problem codes', () => {
  it("titles each code with its status's reason phrase (RFC 9110's for 413)", () => {
    for (const [code, { status, title }] of Object.entries(PROBLEMS)) {
      const phrase = status === 413 ? 'Content Too Large' : STATUS_CODES[status];
      assert.equal(title, phrase, code);
      assert.equal(STATUS_OF[code as keyof typeof STATUS_OF], status, code);
    }
  });

  it('hints a retry, in whole seconds, only where waiting helps (429)', () => {
    const hinted = Object.entries(PROBLEMS)
      .filter(([, kind]) => kind.retryAfterSeconds !== undefined)
      .map(([code, kind]) => [code, kind.retryAfterSeconds, kind.status]);
    assert.deepEqual(hinted.sort(), [
      ['QUEUE_FULL', 5, 429],
      ['TOO_MANY_FOLLOWERS', 1, 429],
      ['TOO_MANY_JOBS', 1, 429],
    ]);
  });
});

describe("the HTTP layer's own errors", () => {
  it('are coded errors whose codes the table has, with what their answers need', () => {
    const errors: readonly CodedError[] = [
      new NoRouteError('GET', '/nowhere'),
      new MethodNotAllowedError('PUT', '/healthz', 'HEAD, GET'),
      new UnauthenticatedError('the client certificate has expired'),
      new ClientDisabledError('mallory'),
      new CrossSiteRequestError('POST', 'another site (Sec-Fetch-Site: cross-site)'),
      new TooManyRequestsError("client 'alice' is over its limit", 3),
      new TooManyFollowersError('alice', 8),
      new UpgradeRequiredError('attach is a WebSocket'),
    ];
    for (const error of errors) {
      assert.ok(error.code in PROBLEMS, error.code);
      assert.equal(error.name, error.constructor.name);
    }
    assert.equal(errors[0]?.message, 'no route for GET /nowhere');
    assert.equal((errors[1] as MethodNotAllowedError).allow, 'HEAD, GET');
    assert.equal(errors[5]?.retryAfterSeconds, 3);
    // The follower budget's wait is the code's hint, not the error's.
    assert.equal(errors[6]?.retryAfterSeconds, undefined);
  });
});
