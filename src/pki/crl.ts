// X.509 v2 certificate revocation lists (RFC 5280 §5) issued by this PKI's CA, and the checks a
// reader needs before trusting one. node-forge has no CRL support, so the structure is built and
// read with forge.asn1, and signed and verified with node:crypto, like certificates are.

import { X509Certificate, sign, verify, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { loadSigningAuthority, type IssuedCredential } from './certificates.ts';
import { PkiError } from './errors.ts';

type Asn1 = forge.asn1.Asn1;
const { Class, Type } = forge.asn1;

/** RFC 5280 §5.3.1; 7 is unassigned. */
const REASON_CODES = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

export type RevocationReasonName = keyof typeof REASON_CODES;

/** The reasons this CA states; holds and CA compromise have no meaning in this PKI. */
export const CRL_REASONS = [
  'unspecified',
  'keyCompromise',
  'superseded',
  'cessationOfOperation',
] as const satisfies readonly RevocationReasonName[];

export type CrlReason = (typeof CRL_REASONS)[number];

export type CrlEntry = {
  /** Hex, any case, leading zeros allowed: forge's, Node's and openssl's forms all work. */
  serialHex: string;
  revokedAt: Date;
  reason?: CrlReason;
};

export type CrlOptions = {
  entries: readonly CrlEntry[];
  /** Must grow with every CRL the CA publishes (RFC 5280 §5.2.3). */
  crlNumber: bigint | number;
  /** Defaults to now, back-dated like certificates' notBefore. */
  thisUpdate?: Date;
  nextUpdate: Date;
};

export type RevokedEntry = {
  /** As normalizeSerial gives it. */
  serial: string;
  revokedAt: Date;
  reason?: RevocationReasonName;
};

export type ParsedCrl = {
  /** The issuer Name exactly as encoded, to compare with a CA certificate's subject. */
  issuerDer: Buffer;
  thisUpdate: Date;
  nextUpdate: Date;
  crlNumber?: bigint;
  authorityKeyIdentifier?: Buffer;
  entries: RevokedEntry[];
  revokedSerials: Set<string>;
  signatureAlgorithmOid: string;
  tbsDer: Buffer;
  signature: Buffer;
};

const OID = {
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  cRLNumber: '2.5.29.20',
  reasonCode: '2.5.29.21',
  authorityKeyIdentifier: '2.5.29.35',
} as const;

const CRL_VERSION_2 = 1;
// Same tolerance as certificates: a thisUpdate in a verifier's future makes OpenSSL refuse
// every client (CRL_NOT_YET_VALID), so a slightly slow clock must not lock everyone out.
const CLOCK_SKEW_MS = 5 * 60 * 1000;
// RFC 5280 caps serial numbers and CRL numbers at 20 octets.
const MAX_INTEGER_OCTETS = 20;
const PEM_LABEL = 'X509 CRL';

/** Serials compare as numbers: Node prints them in uppercase and may keep a leading zero. */
export function normalizeSerial(hex: string): string {
  if (!/^[0-9a-f]+$/i.test(hex)) {
    throw new PkiError(
      'PKI_INVALID_SERIAL',
      `invalid serial number: expected hexadecimal digits, received ${JSON.stringify(hex)}`,
    );
  }
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}

/** Returns the CRL as PEM ('X509 CRL'), the form Node's `crl` TLS option and openssl read. */
export async function createCrl(ca: IssuedCredential, options: CrlOptions): Promise<string> {
  const authority = loadSigningAuthority(ca);
  assertCanSignCrls(authority.cert);
  const thisUpdate = options.thisUpdate ?? new Date(Date.now() - CLOCK_SKEW_MS);
  assertValidUpdateTimes(thisUpdate, options.nextUpdate);
  const tbs = sequence([
    integer(BigInt(CRL_VERSION_2)),
    sha256WithRsaIdentifier(),
    subjectOf(new X509Certificate(ca.certPem).raw),
    time(thisUpdate),
    time(options.nextUpdate),
    ...revokedCertificates(options.entries),
    explicit(0, [
      sequence([
        extension(OID.authorityKeyIdentifier, authorityKeyIdentifier(authority.keyIdentifier)),
        extension(OID.cRLNumber, integer(toCrlNumber(options.crlNumber))),
      ]),
    ]),
  ]);
  const tbsDer = toDerBuffer(tbs);
  const signature = await signSha256(tbsDer, authority.key);
  const crl = sequence([
    tbs,
    sha256WithRsaIdentifier(),
    primitive(Type.BITSTRING, `\x00${signature.toString('binary')}`),
  ]);
  return toPem(toDerBuffer(crl));
}

/** Reads a CRL's contents without trusting them: see verifyCrl. */
export function parseCrl(pem: string): ParsedCrl {
  // childrenOf has checked the count.
  const [tbs, algorithm, signatureValue] = childrenOf(parseDer(crlDerFromPem(pem)), 3) as [
    Asn1,
    Asn1,
    Asn1,
  ];
  const fields = childrenOf(tbs);
  let next = 0;
  const take = (): Asn1 | undefined => fields[next++];
  let signatureIdentifier = take();
  if (signatureIdentifier?.type === Type.INTEGER) {
    if (readInteger(signatureIdentifier) !== BigInt(CRL_VERSION_2)) invalid('unsupported version');
    signatureIdentifier = take();
  }
  if (!sameDer(signatureIdentifier, algorithm)) {
    invalid('the signed and unsigned signature algorithms differ');
  }
  const issuer = expectType(take(), Type.SEQUENCE, 'issuer');
  const thisUpdate = readTime(take(), 'thisUpdate');
  const nextUpdate = readTime(take(), 'nextUpdate');
  let field = take();
  let entries: RevokedEntry[] = [];
  if (field?.tagClass === Class.UNIVERSAL && field.type === Type.SEQUENCE) {
    entries = childrenOf(field).map(readRevokedEntry);
    field = take();
  }
  const extensions = field === undefined ? {} : readCrlExtensions(field);
  if (take() !== undefined) invalid('unexpected fields after the extensions');
  return {
    issuerDer: toDerBuffer(issuer),
    thisUpdate,
    nextUpdate,
    ...extensions,
    entries,
    revokedSerials: new Set(entries.map((entry) => entry.serial)),
    signatureAlgorithmOid: readOid(childrenOf(algorithm)[0]),
    tbsDer: toDerBuffer(tbs),
    signature: readBitString(signatureValue),
  };
}

/**
 * True when `caCertPem` issued and signed this CRL. Times are not checked: whether a stale
 * CRL is acceptable is the caller's decision (OpenSSL refuses every peer once it expires).
 * Throws PKI_INVALID_CRL or PKI_INVALID_CA when either input cannot be read at all.
 */
export function verifyCrl(pem: string, caCertPem: string): boolean {
  const crl = parseCrl(pem);
  const ca = readCaCertificate(caCertPem);
  // Only this algorithm is ever issued here, so anything else is not a CRL of this PKI.
  if (crl.signatureAlgorithmOid !== OID.sha256WithRSAEncryption) return false;
  if (!crl.issuerDer.equals(toDerBuffer(subjectOf(ca.raw)))) return false;
  return verify('sha256', crl.tbsDer, ca.publicKey, crl.signature);
}

// --- Building -----------------------------------------------------------------------------

function revokedCertificates(entries: readonly CrlEntry[]): Asn1[] {
  const seen = new Set<string>();
  const nodes = entries.map((entry) => {
    const serial = toSerialNumber(entry.serialHex);
    const key = serial.toString(16);
    if (seen.has(key)) {
      throw new PkiError('PKI_INVALID_SERIAL', `serial number ${key} is listed twice`);
    }
    seen.add(key);
    return revokedEntry(serial, entry);
  });
  // RFC 5280 §5.1.2.6: with nothing revoked the list is absent, not empty.
  return nodes.length === 0 ? [] : [sequence(nodes)];
}

function revokedEntry(serial: bigint, entry: CrlEntry): Asn1 {
  assertValidDate(entry.revokedAt, 'revocation date');
  const reason = entry.reason;
  if (reason !== undefined && !(CRL_REASONS as readonly string[]).includes(reason)) {
    throw new PkiError(
      'PKI_INVALID_REASON',
      `invalid revocation reason: expected one of ${CRL_REASONS.join(', ')}, received ${JSON.stringify(reason)}`,
    );
  }
  // RFC 5280 §5.3.1: "unspecified" SHOULD be expressed by leaving the reason out.
  const extensions =
    reason === undefined || reason === 'unspecified'
      ? []
      : [sequence([extension(OID.reasonCode, enumerated(REASON_CODES[reason]))])];
  return sequence([integer(serial), time(entry.revokedAt), ...extensions]);
}

function authorityKeyIdentifier(keyIdentifier: string): Asn1 {
  // keyIdentifier is [0] IMPLICIT OCTET STRING, so the context tag replaces the string tag.
  return sequence([forge.asn1.create(Class.CONTEXT_SPECIFIC, 0, false, keyIdentifier)]);
}

function extension(oid: string, value: Asn1): Asn1 {
  // DER leaves `critical` out when false, and none of these extensions is critical.
  return sequence([objectIdentifier(oid), primitive(Type.OCTETSTRING, toDerBytes(value))]);
}

function sha256WithRsaIdentifier(): Asn1 {
  return sequence([objectIdentifier(OID.sha256WithRSAEncryption), primitive(Type.NULL, '')]);
}

/** RFC 5280 §4.1.2.5: UTCTime from 1950 through 2049, GeneralizedTime outside that range. */
function time(date: Date): Asn1 {
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050
    ? primitive(Type.UTCTIME, forge.asn1.dateToUtcTime(date))
    : primitive(Type.GENERALIZEDTIME, forge.asn1.dateToGeneralizedTime(date));
}

function integer(value: bigint): Asn1 {
  return primitive(Type.INTEGER, forge.util.hexToBytes(positiveIntegerHex(value)));
}

function enumerated(value: number): Asn1 {
  return primitive(Type.ENUMERATED, forge.util.hexToBytes(positiveIntegerHex(BigInt(value))));
}

/** Minimal two's-complement hex of a non-negative integer, as DER requires. */
function positiveIntegerHex(value: bigint): string {
  const hex = value.toString(16);
  const even = hex.length % 2 === 0 ? hex : `0${hex}`;
  // A set top bit would make the INTEGER negative, so such values get a 0x00 byte in front.
  return /^[89a-f]/.test(even) ? `00${even}` : even;
}

function objectIdentifier(oid: string): Asn1 {
  return primitive(Type.OID, forge.asn1.oidToDer(oid).getBytes());
}

function sequence(children: Asn1[]): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, children);
}

