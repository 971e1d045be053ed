// CPU time of the benchmark stack's processes, read from Linux's /proc: the rush reports what its buyers cost each
// part of the stack (workerd, where the Worker's isolate runs; the dev runner's Node process, which holds the Neon and
// Upstash gateways; wrangler; PostgreSQL), because its drain time on a shared 2-core machine moves by a fifth between
// identical runs while the CPU it takes moves much less. The export benchmark finds the stack's workerd processes with
// the same walk. Elsewhere than Linux there is no /proc: `null`.
import { readdirSync, readFileSync } from 'node:fs';

export interface StackCpu {
  /** workerd (the Workers' isolates, and workerd's own HTTP and I/O work). */
  workerd: number;
  /** The dev runner's own process: the Neon and Upstash gateways (dev/gateways). */
  gateways: number;
  /** wrangler and the other Node processes of the stack. */
  wrangler: number;
  /** Every PostgreSQL process on the machine (its backends are not the stack's children). */
  postgres: number;
}

const TICKS_PER_SECOND = 100;

/** A process as /proc/<pid>/stat gives it: its parent, its command name and its CPU seconds so far. */
export interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  seconds: number;
}

/** Every process of the machine (Linux; throws where there is no /proc). */
export function processes(): Proc[] {
  const procs: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so split after the last ')'.
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    procs.push({
      pid: Number(entry),
      ppid: Number(fields[1]),
      comm: stat.slice(stat.indexOf('(') + 1, close),
      seconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND,
    });
  }
  return procs;
}

/** The processes below `rootPid` (children, their children, ...), not `rootPid` itself. */
export function descendants(procs: readonly Proc[], rootPid: number): Proc[] {
  const children = new Map<number, Proc[]>();
  for (const proc of procs) children.set(proc.ppid, [...(children.get(proc.ppid) ?? []), proc]);
  const found: Proc[] = [];
  const pending = [...(children.get(rootPid) ?? [])];
  for (let proc = pending.pop(); proc !== undefined; proc = pending.pop()) {
    found.push(proc);
    pending.push(...(children.get(proc.pid) ?? []));
  }
  return found;
}

/** User plus system CPU seconds so far of the processes under `rootPid` (the dev runner), by part, and PostgreSQL's. */
export function stackCpu(rootPid: number): StackCpu | null {
  let procs: Proc[];
  try {
    procs = processes();
  } catch {
    return null;
  }
  const root = procs.find((proc) => proc.pid === rootPid);
  if (root === undefined) return null;
  const cpu: StackCpu = { workerd: 0, gateways: root.seconds, wrangler: 0, postgres: 0 };
  for (const proc of descendants(procs, rootPid)) {
    if (proc.comm.startsWith('workerd')) cpu.workerd += proc.seconds;
    else cpu.wrangler += proc.seconds;
  }
  for (const proc of procs) if (proc.comm === 'postgres') cpu.postgres += proc.seconds;
  return cpu;
}

/** What each part took between two readings (seconds); null when either is missing. */
export function cpuBetween(before: StackCpu | null, after: StackCpu | null): StackCpu | null {
  if (before === null || after === null) return null;
  return {
    workerd: after.workerd - before.workerd,
    gateways: after.gateways - before.gateways,
    wrangler: after.wrangler - before.wrangler,
    postgres: after.postgres - before.postgres,
  };
}
