/**
 * An error the user can act on: bad input, a missing model, Docker not running, a dead trainer.
 * The CLI prints `ttsd: <message>` on one line (no stack trace) and exits with `exitCode`.
 * Library code throws it wherever the cause is outside the program; anything else is a bug
 * and keeps its stack.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'UserError';
  }
}
