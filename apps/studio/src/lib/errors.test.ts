import { describe, expect, it } from 'vitest';
import { explain, isCancel } from './errors.ts';

const named = (name: string, message: string) => Object.assign(new Error(message), { name });

describe('explain', () => {
  it('gives engine errors a heading and keeps their advice', () => {
    const p = explain(named('GpuOutOfMemoryError', 'Out of GPU memory during x. Use a smaller batch size.'), 'training');
    expect(p.title).toBe('Out of GPU memory');
    expect(p.message).toContain('smaller batch size');
  });

  it('a model that cannot work says why', () => {
    expect(explain(named('ModelSourceError', 'config.json was not found.'), 'loading').title).toBe('The model could not be loaded');
    expect(explain(named('ConfigError', 'architecture "GPT2LMHeadModel" is not supported'), 'loading').title).toBe(
      'This model cannot be used here',
    );
  });

  it('a lost device asks for a reload', () => {
    expect(explain(named('DeviceLostError', 'The GPU device was lost'), 'training').reload).toBe(true);
  });

  it('quota errors from storage say storage is full', () => {
    expect(explain(named('StorageError', 'Storage is full: the browser refused to save x.'), 'saving').title).toBe(
      'Browser storage is full',
    );
    expect(explain(named('QuotaExceededError', 'quota'), 'saving').message).toContain('Delete old adapters');
  });

  it('anything else still reads as a sentence', () => {
    expect(explain('boom', 'exporting').title).toBe('Something went wrong while exporting');
    expect(isCancel(named('AbortError', 'x'))).toBe(true);
  });
});
