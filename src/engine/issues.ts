import { z } from 'zod';
import { SpecError, type Path } from './errors.js';

/** Enough problems to fix a request; past that, more lines only make the error response huge. */
export const MAX_ISSUES = 50;

/** Collects independent problems so one SpecError can report them all. */
export class Issues {
  readonly list: { path: Path; message: string }[] = [];
  private dropped = 0;

  add(path: Path, message: string): void {
    if (this.list.length < MAX_ISSUES) this.list.push({ path, message });
    else this.dropped++;
  }

  get empty(): boolean {
    return this.list.length === 0;
  }

  /** Adds the issues of a zod error with their paths under `base`; rethrows anything else. */
  addZod(err: unknown, base: Path): void {
    if (!(err instanceof z.ZodError)) throw err;
    for (const issue of err.issues) {
      const path = [...base, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) this.add([...path, key], `unknown attribute "${key}" (${issue.message})`);
      } else {
        this.add(path, issue.message);
      }
    }
  }

  throwIfAny(): void {
    if (this.empty) return;
    if (this.dropped > 0) {
      const last = this.list[this.list.length - 1]!;
      last.message += ` (and ${this.dropped} more problems not listed)`;
    }
    throw new SpecError(this.list);
  }
}
