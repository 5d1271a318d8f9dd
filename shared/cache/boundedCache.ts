/**
 * A map that keeps at most `capacity` entries, evicting the least recently used. Caches of
 * things an attacker can make (certificates, tokens) must be bounded: memory is then capped
 * however many distinct values arrive, and a flood only evicts, never grows.
 */
export class BoundedCache<K, V> {
  // A Map iterates in insertion order; re-inserting on every hit keeps the oldest first.
  private readonly entries = new Map<K, V>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a whole number of at least 1');
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  /** Drops every entry `keep` says no to. */
  retain(keep: (value: V, key: K) => boolean): void {
    for (const [key, value] of this.entries) if (!keep(value, key)) this.entries.delete(key);
  }
}
