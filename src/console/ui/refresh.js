// @ts-check
// Keeping a view current without a feed of changes: load now, then again every few seconds while
// the tab is visible (a hidden tab asks for nothing). Only the newest load's answer may be shown:
// one that was overtaken (a filter changed meanwhile) is told so and drops its answer.

/**
 * @typedef {{ now(): void, close(): void }} Refresher
 * @param {(isCurrent: () => boolean) => Promise<boolean>} load answers whether to load again
 * @param {number} intervalMs
 * @returns {Refresher}
 */
export function refresher(load, intervalMs) {
  let generation = 0;
  let closed = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;

  async function run() {
    clearTimeout(timer);
    generation += 1;
    const mine = generation;
    const isCurrent = () => !closed && mine === generation;
    const again = await load(isCurrent);
    if (again && isCurrent() && document.visibilityState === 'visible') {
      timer = setTimeout(() => void run(), intervalMs);
    }
  }

  function onVisibility() {
    if (document.visibilityState === 'visible') void run();
    else clearTimeout(timer);
  }

  document.addEventListener('visibilitychange', onVisibility);
  void run();
  return {
    now() {
      void run();
    },
    close() {
      closed = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    },
  };
}
