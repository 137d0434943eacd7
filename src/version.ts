// The release this code is: package.json's "version", the one place it is written. The server's
// --version, GET /healthz and `jobctl version` all say this; dist/jobctl has it built in.
import manifest from '../package.json' with { type: 'json' };

export const VERSION: string = manifest.version;
