// Writes tar archives (ustar) entry by entry, as a hostile client could: any name, mode, link
// target or device number, none of them checked. The volume archive suites build their uploads
// with it, instead of trusting a tar program to write what they ask.
const BLOCK = 512;

export interface TarEntry {
  readonly name: string;
  /** `file` by default. */
  readonly type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char';
  readonly content?: Buffer | string;
  readonly mode?: number;
  /** A link's target. */
  readonly target?: string;
  readonly device?: { readonly major: number; readonly minor: number };
}

const TYPE_FLAGS = { file: '0', hardlink: '1', symlink: '2', char: '3', dir: '5' } as const;

/** The archive of these entries, ended by the two zero blocks tar expects. */
export function tarOf(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const content = Buffer.from(entry.content ?? '');
    parts.push(
      headerOf(entry, entry.type === undefined || entry.type === 'file' ? content.length : 0),
    );
    if (content.length > 0) {
      parts.push(content, Buffer.alloc((BLOCK - (content.length % BLOCK)) % BLOCK));
    }
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

function headerOf(entry: TarEntry, size: number): Buffer {
  const header = Buffer.alloc(BLOCK);
  const type = entry.type ?? 'file';
  header.write(entry.name, 0, 100, 'utf8');
  writeOctal(header, entry.mode ?? (type === 'dir' ? 0o755 : 0o644), 100, 8);
  writeOctal(header, 0, 108, 8);
  writeOctal(header, 0, 116, 8);
  writeOctal(header, size, 124, 12);
  writeOctal(header, Math.floor(Date.now() / 1000), 136, 12);
  header.write(TYPE_FLAGS[type], 156, 1, 'ascii');
  header.write(entry.target ?? '', 157, 100, 'utf8');
  header.write('ustar\u000000', 257, 8, 'ascii');
  writeOctal(header, entry.device?.major ?? 0, 329, 8);
  writeOctal(header, entry.device?.minor ?? 0, 337, 8);
  // The checksum is of the header with its own field as spaces.
  header.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
  return header;
}

function writeOctal(header: Buffer, value: number, offset: number, length: number): void {
  header.write(`${value.toString(8).padStart(length - 1, '0')}\u0000`, offset, length, 'ascii');
}
