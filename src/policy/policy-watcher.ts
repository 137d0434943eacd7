// Keeps the identity policy current: re-read on change (or SIGHUP); a file that does not parse is
// reported and the previous policy stays in force, so a typo never locks everyone out or in.
import type { Logger } from 'pino';
import type { Identity } from '../pki/identity.ts';
import { watchFiles, type FileWatch } from '../util/watch-files.ts';
import { applyPolicy, readIdentityPolicy, type IdentityPolicyDocument } from './identity-policy.ts';

export class PolicyWatcher {
  readonly #path: string;
  readonly #logger: Logger;
  #policy: IdentityPolicyDocument;
  #watch: FileWatch | undefined;

  private constructor(path: string, logger: Logger, policy: IdentityPolicyDocument) {
    this.#path = path;
    this.#logger = logger;
    this.#policy = policy;
  }

  /** Fails when the file exists but is invalid: better not to start than to guess. */
  static async open(path: string, logger: Logger): Promise<PolicyWatcher> {
    return new PolicyWatcher(path, logger, await readIdentityPolicy(path));
  }

  readonly resolve = (identity: Identity): Identity | undefined =>
    applyPolicy(this.#policy, identity);

  start(): void {
    this.#watch = watchFiles(
      [this.#path],
      () => void this.reload('file change'),
      (error) => this.#logger.error({ err: error }, 'watching the identity policy failed'),
    );
  }

  async reload(trigger: string): Promise<void> {
    try {
      this.#policy = await readIdentityPolicy(this.#path);
      this.#logger.info(
        { trigger, policy: this.#path, clients: Object.keys(this.#policy.clients).length },
        'identity policy reloaded',
      );
    } catch (error) {
      this.#logger.error(
        { trigger, reason: (error as Error).message },
        'identity policy not reloaded; the previous one stays in force',
      );
    }
  }

  close(): void {
    this.#watch?.close();
  }
}
