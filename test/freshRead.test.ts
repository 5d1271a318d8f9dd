import { FreshRead } from '../shared/storage/freshRead.js';

/** A read the test finishes by hand; `started` counts reads begun. */
function manualReads() {
  const pending: Array<{ resolve: (value: number) => void; reject: (error: Error) => void }> = [];
  let started = 0;
  const read = () =>
    new Promise<number>((resolve, reject) => {
      started++;
      pending.push({ resolve, reject });
    });
  return { read, pending, started: () => started };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('FreshRead', () => {
  it('gives a caller that arrives during a read the next read, never the one already in flight', async () => {
    const reads = manualReads();
    const fresh = new FreshRead(reads.read);
    const first = fresh.get();
    const second = fresh.get();
    const third = fresh.get();
    expect(reads.started()).toBe(1);
    reads.pending[0]?.resolve(1);
    expect(await first).toBe(1);
    await settle();
    // The two latecomers share one read, begun after the first ended.
    expect(reads.started()).toBe(2);
    reads.pending[1]?.resolve(2);
    expect(await second).toBe(2);
    expect(await third).toBe(2);
  });

  it('starts a read of its own for a caller when nothing is in flight', async () => {
    const reads = manualReads();
    const fresh = new FreshRead(reads.read);
    const first = fresh.get();
    reads.pending[0]?.resolve(1);
    await first;
    const later = fresh.get();
    expect(reads.started()).toBe(2);
    reads.pending[1]?.resolve(7);
    expect(await later).toBe(7);
  });

  it('fails everyone who shared a failed read, and the next caller reads again', async () => {
    const reads = manualReads();
    const fresh = new FreshRead(reads.read);
    const first = fresh.get();
    const [a, b] = [fresh.get(), fresh.get()];
    reads.pending[0]?.resolve(1);
    await first;
    await settle();
    reads.pending[1]?.reject(new Error('store down'));
    await expect(a).rejects.toThrow('store down');
    await expect(b).rejects.toThrow('store down');
    const again = fresh.get();
    expect(reads.started()).toBe(3);
    reads.pending[2]?.resolve(3);
    expect(await again).toBe(3);
  });

  it('makes one read per round trip however many callers arrive', async () => {
    let reads = 0;
    const fresh = new FreshRead(async () => {
      reads++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return reads;
    });
    const answers = await Promise.all(Array.from({ length: 200 }, () => fresh.get()));
    expect(reads).toBe(2);
    expect(new Set(answers)).toEqual(new Set([1, 2]));
  });
});
