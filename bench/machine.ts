import { readFileSync } from 'node:fs';

/** CPU use of the whole machine and of this process tree, to tell how much others used. */
export interface CpuSnapshot {
  /** Busy jiffies of all CPUs (everything but idle and iowait). */
  machineBusy: number;
  machineTotal: number;
  /** This process plus the children it has waited for (hosts stopped within the part). */
  own: number;
}

export function cpuSnapshot(): CpuSnapshot | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const total = values.reduce((sum, value) => sum + value, 0);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    const self = readFileSync('/proc/self/stat', 'utf8');
    const fields = self.slice(self.lastIndexOf(')') + 2).split(' ');
    // utime, stime, cutime, cstime: fields 14 to 17 of /proc/<pid>/stat.
    const own = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    return { machineBusy: total - idle, machineTotal: total, own };
  } catch {
    return undefined;
  }
}

/**
 * Between two snapshots: the machine's busy share and the share other processes (not this
 * bench, not its children) took, both in cores. Children still running are counted as other.
 */
export function cpuBetween(before: CpuSnapshot | undefined, after: CpuSnapshot | undefined, cores: number): { busyCores: number; otherCores: number } | undefined {
  if (!before || !after) return undefined;
  const total = after.machineTotal - before.machineTotal;
  if (total <= 0) return undefined;
  const busy = after.machineBusy - before.machineBusy;
  const own = after.own - before.own;
  return { busyCores: (busy / total) * cores, otherCores: (Math.max(0, busy - own) / total) * cores };
}

/** CPU seconds (user + system, all threads) this process used since `since`, to the millisecond. */
export function cpuSecondsSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return Math.round((used.user + used.system) / 1000) / 1000;
}
