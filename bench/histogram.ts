/**
 * Latency histogram in microseconds with bounded memory however many samples it holds:
 * exact below 128 µs, then 64 sub-buckets per power of two, so any percentile it reports is
 * within 1.6% of the true sample.
 */
const subBuckets = 64; // 2 ** subBucketBits
const linearLimit = 2 * subBuckets;
const subBucketBits = 6;
const maxShift = 25; // up to about 2^31 µs (35 minutes); anything longer is clamped

export class LatencyHistogram {
  private readonly counts = new Float64Array(linearLimit + maxShift * subBuckets);
  count = 0;
  private sumMicros = 0;
  private minMicros = Number.POSITIVE_INFINITY;
  private maxMicros = 0;

  record(micros: number): void {
    const value = Math.max(0, Math.min(Math.round(micros), 2 ** 31 - 1));
    this.counts[indexOf(value)]! += 1;
    this.count++;
    this.sumMicros += value;
    if (value < this.minMicros) this.minMicros = value;
    if (value > this.maxMicros) this.maxMicros = value;
  }

  merge(other: LatencyHistogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i] ?? 0;
    this.count += other.count;
    this.sumMicros += other.sumMicros;
    this.minMicros = Math.min(this.minMicros, other.minMicros);
    this.maxMicros = Math.max(this.maxMicros, other.maxMicros);
  }

  /** The value below which `fraction` of the samples fall, in milliseconds. */
  percentileMs(fraction: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(fraction * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return Math.min(Math.max(valueOf(i), this.minMicros), this.maxMicros) / 1000;
    }
    return this.maxMicros / 1000;
  }

  meanMs(): number {
    return this.count === 0 ? Number.NaN : this.sumMicros / this.count / 1000;
  }

  maxMs(): number {
    return this.maxMicros / 1000;
  }
}

function indexOf(value: number): number {
  if (value < linearLimit) return value;
  const shift = 31 - Math.clz32(value) - subBucketBits;
  return linearLimit + (shift - 1) * subBuckets + ((value >>> shift) - subBuckets);
}

/** The middle of bucket `index`. */
function valueOf(index: number): number {
  if (index < linearLimit) return index;
  const shift = Math.floor((index - linearLimit) / subBuckets) + 1;
  const mantissa = ((index - linearLimit) % subBuckets) + subBuckets;
  return (mantissa << shift) + ((1 << shift) - 1) / 2;
}
