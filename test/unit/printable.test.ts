// What jobctl makes of text before printing it for reading (src/cli/printable.ts): every C0
// control, DEL and C1 control shown as a visible escape, printable Unicode kept, and JSON that
// stays JSON and reads back to the same value.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { printable, printableLines, readableJson } from '../../src/cli/printable.ts';

/** U+0000–U+001F, U+007F and U+0080–U+009F: the 65 code points no terminal should get raw. */
const CONTROLS = [
  ...Array.from({ length: 0x20 }, (_, code) => code),
  ...Array.from({ length: 0x21 }, (_, offset) => 0x7f + offset),
].map((code) => String.fromCharCode(code));

describe('printable text', () => {
  it('shows every C0 control, DEL and C1 control as an escape of plain ASCII', () => {
    assert.equal(CONTROLS.length, 65);
    for (const control of CONTROLS) {
      const shown = printable(control);
      assert.match(shown, /^\\(x[0-9a-f]{2}|[tnr])$/, `U+${control.charCodeAt(0).toString(16)}`);
    }
    assert.equal(printable('\x1b[2K\x1b[1A'), '\\x1b[2K\\x1b[1A');
    assert.equal(printable('a\rb\tc\nd\x9b\x7f'), 'a\\rb\\tc\\nd\\x9b\\x7f');
  });

  it('keeps printable Unicode as it is', () => {
    const text = 'ünïcödé ✓ 日本語 emoji 🙂 \' " \\ ~ \u00a0 \u00ff';
    assert.equal(printable(text), text);
    assert.equal(printableLines(text), text);
  });

  it('keeps the tabs and newlines jobctl lays lines out with, and nothing else', () => {
    assert.equal(printableLines('a\tb\nc\rd\x1b]52;c;eA==\x07'), 'a\tb\nc\\rd\\x1b]52;c;eA==\\x07');
  });

  it('writes JSON with DEL and C1 escaped too, which reads back to the same value', () => {
    const value = { args: CONTROLS, text: 'ü✓' };
    const json = readableJson(value);
    // eslint-disable-next-line no-control-regex -- finding control characters is the point.
    assert.doesNotMatch(json, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    assert.deepEqual(JSON.parse(json), value);
    assert.ok(json.includes('"\\u009b"'));
  });
});
