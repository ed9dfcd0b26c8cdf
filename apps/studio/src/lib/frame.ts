// Batch a stream of messages into one UI update per animation frame, so a chatty worker (a progress event per
// 64 KiB downloaded, a metric per step) never costs the main thread more than one small task per frame. A timer
// backs up requestAnimationFrame, which a hidden tab does not run.

export function frameBatcher<T>(flush: (items: T[]) => void, fallbackMs = 250): { push(item: T): void; flushNow(): void } {
  let queue: T[] = [];
  let frame = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = () => {
    if (frame) cancelAnimationFrame(frame);
    if (timer !== undefined) clearTimeout(timer);
    frame = 0;
    timer = undefined;
    if (queue.length === 0) return;
    const items = queue;
    queue = [];
    flush(items);
  };
  return {
    push(item) {
      queue.push(item);
      if (frame || timer !== undefined) return;
      frame = requestAnimationFrame(run);
      timer = setTimeout(run, fallbackMs);
    },
    flushNow: run,
  };
}
