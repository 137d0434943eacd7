// Checks streamed output byte for byte without keeping it: the expected stream is one short
// pattern repeated (all zeros for `head -c N /dev/zero`, a 64-byte line for `yes LINE`), so each
// chunk is compared, with memcmp, against the pattern at the chunk's phase. Cheap enough to run on
// every byte of 100 followers; a dropped, repeated or reordered chunk shows up as a mismatch.

/** The 63 characters `yes` repeats, with its newline: 64 bytes. */
export const LINE = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+';

const WINDOW = 256 * 1024;

export class PatternCheck {
  readonly #pattern: Buffer;
  readonly #reference: Buffer;
  #bytes = 0;
  #firstMismatch: number | undefined;

  constructor(pattern: Buffer) {
    this.#pattern = pattern;
    // The pattern repeated over one window plus one period, so any phase has a window after it.
    const repeats = Math.ceil(WINDOW / pattern.length) + 1;
    this.#reference = Buffer.alloc(repeats * pattern.length, pattern);
  }

  static zeros(): PatternCheck {
    return new PatternCheck(Buffer.alloc(1));
  }

  static line(): PatternCheck {
    return new PatternCheck(Buffer.from(`${LINE}\n`));
  }

  update(chunk: Buffer): void {
    for (let at = 0; at < chunk.length; at += WINDOW) {
      const piece = chunk.subarray(at, at + WINDOW);
      if (this.#firstMismatch === undefined) {
        const phase = this.#bytes % this.#pattern.length;
        const expected = this.#reference.subarray(phase, phase + piece.length);
        if (!piece.equals(expected)) this.#firstMismatch = this.#bytes;
      }
      this.#bytes += piece.length;
    }
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** True when every byte so far matched and there were exactly `expectedBytes` of them. */
  complete(expectedBytes: number): boolean {
    return this.#firstMismatch === undefined && this.#bytes === expectedBytes;
  }

  describe(expectedBytes: number): string {
    if (this.#firstMismatch !== undefined) return `mismatch at byte ${this.#firstMismatch}`;
    return this.#bytes === expectedBytes
      ? 'complete'
      : `${this.#bytes} bytes, expected ${expectedBytes}`;
  }
}
