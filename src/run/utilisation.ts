/**
 * Busy time of one component: the wall time during which at least one of its operations was in
 * flight (`busyMs`), and the time summed over overlapping operations (`slotMs`).
 */
export class BusyMeter {
  private active = 0;
  private since = 0;
  private busy = 0;
  private slots = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  async time<T>(operation: () => Promise<T>): Promise<T> {
    const started = this.now();
    if (this.active++ === 0) this.since = started;
    try {
      return await operation();
    } finally {
      const ended = this.now();
      this.slots += ended - started;
      if (--this.active === 0) this.busy += ended - this.since;
    }
  }

  get busyMs(): number {
    return this.busy + (this.active > 0 ? this.now() - this.since : 0);
  }

  get slotMs(): number {
    return this.slots;
  }
}
