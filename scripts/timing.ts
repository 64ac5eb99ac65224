/** Timing helpers shared by `npm run bench` and `npm run gpu-check`. */

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Median milliseconds of `runs` calls of `fn`, after one call that is not counted: session
 * creation, first-run allocation and shader compilation are not the steady state.
 */
export async function medianMs(runs: number, fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}
