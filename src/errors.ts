/**
 * Errors a user fixes by changing their input (a model file, a CSV, a flag, an output folder).
 * The command line prints each as one line, `where: message`, and exits with code 2.
 */
export class InputError extends Error {
  override name = 'InputError';
  constructor(
    message: string,
    /** `file:line:col`, `file:row:column`, `--flag`, or a folder: where to look. */
    readonly where?: string,
  ) {
    super(message);
  }

  /** The one line the command line prints; control characters (a binary file's) as escapes. */
  line(): string {
    return printable(this.where ? `${this.where}: ${this.message}` : this.message);
  }
}

const printable = (text: string): string =>
  text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

/** Several input errors found in one pass (a model file with three bad keys reports all three). */
export class InputErrors extends InputError {
  override name = 'InputErrors';
  constructor(readonly errors: readonly InputError[]) {
    super(errors.map((e) => e.line()).join('\n'));
  }

  override line(): string {
    return this.message;
  }
}
