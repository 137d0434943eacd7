// Writes the API's OpenAPI document (what GET /openapi.json serves) to a file or stdout, for the
// linters that CI runs on it: `npm run openapi -- PATH`.
import { writeFileSync } from 'node:fs';
import { OPENAPI_DOCUMENT } from '../src/api/openapi.ts';

const text = `${JSON.stringify(OPENAPI_DOCUMENT, null, 2)}\n`;
const path = process.argv[2];
if (path === undefined) process.stdout.write(text);
else writeFileSync(path, text);
