// Tells systemd how the service is doing (sd_notify: READY=1 once it listens, STOPPING=1 when it
// begins to stop), for a unit of Type=notify. Nothing happens unless systemd set NOTIFY_SOCKET.
//
// Node has no unix datagram sockets, so systemd-notify(1) sends the message. Run as a child, its
// message would be credited to its own pid, which systemd may no longer find in the unit's cgroup
// once it has exited (the message is then dropped); `--pid` makes it send this process's pid as
// its credentials instead (root may), so the message is the main process's and cannot be lost;
// it then waits for systemd to have read it (a barrier: BARRIER=1 with a pipe systemd closes).
import { execFile } from 'node:child_process';

export type ServiceState = 'READY=1' | 'STOPPING=1';

export class SystemdNotifier {
  readonly #socket: string | undefined;

  private constructor(socket: string | undefined) {
    this.#socket = socket;
  }

  /**
   * The notifier for NOTIFY_SOCKET, which it takes out of the environment so that no child (a
   * job's supervisor, a job on the host) inherits it and speaks for the service.
   */
  static fromEnvironment(env: NodeJS.ProcessEnv = process.env): SystemdNotifier {
    const socket = env.NOTIFY_SOCKET;
    delete env.NOTIFY_SOCKET;
    return new SystemdNotifier(socket === '' ? undefined : socket);
  }

  /** Whether systemd listens (the unit is Type=notify). */
  get listening(): boolean {
    return this.#socket !== undefined;
  }

  /**
   * Sends `state` to systemd, if it listens. Resolves once systemd-notify has sent it; rejects
   * with what went wrong otherwise (the caller logs it: the service runs on, only systemd's view
   * of it is late).
   */
  notify(state: ServiceState): Promise<void> {
    const socket = this.#socket;
    if (socket === undefined) return Promise.resolve();
    return new Promise((resolve, reject) => {
      execFile(
        'systemd-notify',
        [`--pid=${process.pid}`, state],
        { env: { ...process.env, NOTIFY_SOCKET: socket }, timeout: 10_000 },
        (error, _stdout, stderr) => {
          if (error === null) resolve();
          else reject(new Error(`systemd-notify ${state}: ${stderr.trim() || error.message}`));
        },
      );
    });
  }
}
