/**
 * Shares a read among concurrent callers without ever handing a caller a read that began
 * before it asked. A caller that arrives while a read is in flight waits for the next one,
 * which starts when the current one ends and serves everyone who arrived meanwhile. So each
 * caller sees the store as it was at some moment after its call - what a read of its own
 * would have given - while a busy process makes at most one read per round trip instead of
 * one per caller. A failed read fails everyone who shared it.
 */
export class FreshRead<T> {
  private current: Promise<T> | undefined;
  private next: Promise<T> | undefined;

  constructor(private readonly read: () => Promise<T>) {}

  get(): Promise<T> {
    if (!this.current) return this.start();
    this.next ??= this.current.then(
      () => this.startNext(),
      () => this.startNext(),
    );
    return this.next;
  }

  private startNext(): Promise<T> {
    this.next = undefined;
    return this.start();
  }

  private start(): Promise<T> {
    const read = this.read().finally(() => {
      if (this.current === read) this.current = undefined;
    });
    this.current = read;
    return read;
  }
}