function explicit(tag: number, children: Asn1[]): Asn1 {
  return forge.asn1.create(Class.CONTEXT_SPECIFIC, tag, true, children);
}

function primitive(type: forge.asn1.Type, bytes: string): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, type, false, bytes);
}

function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${PEM_LABEL}-----\n${lines.join('\n')}\n-----END ${PEM_LABEL}-----\n`;
}

function signSha256(data: Buffer, key: KeyObject): Promise<Buffer> {
  // The callback form runs on the libuv thread pool, off the event loop.
  return new Promise((resolve, reject) => {
    sign('sha256', data, key, (error, signature) => {
      if (error) reject(error);
      else resolve(signature);
    });
  });
}

// --- Validating inputs --------------------------------------------------------------------

function assertCanSignCrls(cert: forge.pki.Certificate): void {
  const keyUsage = cert.getExtension('keyUsage') as { cRLSign?: boolean } | undefined;
  // Without cRLSign, OpenSSL rejects the CRL when it verifies a peer.
  if (keyUsage !== undefined && keyUsage.cRLSign !== true) {
    throw new PkiError('PKI_INVALID_CA', 'invalid CA: its keyUsage does not include cRLSign');
  }
}

function assertValidUpdateTimes(thisUpdate: Date, nextUpdate: Date): void {
  assertValidDate(thisUpdate, 'thisUpdate');
  assertValidDate(nextUpdate, 'nextUpdate');
  if (nextUpdate.getTime() <= thisUpdate.getTime()) {
    throw new PkiError(
      'PKI_INVALID_VALIDITY',
      `invalid CRL validity: expected nextUpdate after thisUpdate (${thisUpdate.toISOString()}), received ${nextUpdate.toISOString()}`,
    );
  }
}

function assertValidDate(date: Date, what: string): void {
  const year = date instanceof Date ? date.getUTCFullYear() : Number.NaN;
  // Four-digit years only: the encodings have no room for anything else.
  if (!(year >= 1950 && year <= 9999)) {
    throw new PkiError(
      'PKI_INVALID_VALIDITY',
      `invalid ${what}: expected a date from 1950 to 9999, received ${String(date)}`,
    );
  }
}

function toSerialNumber(serialHex: string): bigint {
  const serial = BigInt(`0x${normalizeSerial(serialHex)}`);
  if (serial === 0n || positiveIntegerHex(serial).length / 2 > MAX_INTEGER_OCTETS) {
    throw new PkiError(
      'PKI_INVALID_SERIAL',
      `invalid serial number: expected a positive integer of at most ${MAX_INTEGER_OCTETS} octets, received ${JSON.stringify(serialHex)}`,
    );
  }
  return serial;
}

function toCrlNumber(value: bigint | number): bigint {
  const valid =
    (typeof value === 'bigint' && value >= 0n) ||
    (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0);
  const crlNumber = valid ? BigInt(value) : -1n;
  if (crlNumber < 0n || positiveIntegerHex(crlNumber).length / 2 > MAX_INTEGER_OCTETS) {
    throw new PkiError(
      'PKI_INVALID_CRL_NUMBER',
      `invalid CRL number: expected a non-negative integer of at most ${MAX_INTEGER_OCTETS} octets, received ${String(value)}`,
    );
  }
  return crlNumber;
}

// --- Reading ------------------------------------------------------------------------------

function readCrlExtensions(field: Asn1): Pick<ParsedCrl, 'crlNumber' | 'authorityKeyIdentifier'> {
  if (!isContextTag(field, 0)) {
    invalid('unexpected field where the extensions belong');
  }
  const result: Pick<ParsedCrl, 'crlNumber' | 'authorityKeyIdentifier'> = {};
  for (const { oid, critical, value } of readExtensions(childrenOf(field, 1)[0])) {
    if (oid === OID.cRLNumber) {
      result.crlNumber = readInteger(value);
    } else if (oid === OID.authorityKeyIdentifier) {
      const keyIdentifier = childrenOf(value).find((node) => isContextTag(node, 0));
      if (keyIdentifier !== undefined) {
        result.authorityKeyIdentifier = Buffer.from(bytesOf(keyIdentifier), 'binary');
      }
    } else if (critical) {
      // RFC 5280 §5.2: a CRL with a critical extension the reader cannot process is unusable.
      invalid(`unsupported critical extension ${oid}`);
    }
  }
  return result;
}

function readRevokedEntry(node: Asn1): RevokedEntry {
  const fields = childrenOf(node);
  if (fields.length < 2 || fields.length > 3) invalid('malformed revoked certificate entry');
  const [serialNode, dateNode, extensionsNode] = fields;
  const serial = readInteger(serialNode);
  const entry: RevokedEntry = {
    serial: serial.toString(16),
    revokedAt: readTime(dateNode, 'revocationDate'),
  };
  const extensions = extensionsNode === undefined ? [] : readExtensions(extensionsNode);
  for (const { oid, critical, value } of extensions) {
    if (oid === OID.reasonCode) {
      entry.reason = reasonName(Number(readInteger(value, Type.ENUMERATED)));
    } else if (critical) {
      invalid(`unsupported critical entry extension ${oid}`);
    }
  }
  return entry;
}

function reasonName(code: number): RevocationReasonName {
  const names = Object.keys(REASON_CODES) as RevocationReasonName[];
  const name = names.find((candidate) => REASON_CODES[candidate] === code);
  if (name === undefined) invalid(`unknown revocation reason code ${code}`);
  return name;
}

type Extension = { oid: string; critical: boolean; value: Asn1 };

function readExtensions(node: Asn1 | undefined): Extension[] {
  return childrenOf(expectType(node, Type.SEQUENCE, 'extensions')).map((extensionNode) => {
    const fields = childrenOf(extensionNode);
    if (fields.length < 2 || fields.length > 3) invalid('malformed extension');
    const criticalNode = fields.length === 3 ? fields[1] : undefined;
    const critical =
      criticalNode !== undefined &&
      bytesOf(expectType(criticalNode, Type.BOOLEAN, 'critical')) !== '\x00';
    const valueNode = expectType(fields[fields.length - 1], Type.OCTETSTRING, 'extnValue');
    return { oid: readOid(fields[0]), critical, value: parseDer(bytesOf(valueNode)) };
  });
}

function readInteger(node: Asn1 | undefined, type = Type.INTEGER): bigint {
  const bytes = bytesOf(expectType(node, type, 'integer'));
  if (bytes.length === 0) invalid('empty integer');
  // Nothing in a CRL may be negative, and accepting it would alias some positive serial.
  if (bytes.charCodeAt(0) >= 0x80) invalid('negative integer');
  return BigInt(`0x${forge.util.bytesToHex(bytes)}`);
}

function readTime(node: Asn1 | undefined, what: string): Date {
  const date = node?.tagClass === Class.UNIVERSAL ? decodeTime(node) : undefined;
  if (date === undefined) invalid(`${what} is missing or not an RFC 5280 time`);
  return date;
}

/** RFC 5280 §4.1.2.5 forms only: seconds present, in UTC, on a day that exists. */
function decodeTime(node: Asn1): Date | undefined {
  const text = bytesOf(node);
  // forge rolls a 31st of February over into March; encoding the date back catches that.
  if (node.type === Type.UTCTIME && /^\d{12}Z$/.test(text)) {
    const date = forge.asn1.utcTimeToDate(text);
    return forge.asn1.dateToUtcTime(date) === text ? date : undefined;
  }
  if (node.type === Type.GENERALIZEDTIME && /^\d{14}Z$/.test(text)) {
    const date = forge.asn1.generalizedTimeToDate(text);
    return forge.asn1.dateToGeneralizedTime(date) === text ? date : undefined;
  }
  return undefined;
}

function readOid(node: Asn1 | undefined): string {
  return forge.asn1.derToOid(bytesOf(expectType(node, Type.OID, 'object identifier')));
}

function readBitString(node: Asn1 | undefined): Buffer {
  const bytes = bytesOf(expectType(node, Type.BITSTRING, 'signature'));
  // A signature is whole octets, so the unused-bits prefix must be zero.
  if (bytes.charCodeAt(0) !== 0) invalid('signature is not a whole number of octets');
  return Buffer.from(bytes.slice(1), 'binary');
}

function crlDerFromPem(pem: string): string {
  let blocks: forge.pem.ObjectPEM[];
  try {
    blocks = typeof pem === 'string' ? forge.pem.decode(pem) : [];
  } catch (error) {
    invalid('not PEM', error);
  }
  const crls = blocks.filter((block) => block.type === PEM_LABEL);
  if (crls.length !== 1 || crls[0] === undefined) invalid(`expected one ${PEM_LABEL} PEM block`);
  return crls[0].body;
}

// The options form exists at run time; @types/node-forge declares only the boolean one.
const fromDer = forge.asn1.fromDer as unknown as (
  bytes: string,
  options: { strict: boolean; parseAllBytes: boolean; decodeBitStrings: boolean },
) => Asn1;

/**
 * Parses strict DER. Re-encoding must give back the same bytes, which proves the input was
 * DER and lets parts of the tree (the signed TBS, the issuer) be re-encoded byte for byte.
 */
function parseDer(bytes: string | Buffer): Asn1 {
  const binary = typeof bytes === 'string' ? bytes : bytes.toString('binary');
  let node: Asn1;
  try {
    node = fromDer(binary, { strict: true, parseAllBytes: true, decodeBitStrings: false });
  } catch (error) {
    invalid('malformed DER', error);
  }
  if (toDerBytes(node) !== binary) invalid('not in canonical DER');
  return node;
}

/**
 * A certificate's subject Name as encoded in it: issuer matching compares these bytes, and
 * forge's own re-encoding of a parsed name may change string types or RDN grouping.
 */
function subjectOf(certDer: Buffer): Asn1 {
  try {
    const [tbs] = childrenOf(parseDer(certDer));
    const fields = childrenOf(tbs);
    // version is an optional [0] EXPLICIT field; then serial, signature, issuer, validity, subject.
    const versionPresent = fields[0]?.tagClass === Class.CONTEXT_SPECIFIC;
    return expectType(fields[versionPresent ? 5 : 4], Type.SEQUENCE, 'subject');
  } catch (error) {
    throw new PkiError('PKI_INVALID_CA', 'invalid CA: its certificate is not canonical DER', {
      cause: error,
    });
  }
}

function readCaCertificate(caCertPem: string): X509Certificate {
  try {
    return new X509Certificate(caCertPem);
  } catch (error) {
    throw new PkiError('PKI_INVALID_CA', 'invalid CA: expected a PEM certificate', {
      cause: error,
    });
  }
}

function childrenOf(node: Asn1 | undefined, count?: number): Asn1[] {
  if (node === undefined || !Array.isArray(node.value)) invalid('expected a constructed value');
  if (count !== undefined && node.value.length !== count) {
    invalid(`expected ${count} fields, found ${node.value.length}`);
  }
  return node.value;
}

function bytesOf(node: Asn1): string {
  if (typeof node.value !== 'string') invalid('expected a primitive value');
  return node.value;
}

function expectType(node: Asn1 | undefined, type: forge.asn1.Type, what: string): Asn1 {
  if (node?.tagClass !== Class.UNIVERSAL || node.type !== type) invalid(`${what} is malformed`);
  return node;
}

function isContextTag(node: Asn1, tag: number): boolean {
  const tagNumber: number = node.type;
  return node.tagClass === Class.CONTEXT_SPECIFIC && tagNumber === tag;
}

function sameDer(a: Asn1 | undefined, b: Asn1 | undefined): boolean {
  return a !== undefined && b !== undefined && toDerBytes(a) === toDerBytes(b);
}

function toDerBytes(node: Asn1): string {
  return forge.asn1.toDer(node).getBytes();
}

function toDerBuffer(node: Asn1): Buffer {
  return Buffer.from(toDerBytes(node), 'binary');
}

function invalid(reason: string, cause?: unknown): never {
  throw new PkiError(
    'PKI_INVALID_CRL',
    `invalid CRL: ${reason}`,
    cause === undefined ? undefined : { cause },
  );
}
