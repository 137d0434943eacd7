// Sizes and durations as people type them, parsed without a server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBytes, parseDuration, parseSize } from '../../src/util/quantities.ts';

describe('quantities', () => {
  it('parses sizes in bytes, binary and decimal units', () => {
    assert.equal(parseSize(67108864), 67108864);
    assert.equal(parseSize('64M'), 64 * 1024 ** 2);
    assert.equal(parseSize('64MiB'), 64 * 1024 ** 2);
    assert.equal(parseSize('64MB'), 64 * 1000 ** 2);
    assert.equal(parseSize('1.5GiB'), 1.5 * 1024 ** 3);
    for (const bad of ['', 'M', '12X', '-1M', 'one', '1 2']) {
      assert.equal(parseSize(bad), undefined, bad);
    }
  });

  it('parses durations in seconds by default, and units from ms to days', () => {
    assert.equal(parseDuration(30), 30_000);
    assert.equal(parseDuration('30'), 30_000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('1d'), 86_400_000);
    for (const bad of ['', 's', '5 minutes', '1w'])
      assert.equal(parseDuration(bad), undefined, bad);
  });

  it('formats bytes the way limits are named in errors', () => {
    assert.equal(formatBytes(256 * 1024 ** 2), '256MiB');
    assert.equal(formatBytes(4 * 1024 ** 3), '4GiB');
  });
});
