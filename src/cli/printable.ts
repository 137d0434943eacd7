// Text that jobctl prints for a person to read, made safe for their terminal. Commands, arguments,
// labels and the server's errors are other clients' words: written raw, a control character would
// act on the terminal (`\e[2K\e[1A` erases the lines above, OSC 52 writes the clipboard, a bare
// `\r` overwrites a row, U+009B is a CSI to terminals that read C1 controls). Each C0 control, DEL
// and C1 control is shown instead as a visible escape, on a terminal and in a pipe alike;
// printable Unicode is kept. A job's own output (`logs`, `run -f`) is its byte stream, not text
// printed for reading, and never comes through here.

/** C0 controls, DEL and C1 controls: what a terminal may act on instead of showing. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point.
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;
// eslint-disable-next-line no-control-regex -- as above, but tab and newline are layout.
const CONTROLS_BUT_LAYOUT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
/** DEL and C1, which JSON.stringify leaves as they are. */
const UNESCAPED_BY_JSON = /[\u007f-\u009f]/g;

/** The escapes people know by sight; every other control is `\xHH`. */
const NAMED: Readonly<Record<string, string>> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function visible(control: string): string {
  return NAMED[control] ?? `\\x${control.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

/** One field (a cell of a table, a word of a line): every control shown, tab and newline too. */
export function printable(field: string): string {
  return field.replace(CONTROLS, visible);
}

/** Text jobctl lays out itself in lines and tab-separated columns: the rest of it shown. */
export function printableLines(text: string): string {
  return text.replace(CONTROLS_BUT_LAYOUT, visible);
}

/**
 * JSON for reading: what JSON.stringify writes, with DEL and C1 controls as `\u` escapes too. Still
 * JSON, read back to the same value; it escapes C0 controls itself.
 */
export function readableJson(value: unknown, indent = 2): string {
  return JSON.stringify(value, null, indent).replace(
    UNESCAPED_BY_JSON,
    (control) => `\\u${control.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
