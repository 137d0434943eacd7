// The serial numbers a PEM certificate revocation list (RFC 5280, 5.1) revokes. Node's crypto
// reads certificates but not CRLs, and this is all jobctl needs from one, so it walks the DER
// itself: CertificateList > TBSCertList > revokedCertificates > each entry's first INTEGER.
// The signature is not checked: this only explains a refusal the server has already made.

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;

interface Element {
  readonly tag: number;
  readonly content: Buffer;
}

/** Lower-case hex serials without leading zeros; throws on anything that is not a CRL. */
export function revokedSerials(pem: string): Set<string> {
  const body = /-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/.exec(pem)?.[1];
  if (body === undefined) throw new Error('not a PEM CRL');
  const [certificateList] = elements(Buffer.from(body.replace(/\s+/g, ''), 'base64'));
  const [tbs] = elements(expect(certificateList, SEQUENCE));
  const fields = elements(expect(tbs, SEQUENCE));
  // version INTEGER OPTIONAL, signature, issuer, thisUpdate, nextUpdate Time OPTIONAL, revoked?
  let index = fields[0]?.tag === INTEGER ? 3 : 2;
  index += 1;
  const next = fields[index];
  if (next?.tag === UTC_TIME || next?.tag === GENERALIZED_TIME) index += 1;
  const revoked = fields[index];
  const serials = new Set<string>();
  if (revoked?.tag !== SEQUENCE) return serials;
  for (const entry of elements(revoked.content)) {
    const [serial] = elements(expect(entry, SEQUENCE));
    serials.add(
      expect(serial, INTEGER)
        .toString('hex')
        .replace(/^0+(?=.)/, ''),
    );
  }
  return serials;
}

function expect(element: Element | undefined, tag: number): Buffer {
  if (element?.tag !== tag) throw new Error('not a CRL');
  return element.content;
}

/** The DER elements laid end to end in `data`. */
function elements(data: Buffer): Element[] {
  const found: Element[] = [];
  let offset = 0;
  while (offset < data.length) {
    const tag = byteAt(data, offset);
    let length = byteAt(data, offset + 1);
    offset += 2;
    if (length & 0x80) {
      const count = length & 0x7f;
      if (count === 0 || count > 4) throw new Error('unsupported DER length');
      length = 0;
      for (let i = 0; i < count; i += 1) length = length * 256 + byteAt(data, offset + i);
      offset += count;
    }
    if (offset + length > data.length) throw new Error('truncated DER');
    found.push({ tag, content: data.subarray(offset, offset + length) });
    offset += length;
  }
  return found;
}

function byteAt(data: Buffer, offset: number): number {
  const byte = data[offset];
  if (byte === undefined) throw new Error('truncated DER');
  return byte;
}
