// Whether output goes to a person or to a program. Tables, short ids, relative times and colors
// are for a terminal; a pipe gets plain, tab-separated lines. NO_COLOR (no-color.org) turns
// colors off even on a terminal; --color (any command) chooses: auto (that rule), always, never.

export interface Terminal {
  readonly isTTY: boolean;
  readonly color: boolean;
  /** Width to fit tables into; unlimited when not a terminal. */
  readonly columns: number;
}

export const COLOR_CHOICES = ['auto', 'always', 'never'] as const;
export type ColorChoice = (typeof COLOR_CHOICES)[number];

/** The command line's --color, set once it is parsed (options.ts). */
let colorChoice: ColorChoice = 'auto';

export function chooseColor(choice: ColorChoice): void {
  colorChoice = choice;
}

export function terminalOf(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv): Terminal {
  const isTTY = stream.isTTY === true;
  const auto = isTTY && !env.NO_COLOR && env.TERM !== 'dumb';
  return {
    isTTY,
    color: colorChoice === 'auto' ? auto : colorChoice === 'always',
    columns: isTTY ? stream.columns || 80 : Number.POSITIVE_INFINITY,
  };
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, dim: 2, bold: 1 } as const;

export type Color = keyof typeof CODES;

export function paint(terminal: Terminal, color: Color, text: string): string {
  return terminal.color ? `\x1b[${CODES[color]}m${text}\x1b[0m` : text;
}
