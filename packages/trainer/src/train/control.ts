// Pause, resume and cancel a run from outside the loop (the worker's API calls these).
export class RunControl {
  private paused = false;
  private cancelled = false;
  private wake: (() => void) | undefined;

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wake?.();
  }

  cancel(): void {
    this.cancelled = true;
    this.wake?.();
  }

  get isCancelled(): boolean {
    return this.cancelled;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Resolves at once unless paused; then when resumed or cancelled. */
  async checkpoint(): Promise<void> {
    while (this.paused && !this.cancelled) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }
}
