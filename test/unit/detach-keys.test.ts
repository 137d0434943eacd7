// Ctrl-P Ctrl-Q detaches, wherever it falls in what the terminal delivers; a Ctrl-P on its own,
// or before anything else, is the user's and reaches the job.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DetachKeys } from '../../src/cli/detach-keys.ts';

const CTRL_P = '\u0010';
const CTRL_Q = '\u0011';

function scanAll(chunks: string[]): { sent: string; detach: boolean } {
  const keys = new DetachKeys();
  let sent = '';
  for (const chunk of chunks) {
    const result = keys.scan(Buffer.from(chunk));
    sent += result.send.toString();
    if (result.detach) return { sent, detach: true };
  }
  return { sent, detach: false };
}

describe('the detach keys', () => {
  it('detach in one chunk, sending what came before and nothing after', () => {
    assert.deepEqual(scanAll([`ls${CTRL_P}${CTRL_Q}rest`]), { sent: 'ls', detach: true });
  });

  it('detach when the two keys come in separate chunks', () => {
    assert.deepEqual(scanAll(['ab', CTRL_P, `${CTRL_Q}x`]), { sent: 'ab', detach: true });
  });

  it('pass a Ctrl-P followed by another key on to the job', () => {
    assert.deepEqual(scanAll([`${CTRL_P}a`]), { sent: `${CTRL_P}a`, detach: false });
    assert.deepEqual(scanAll([CTRL_P, 'b']), { sent: `${CTRL_P}b`, detach: false });
    assert.deepEqual(scanAll([`${CTRL_P}${CTRL_P}${CTRL_Q}`]), { sent: CTRL_P, detach: true });
  });

  it('pass Ctrl-Q alone and ordinary text unchanged', () => {
    assert.deepEqual(scanAll([`x${CTRL_Q}y`]), { sent: `x${CTRL_Q}y`, detach: false });
  });
});
