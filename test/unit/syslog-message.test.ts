// RFC 5424 messages in RFC 5425 framing: the octet count is the message's length in bytes, the
// correlation fields are a structured-data element, and what a client controls (a certificate's
// CN) cannot break out of it or add a line.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { framedSyslogMessage } from '../../src/logging/syslog-message.ts';

function framed(fields: Record<string, unknown>, message = '{"msg":"ü"}'): string {
  return framedSyslogMessage({
    facility: 10,
    severity: 5,
    time: '2026-11-30T08:00:00.000Z',
    msgId: 'audit',
    fields,
    message,
  }).toString('utf8');
}

describe('a syslog message', () => {
  it('is framed by its length in bytes, and has the RFC 5424 header', () => {
    const text = framed({ requestId: 'r1', client: 'alice' });
    const space = text.indexOf(' ');
    const body = text.slice(space + 1);
    assert.equal(Number(text.slice(0, space)), Buffer.byteLength(body));
    assert.match(
      body,
      /^<85>1 2026-11-30T08:00:00\.000Z \S+ jobworker \d+ audit \[jobworker@32473 requestId="r1" client="alice"\] \{"msg":"ü"\}$/,
    );
  });

  it('escapes quotes, backslashes and brackets, and drops control characters', () => {
    const text = framed({ client: 'a"b\\c]d\ne\u0000f' });
    assert.ok(text.includes('client="a\\"b\\\\c\\]def"]'), text);
    assert.ok(!text.includes('\n'));
  });

  it('has no structured data when there is nothing to correlate', () => {
    assert.match(framed({ level: 30 }), / audit - \{/);
  });
});
