// Reads a flat YAML mapping, one `key: value` a line: the subset of YAML a settings file needs,
// with the line of every key. Anything outside it (nesting, lists, anchors, multi-line values) is
// refused with its line rather than guessed at, so every file read here means the same to any
// YAML parser; a dependency on a full parser, run as root, would buy nothing a flat file uses.

/** One `key: value` line: the value as text (quotes and comments removed), and its line. */
export interface FlatYamlEntry {
  readonly key: string;
  readonly text: string;
  readonly line: number;
}

/** Thrown for what is not a flat mapping; `line` counts from 1. */
export class FlatYamlError extends Error {
  readonly code = 'FLAT_YAML_INVALID';
  readonly line: number;
  constructor(line: number, message: string) {
    super(message);
    this.name = 'FlatYamlError';
    this.line = line;
  }
}

const KEY_LINE = /^([A-Za-z0-9][A-Za-z0-9_.-]*)[ \t]*:(?:[ \t]+(.*))?$/;
/** Plain scalars YAML reads as null: a key with one of these has no value. */
const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);
/** YAML 1.2's booleans, spelt in any of its cases; a setting reads them as true and false. */
const BOOLEANS = new Map(
  ['true', 'True', 'TRUE', 'false', 'False', 'FALSE'].map((word) => [word, word.toLowerCase()]),
);
/** First characters with which a YAML value would be something other than plain text. */
const INDICATORS = '[]{}&*!|>%@`,?';

export function parseFlatYaml(text: string): FlatYamlEntry[] {
  const entries: FlatYamlEntry[] = [];
  const seen = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const line = index + 1;
    if (isBlankOrComment(raw)) continue;
    if (raw === '---' && entries.length === 0) continue;
    if (raw === '...') break;
    const match = KEY_LINE.exec(raw.trimEnd());
    if (match === null) throw new FlatYamlError(line, notAKeyLine(raw));
    const key = match[1] ?? '';
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      throw new FlatYamlError(line, `'${key}' is set twice, here and on line ${earlier}`);
    }
    seen.set(key, line);
    const value = scalar(match[2] ?? '', line);
    if (value === undefined) {
      throw new FlatYamlError(
        line,
        `'${key}' has no value (a setting is one line, not a list or map)`,
      );
    }
    entries.push({ key, text: value, line });
  }
  return entries;
}

function isBlankOrComment(line: string): boolean {
  const trimmed = line.trim();
  return trimmed === '' || trimmed.startsWith('#');
}

function notAKeyLine(line: string): string {
  if (/^\s/.test(line)) {
    return 'an indented line: a setting is one unindented `key: value` line (no nested maps, lists or multi-line values)';
  }
  if (line.startsWith('- ')) return 'a list item: the file is a mapping of `key: value` lines';
  return 'expected a `key: value` line';
}

/** A value's text, or undefined for YAML's null. */
function scalar(source: string, line: number): string | undefined {
  if (source.startsWith('"')) return afterQuoted(doubleQuoted(source, line), line);
  if (source.startsWith("'")) return afterQuoted(singleQuoted(source, line), line);
  const plain = source.replace(/[ \t]+#.*$/, '').trimEnd();
  if (NULLS.has(plain)) return undefined;
  if (INDICATORS.includes(plain[0] ?? '') || plain.startsWith('- ') || plain === '-') {
    throw new FlatYamlError(line, `'${plain.slice(0, 40)}' is not a plain value: quote it`);
  }
  if (/:[ \t]/.test(plain) || plain.endsWith(':')) {
    throw new FlatYamlError(line, `'${plain.slice(0, 40)}' holds ': ': quote it`);
  }
  return BOOLEANS.get(plain) ?? plain;
}

/** A quoted value and what follows its closing quote, which may be only a comment. */
interface Quoted {
  readonly value: string;
  readonly rest: string;
}

function afterQuoted({ value, rest }: Quoted, line: number): string {
  if (rest.trim() !== '' && !/^[ \t]+#/.test(rest)) {
    throw new FlatYamlError(line, `unexpected '${rest.trim().slice(0, 40)}' after a quoted value`);
  }
  return value;
}

/** `'...'`, in which `''` is one quote and nothing else is special. */
function singleQuoted(source: string, line: number): Quoted {
  let value = '';
  for (let at = 1; at < source.length; at += 1) {
    const char = source[at];
    if (char !== "'") {
      value += char;
    } else if (source[at + 1] === "'") {
      value += "'";
      at += 1;
    } else {
      return { value, rest: source.slice(at + 1) };
    }
  }
  throw new FlatYamlError(line, 'a quoted value without its closing quote');
}

const ESCAPES: Readonly<Record<string, string>> = {
  '0': '\0',
  t: '\t',
  n: '\n',
  r: '\r',
  e: '\x1b',
  ' ': ' ',
  '"': '"',
  '/': '/',
  '\\': '\\',
};
const HEX_ESCAPES: Readonly<Record<string, number>> = { x: 2, u: 4, U: 8 };

/** `"..."` with YAML's backslash escapes. */
function doubleQuoted(source: string, line: number): Quoted {
  let value = '';
  for (let at = 1; at < source.length; at += 1) {
    const char = source[at] ?? '';
    if (char === '"') return { value, rest: source.slice(at + 1) };
    if (char !== '\\') {
      value += char;
      continue;
    }
    const escape = source[at + 1] ?? '';
    const digits = HEX_ESCAPES[escape];
    if (digits !== undefined) {
      const hex = source.slice(at + 2, at + 2 + digits);
      if (!new RegExp(`^[0-9A-Fa-f]{${digits}}$`).test(hex)) {
        throw new FlatYamlError(line, `a bad escape \\${escape}${hex}`);
      }
      value += String.fromCodePoint(parseInt(hex, 16));
      at += 1 + digits;
    } else if (escape in ESCAPES) {
      value += ESCAPES[escape];
      at += 1;
    } else {
      throw new FlatYamlError(line, `an unknown escape \\${escape}`);
    }
  }
  throw new FlatYamlError(line, 'a quoted value without its closing quote');
}
