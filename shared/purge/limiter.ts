/** At most `limit` tasks at once; `acquire` waits for a free slot. */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next waiter, so `active` stays the same.
    if (next) next();
    else this.active--;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await task();
    } finally {
      this.release();
    }
  }
}

/** A time budget measured on the monotonic clock (the service clock may be frozen in tests). */
export class Budget {
  private readonly deadline: number;

  constructor(seconds: number) {
    this.deadline = performance.now() + seconds * 1000;
  }

  spent(): boolean {
    return performance.now() >= this.deadline;
  }
}
