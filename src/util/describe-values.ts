// The Markdown list the OpenAPI document gives for an enumeration: each value and what it means.
// Callers keep the meanings in a Record keyed by the value type, so a new value fails to compile
// until it is described.

export function describeValues(meanings: Readonly<Record<string, string>>): string {
  return Object.entries(meanings)
    .map(([value, meaning]) => `- \`${value}\`: ${meaning}`)
    .join('\n');
}
