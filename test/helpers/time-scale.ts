// A test's timeouts guard against hangs; they say nothing about speed. Where everything runs
// slower by a known factor (the cgroup v2 guest under software emulation, where a server takes
// seconds to start), the run sets JOBWORKER_TEST_TIME_SCALE and the guards that are tight on the
// host (the durability suite's) stretch with it.
const factor = Number(process.env.JOBWORKER_TEST_TIME_SCALE ?? '1');
const SCALE = Number.isFinite(factor) && factor >= 1 ? factor : 1;

/** `ms`, stretched by the run's time scale (1 unless the run says otherwise). */
export function scaled(ms: number): number {
  return ms * SCALE;
}
