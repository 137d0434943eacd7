// Label rules (Kubernetes') and list cursors, without a server.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ListCursors } from '../../src/api/jobs/list-cursor.ts';
import { labelKeyProblem, labelValueProblem } from '../../src/jobs/labels.ts';

describe('labels', () => {
  it('takes Kubernetes label keys and values', () => {
    for (const key of ['pipeline', 'a', 'stage.name_2', 'ci.example.com/stage', 'A-b']) {
      assert.equal(labelKeyProblem(key), undefined, key);
    }
    for (const value of ['', '4711', 'v1.2_rc-3', 'x'.repeat(63)]) {
      assert.equal(labelValueProblem(value), undefined, value);
    }
  });

  it('refuses what Kubernetes refuses', () => {
    for (const key of ['', '-a', 'a-', 'a b', 'x'.repeat(64), 'Example.com/a', '/a', 'a/']) {
      assert.ok(labelKeyProblem(key), key);
    }
    for (const value of ['-a', 'a/b', 'x'.repeat(64), 'a b'])
      assert.ok(labelValueProblem(value), value);
  });
});

describe('list cursors', () => {
  const cursors = new ListCursors(randomBytes(32));

  it('give back the position they were made for, for the same listing only', () => {
    const cursor = cursors.seal(12345, 'alice|status=exited');
    assert.match(cursor, /^[\w-]+$/);
    assert.equal(cursors.open(cursor, 'alice|status=exited'), 12345);
    assert.throws(() => cursors.open(cursor, 'bob|status=exited'), { code: 'INVALID_REQUEST' });
    assert.throws(() => cursors.open(cursor, 'alice|'), { code: 'INVALID_REQUEST' });
  });

  it('show nothing of the position, and refuse a changed or foreign one', () => {
    const one = cursors.seal(1, 'alice');
    const two = cursors.seal(1, 'alice');
    assert.notEqual(one, two, 'a fresh nonce each time: equal positions do not look equal');
    const flipped = Buffer.from(one, 'base64url');
    flipped[14] = (flipped[14] ?? 0) ^ 1;
    assert.throws(() => cursors.open(flipped.toString('base64url'), 'alice'));
    const foreign = new ListCursors(randomBytes(32)).seal(1, 'alice');
    assert.throws(() => cursors.open(foreign, 'alice'));
    assert.throws(() => cursors.open('not a cursor', 'alice'));
  });
});
