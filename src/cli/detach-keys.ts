// Docker's detach sequence, Ctrl-P Ctrl-Q, found in what the user types into an attached
// terminal: everything before it goes to the job, the sequence itself does not. A Ctrl-P followed
// by anything else is the user's own and is passed on, as in Docker.

const CTRL_P = 0x10;
const CTRL_Q = 0x11;

export class DetachKeys {
  /** A Ctrl-P ended the last chunk: whether it starts the sequence, the next byte says. */
  #pending = false;

  /** The bytes for the job, and whether the sequence was typed (nothing after it is sent). */
  scan(chunk: Buffer): { readonly send: Buffer; readonly detach: boolean } {
    const send: number[] = [];
    for (const byte of chunk) {
      if (this.#pending) {
        this.#pending = false;
        if (byte === CTRL_Q) return { send: Buffer.from(send), detach: true };
        send.push(CTRL_P);
      }
      if (byte === CTRL_P) this.#pending = true;
      else send.push(byte);
    }
    return { send: Buffer.from(send), detach: false };
  }
}
