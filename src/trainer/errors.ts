import { UserError } from '../errors.js';

/** The trainer process died (ggml abort, out of memory, killed): its last stderr lines say why. */
export class TrainerDiedError extends UserError {
  constructor(
    readonly exit: { code: number | null; signal: string | null },
    readonly stderrTail: string[],
  ) {
    const how = exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
    const lines = stderrTail.map((line) => line.trim()).filter((line) => line !== '');
    // the assertion or error line says why; otherwise the last thing it printed
    const last = lines.findLast((line) => /GGML_ASSERT|GGML_ABORT|error|abort|terminate|what\(\)|out of memory/i.test(line)) ?? lines.at(-1);
    super(`trainer ${how}${last ? `: ${last}` : ''}`, 3);
    this.name = 'TrainerDiedError';
  }
}

/** The trainer refused a request or its configuration (unsupported model, bad batch, ...). */
export class TrainerRequestError extends UserError {
  constructor(message: string) {
    super(`trainer: ${message}`);
    this.name = 'TrainerRequestError';
  }
}
