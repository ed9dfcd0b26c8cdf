// What a run reports while it goes: a stream of events, never polled.

/** One logged step, with TRL's metric names. */
export type LogRecord = Record<string, number> & { step: number };

export type TrainPhase = 'preparing' | 'reference' | 'training' | 'paused' | 'saving' | 'done';

export type TrainEvent =
  | { type: 'phase'; phase: TrainPhase; message: string }
  /** Progress through a long preparatory pass (reference log-probs): done of total. */
  | { type: 'progress'; phase: TrainPhase; done: number; total: number }
  /** After every optimizer step. */
  | { type: 'step'; step: number; totalSteps: number; tokensPerSecond: number; etaSeconds: number; elapsedSeconds: number }
  /** Every logging_steps: TRL's metrics (loss, grad_norm, learning_rate, epoch, num_tokens, rewards/...). */
  | { type: 'log'; record: LogRecord }
  | { type: 'checkpoint'; step: number };
