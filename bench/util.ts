/** Helpers shared by the benchmarks: medians over rounds, formatting. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs `fn` `rounds` times (after one warm-up) and returns the median of what it returns. */
export async function medianOf(rounds: number, fn: () => number | Promise<number>): Promise<number> {
  await fn();
  const xs: number[] = [];
  for (let i = 0; i < rounds; i++) xs.push(await fn());
  return median(xs);
}

export function mpps(packets: number, ns: bigint | number): number {
  return packets / (Number(ns) / 1e9) / 1e6;
}

export function fmt(x: number, digits = 2): string {
  return x.toFixed(digits);
}
