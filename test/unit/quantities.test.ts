// Sizes and durations as people type them, parsed without a server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatBytes,
  formatBytesAs,
  parseDuration,
  parseSize,
  SIZE_TEXT,
} from '../../src/util/quantities.ts';

describe('quantities', () => {
  it('parses sizes in bytes and binary units, as docker and Kubernetes write them', () => {
    assert.equal(parseSize(67108864), 67108864);
    assert.equal(parseSize('64M'), 64 * 1024 ** 2);
    assert.equal(parseSize('64MiB'), 64 * 1024 ** 2);
    assert.equal(parseSize('1.5GiB'), 1.5 * 1024 ** 3);
    // docker's -m: b, k, m, g with or without b, either case, all binary; MB was 10 ** 6 before.
    const docker = {
      '512b': 512,
      '512': 512,
      '64k': 2 ** 16,
      '64KB': 2 ** 16,
      '64m': 64 * 2 ** 20,
    };
    const more = {
      '64MB': 64 * 2 ** 20,
      '64mb': 64 * 2 ** 20,
      '2g': 2 * 2 ** 30,
      '2GB': 2 * 2 ** 30,
    };
    // Kubernetes' binary suffixes, and every form accepted before.
    const kubernetes = { '64Ki': 2 ** 16, '512Mi': 512 * 2 ** 20, '4Gi': 4 * 2 ** 30 };
    const before = { '64KiB': 2 ** 16, '64k': 2 ** 16, '64M': 64 * 2 ** 20, '1G': 2 ** 30 };
    for (const [text, bytes] of Object.entries({ ...docker, ...more, ...kubernetes, ...before })) {
      assert.equal(parseSize(text), bytes, text);
      assert.match(text, SIZE_TEXT, text);
    }
    for (const bad of ['', 'M', '12X', '-1M', 'one', '1 2', '1Bi', '1MBi', '1Mii']) {
      assert.equal(parseSize(bad), undefined, bad);
      assert.doesNotMatch(bad, SIZE_TEXT, bad);
    }
  });

  it('writes bytes in the unit the user gave, for errors about their value', () => {
    assert.equal(formatBytesAs(4 * 2 ** 30, '300Gi'), '4Gi');
    assert.equal(formatBytesAs(4 * 2 ** 30, '5000M'), '4096M');
    assert.equal(formatBytesAs(4 * 2 ** 30, '8gb'), '4gb');
    assert.equal(formatBytesAs(1.5 * 2 ** 20, '1KiB'), '1536KiB');
    assert.equal(formatBytesAs(2 ** 30 + 1, '2G'), '1G');
    assert.equal(formatBytesAs(1536 * 2 ** 20, '2G'), '1.5G');
    assert.equal(formatBytesAs(4 * 2 ** 30, 5_000_000_000), '4294967296');
    assert.equal(formatBytesAs(4096, '9000b'), '4096b');
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
