import { describe, expect, it } from 'vitest';
import { countByReason, DatasetError, lineRanges, readDpoDataset, readSftDataset, reasonSummary } from './formats.ts';

const jsonl = (...rows: unknown[]) =>
  rows.map((r) => (typeof r === 'string' && r.startsWith('#') ? r.slice(1) : JSON.stringify(r))).join('\n');
const user = (content: string) => ({ role: 'user', content });
const asst = (content: string) => ({ role: 'assistant', content });
const sys = (content: string) => ({ role: 'system', content });

/** The reason a single bad row gets, read beside a good row of its own format so the file is not empty. */
const sftReason = (bad: unknown, good: unknown = { text: 'ok' }) => {
  const r = readSftDataset(jsonl(good, bad), 'train.jsonl');
  expect(r.kept).toBe(1);
  expect(r.rejected).toHaveLength(1);
  expect(r.rejected[0].line).toBe(2);
  return r.rejected[0].reason;
};
const dpoReason = (bad: unknown, good: unknown = { prompt: 'p', chosen: 'a', rejected: 'b' }) => {
  const r = readDpoDataset(jsonl(good, bad), 'prefs.jsonl');
  expect(r.kept).toBe(1);
  expect(r.rejected).toHaveLength(1);
  return r.rejected[0].reason;
};

/** JSON.parse's own message for `text` (it differs between engines). */
const jsonError = (text: string) => {
  try {
    JSON.parse(text);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`${text} is JSON`);
};

describe('readSftDataset', () => {
  it('reads prompt-completion rows, with their source lines', () => {
    const r = readSftDataset(
      `${jsonl({ prompt: 'The sky is', completion: ' blue.', extra: 1 })}\n\n${jsonl({ prompt: 'a', completion: 'b' })}\n`,
      'f',
    );
    expect(r.format).toBe('prompt-completion');
    expect(r.rows).toEqual([
      { kind: 'prompt-completion', prompt: 'The sky is', completion: ' blue.' },
      { kind: 'prompt-completion', prompt: 'a', completion: 'b' },
    ]);
    expect(r.lines).toEqual([1, 3]);
    expect(r.kept).toBe(2);
    expect(r.rejected).toEqual([]);
    expect(r.rejectedByReason).toEqual({});
  });

  it('reads conversational prompt-completion rows, keeping every key of a message for the template', () => {
    const r = readSftDataset(jsonl({ prompt: [sys('Be brief.'), { ...user('Sky?'), name: 'x' }], completion: [asst('Blue.')] }), 'f');
    expect(r.format).toBe('conversational-prompt-completion');
    expect(r.rows[0]).toEqual({
      kind: 'conversational-prompt-completion',
      prompt: [sys('Be brief.'), { ...user('Sky?'), name: 'x' }],
      completion: [asst('Blue.')],
    });
  });

  it('reads tool messages, tool calls without content, empty system prompts, and the tools and chat_template_kwargs columns', () => {
    const call = { role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'now', arguments: {} } }] };
    const messages = [sys(''), user('Time?'), call, { role: 'tool', content: '12:00' }, asst('Noon.')];
    const tools = [{ type: 'function', function: { name: 'now', parameters: {} } }];
    const r = readSftDataset(jsonl({ messages, tools, chat_template_kwargs: { enable_thinking: false } }), 'f');
    expect(r.rows[0]).toEqual({
      kind: 'messages',
      messages: [sys(''), user('Time?'), { ...call, content: '' }, { role: 'tool', content: '12:00' }, asst('Noon.')],
      tools,
      templateKwargs: { enable_thinking: false },
    });
    const bad = (o: Record<string, unknown>) =>
      readSftDataset(jsonl({ messages: [user('q'), asst('a')], ...o }, { text: 'ok' }), 'f').rejected;
    // A string is JSON-decoded first, as TRL's tokenize_fn does (json.loads): the schemas, or a reason.
    expect(bad({ tools: 'now' })).toEqual([
      {
        line: 1,
        reason: `field "tools" is a string that is not JSON: ${jsonError('now')}; give the list of function schemas itself, or as a JSON string`,
      },
    ]);
    expect(bad({ tools: '{"a":1}' })).toEqual([{ line: 1, reason: 'field "tools" is not a list of function schemas: got an object' }]);
    const schema = { type: 'function', function: { name: 'now', parameters: { type: 'object', properties: {} } } };
    expect(readSftDataset(jsonl({ messages: [user('q'), asst('a')], tools: JSON.stringify([schema]) }), 'f').rows[0]).toEqual({
      kind: 'messages',
      messages: [user('q'), asst('a')],
      tools: [schema],
    });
    expect(bad({ chat_template_kwargs: [1] })).toEqual([{ line: 1, reason: 'field "chat_template_kwargs" is not an object: got a list' }]);
  });

  it('accepts a conversational prompt ending with an assistant turn (TRL continues it)', () => {
    expect(readSftDataset(jsonl({ prompt: [user('Q'), asst('The answer is')], completion: [asst(' 4.')] }), 'f').kept).toBe(1);
  });

  it('reads messages rows and text rows', () => {
    const m = readSftDataset(jsonl({ messages: [sys('s'), user('u'), asst('a'), user('u2'), asst('a2')] }), 'f');
    expect(m.format).toBe('messages');
    expect(m.rows[0]).toEqual({ kind: 'messages', messages: [sys('s'), user('u'), asst('a'), user('u2'), asst('a2')] });
    const t = readSftDataset(jsonl({ text: 'Once upon a time' }), 'f');
    expect(t.rows).toEqual([{ kind: 'text', text: 'Once upon a time' }]);
    expect(t.format).toBe('text');
  });

  it('prefers prompt/completion, then messages, then text, as TRL does', () => {
    expect(readSftDataset(jsonl({ prompt: 'p', completion: 'c', messages: 'ignored', text: 't' }), 'f').format).toBe('prompt-completion');
    expect(readSftDataset(jsonl({ messages: [user('u'), asst('a')], text: 't' }), 'f').format).toBe('messages');
  });

  it('takes the format from the first valid row and refuses rows of another format', () => {
    const r = readSftDataset(
      jsonl({ text: 5 }, { prompt: 'p', completion: 'c' }, { text: 't' }, { messages: [user('u'), asst('a')] }),
      'f',
    );
    expect(r.format).toBe('prompt-completion');
    expect(r.lines).toEqual([2]);
    expect(r.rejected).toEqual([
      { line: 1, reason: 'field "text" is not a string: got a number' },
      { line: 3, reason: 'row is text but the file is prompt-completion' },
      { line: 4, reason: 'row is messages but the file is prompt-completion' },
    ]);
  });

  it('reports invalid JSON among the rejected rows, in line order, and counts reasons by their generic part', () => {
    const r = readSftDataset(jsonl({ text: 'a' }, '#{"text": ', { text: '' }, { foo: 1 }, { text: '' }, '#nope'), 'f');
    expect(r.kept).toBe(1);
    expect(r.rejected.map((x) => x.line)).toEqual([2, 3, 4, 5, 6]);
    expect(r.rejected[0].reason).toMatch(/^invalid JSON: /);
    expect(r.rejectedByReason).toEqual({ 'invalid JSON': 2, 'field "text" is empty': 2, 'no SFT fields': 1 });
  });

  describe('refuses, with a stable reason', () => {
    const conv = (messages: unknown) => sftReason({ messages }, { messages: [user('u'), asst('a')] });
    it.each([
      [[1], 'row is not a JSON object: got a list'],
      ['just a string', 'row is not a JSON object: got a string'],
      [null, 'row is not a JSON object: got null'],
      [{ foo: 1 }, 'no SFT fields: expected "prompt" and "completion", "messages", or "text"'],
      [{ conversations: [] }, 'field "conversations" is not a TRL format: rename it to "messages", with "role"/"content" messages'],
      [{ prompt: 'p' }, 'missing field "completion"'],
      [{ prompt: 'p', chosen: 'a', rejected: 'b' }, 'missing field "completion": this looks like a DPO row'],
      [{ completion: 'c' }, 'missing field "prompt"'],
      [{ prompt: 1, completion: 'c' }, 'field "prompt" is not a string or a list of messages: got a number'],
      [{ prompt: null, completion: 'c' }, 'field "prompt" is not a string or a list of messages: got null'],
      [{ prompt: 'p', completion: { text: 'c' } }, 'field "completion" is not a string or a list of messages: got an object'],
      [{ prompt: 'p', completion: [asst('c')] }, 'fields mix strings and message lists: "prompt" is a string, "completion" is a list'],
      [{ prompt: '', completion: 'c' }, 'field "prompt" is empty'],
      [{ prompt: 'p', completion: '' }, 'field "completion" is empty'],
      [{ prompt: [], completion: [asst('c')] }, 'field "prompt" is an empty list'],
      [{ prompt: [user('u')], completion: [] }, 'field "completion" is an empty list'],
      [
        { prompt: [sys('s')], completion: [asst('c')] },
        'prompt ends with a system message: "prompt" ends with system; end it with the user\'s turn',
      ],
      [{ text: 5 }, 'field "text" is not a string: got a number'],
      [{ text: true }, 'field "text" is not a string: got a boolean'],
      [{ text: '' }, 'field "text" is empty'],
      [{ messages: 'hi' }, 'field "messages" is not a list of messages: got a string'],
    ])('%j', (row, reason) => {
      expect(sftReason(row)).toBe(reason);
    });

    it.each([
      [[], 'field "messages" is an empty list'],
      [['hi'], 'message is not an object: "messages"[0] is a string'],
      [[user('u'), { content: 'a' }], 'message without "role": "messages"[1]'],
      [[{ role: 1, content: 'a' }], 'message "role" is not a string: "messages"[0] has a number'],
      [
        [{ role: 'human', content: 'u' }, asst('a')],
        'message role "human" is not supported: "messages"[0]; roles are system, user, assistant and tool',
      ],
      [[{ role: 'user' }, asst('a')], 'message without "content": "messages"[0]'],
      [
        [{ role: 'user', content: [{ type: 'text', text: 'u' }] }, asst('a')],
        'message "content" is not a string: "messages"[0] has a list',
      ],
      [[{ role: 'user', content: null }, asst('a')], 'message "content" is not a string: "messages"[0] has null'],
      [[sys('s'), user('u')], 'conversation does not end with an assistant message: last role is user'],
      [[sys('s')], 'conversation does not end with an assistant message: last role is system'],
    ])('messages %j', (messages, reason) => {
      expect(conv(messages)).toBe(reason);
    });
  });
});

describe('readDpoDataset', () => {
  it('reads standard rows', () => {
    const r = readDpoDataset(jsonl({ prompt: 'The sky is', chosen: ' blue.', rejected: ' green.', score: 3 }), 'f');
    expect(r.format).toBe('standard');
    expect(r.rows).toEqual([{ kind: 'standard', prompt: 'The sky is', chosen: ' blue.', rejected: ' green.' }]);
  });

  it('reads conversational rows', () => {
    const r = readDpoDataset(jsonl({ prompt: [user('Sky?')], chosen: [asst('Blue.')], rejected: [asst('Green.')] }), 'f');
    expect(r.format).toBe('conversational');
    expect(r.rows).toEqual([{ kind: 'conversational', prompt: [user('Sky?')], chosen: [asst('Blue.')], rejected: [asst('Green.')] }]);
  });

  // Expected values printed by TRL's extract_prompt, run verbatim in Python on the same inputs.
  it.each([
    ['The sky is blue.', 'The sky is green.', 'The sky is', ' blue.', ' green.'],
    ['Answer:  yes', 'Answer:  no', 'Answer: ', ' yes', ' no'],
    ['abc', 'abcd', 'ab', 'c', 'cd'], // a prefix: TRL splits one before the end of the shorter
    ['Say it', 'Say it louder', 'Say i', 't', 't louder'],
    ['Q: \u{1F600} yes', 'Q: \u{1F601} no', 'Q:', ' \u{1F600} yes', ' \u{1F601} no'], // code points, not UTF-16 units
  ])('extracts the implicit prompt of %j / %j as TRL does', (chosen, rejected, p, c, r) => {
    const res = readDpoDataset(jsonl({ chosen, rejected }), 'f');
    expect(res.format).toBe('standard (implicit prompt)');
    expect(res.rows).toEqual([{ kind: 'standard', prompt: p, chosen: c, rejected: r }]);
  });

  it('extracts the implicit prompt of conversations message by message', () => {
    const q = user('What color is the sky?');
    const r = readDpoDataset(
      jsonl(
        { chosen: [q, asst('It is blue.')], rejected: [q, asst('It is green.')] },
        { chosen: [q, asst('Blue.')], rejected: [q, asst('Blue.'), user('Sure?'), asst('Yes.')] },
      ),
      'f',
    );
    expect(r.format).toBe('conversational (implicit prompt)');
    expect(r.rows).toEqual([
      { kind: 'conversational', prompt: [q], chosen: [asst('It is blue.')], rejected: [asst('It is green.')] },
      { kind: 'conversational', prompt: [q], chosen: [asst('Blue.')], rejected: [asst('Blue.'), user('Sure?'), asst('Yes.')] },
    ]);
  });

  it('compares messages whole, extra keys and all, but not by key order', () => {
    const r = readDpoDataset(
      jsonl({ chosen: [{ content: 'Q', role: 'user' }, asst('A')], rejected: [{ role: 'user', content: 'Q' }, asst('B')] }),
      'f',
    );
    expect(r.rows[0].prompt).toEqual([user('Q')]);
    // An extra key makes two otherwise equal messages differ, so the prompt stops before them.
    const named = readDpoDataset(
      jsonl({
        chosen: [user('Q'), { ...asst('A'), name: 'bot' }, user('More'), asst('X')],
        rejected: [user('Q'), asst('A'), user('More'), asst('Y')],
      }),
      'f',
    );
    expect(named.rows[0]).toEqual({
      kind: 'conversational',
      prompt: [user('Q')],
      chosen: [{ ...asst('A'), name: 'bot' }, user('More'), asst('X')],
      rejected: [asst('A'), user('More'), asst('Y')],
    });
  });

  it('ignores a string prompt beside conversational chosen/rejected and extracts it from them, as TRL does', () => {
    const q = user('Sky?');
    const r = readDpoDataset(jsonl({ prompt: 'Sky?', chosen: [q, asst('Blue.')], rejected: [q, asst('Green.')] }), 'f');
    expect(r.format).toBe('conversational (implicit prompt)');
    expect(r.rows[0]).toEqual({ kind: 'conversational', prompt: [q], chosen: [asst('Blue.')], rejected: [asst('Green.')] });
  });

  it('does not mix explicit and implicit prompts in one file', () => {
    const r = readDpoDataset(jsonl({ prompt: 'p', chosen: 'a', rejected: 'b' }, { chosen: 'x a', rejected: 'x b' }), 'f');
    expect(r.rejected).toEqual([{ line: 2, reason: 'row is standard (implicit prompt) but the file is standard' }]);
  });

  describe('refuses, with a stable reason', () => {
    const q = user('Q');
    it.each([
      [{ foo: 1 }, 'no DPO fields: expected "chosen" and "rejected", with or without "prompt"'],
      [{ prompt: 'p', completion: 'c' }, 'missing field "chosen": this looks like an SFT row'],
      [{ messages: [q, asst('a')] }, 'missing field "chosen": this looks like an SFT row'],
      [{ prompt: 'p', chosen: 'a' }, 'missing field "rejected"'],
      [{ prompt: 'p', rejected: 'a' }, 'missing field "chosen"'],
      [{ prompt: 'p', chosen: 1, rejected: 'a' }, 'field "chosen" is not a string or a list of messages: got a number'],
      [{ prompt: 3, chosen: 'a', rejected: 'b' }, 'field "prompt" is not a string or a list of messages: got a number'],
      [
        { prompt: 'p', chosen: 'a', rejected: [asst('b')] },
        'fields mix strings and message lists: "chosen" is a string, "rejected" is a list',
      ],
      [
        { prompt: [q], chosen: 'a', rejected: 'b' },
        'fields mix strings and message lists: "prompt" is a list, "chosen" is a string, "rejected" is a string',
      ],
      [{ prompt: '', chosen: 'a', rejected: 'b' }, 'field "prompt" is empty'],
      [{ prompt: 'p', chosen: '', rejected: 'b' }, 'field "chosen" is empty'],
      [{ prompt: 'p', chosen: 'same', rejected: 'same' }, 'chosen and rejected are identical'],
      [{ chosen: 'same', rejected: 'same' }, 'chosen and rejected are identical'],
      [{ prompt: [q], chosen: [asst('a')], rejected: [{ content: 'a', role: 'assistant' }] }, 'chosen and rejected are identical'],
      [{ prompt: [q], chosen: [], rejected: [asst('b')] }, 'field "chosen" is an empty list'],
      [
        { prompt: [sys('s')], chosen: [asst('a')], rejected: [asst('b')] },
        'prompt ends with a system message: "prompt" ends with system; end it with the user\'s turn',
      ],
      [
        { prompt: [q], chosen: [{ role: 'critic', content: 'x' }], rejected: [asst('b')] },
        'message role "critic" is not supported: "chosen"[0]; roles are system, user, assistant and tool',
      ],
      [{ chosen: 'x y', rejected: 'z y' }, 'chosen and rejected share no prompt prefix: they differ from the first position'],
      [{ chosen: 'x ', rejected: 'z ' }, 'chosen and rejected share no prompt prefix: they differ from the first position'],
      [{ chosen: ' a', rejected: ' b' }, 'chosen and rejected share no prompt prefix: the common prefix is too short to be a prompt'],
      [{ chosen: 'a', rejected: 'ab' }, 'chosen and rejected share no prompt prefix: the common prefix is too short to be a prompt'],
      [
        { chosen: [q, asst('a')], rejected: [user('R'), asst('a')] },
        'chosen and rejected share no prompt prefix: they differ from the first position',
      ],
      [
        { chosen: [sys('s'), asst('a')], rejected: [sys('s'), asst('b')] },
        'prompt ends with a system message: the shared prefix of "chosen" and "rejected" ends with system; end it with the user\'s turn',
      ],
    ])('%j', (row, reason) => {
      expect(dpoReason(row)).toBe(reason);
    });
  });
});

describe('a file with no valid rows', () => {
  it('is a DatasetError naming the file and every reason with its count and all its lines', () => {
    const text = jsonl({ prompt: 'p' }, { prompt: 'p' }, { foo: 1 }, { prompt: 'p', chosen: 'a', rejected: 'b' }, '#{', { prompt: 'p' });
    let error: DatasetError | undefined;
    try {
      readSftDataset(text, 'data/train.jsonl');
    } catch (e) {
      error = e as DatasetError;
    }
    expect(error).toBeInstanceOf(DatasetError);
    expect(error!.message).toBe(
      'data/train.jsonl: no valid SFT rows (6 rejected): missing field "completion" (4 rows: lines 1-2, 4, 6); ' +
        'no SFT fields (1 row: line 3); invalid JSON (1 row: line 5).',
    );
    expect(error!.file).toBe('data/train.jsonl');
    expect(error!.rejected).toHaveLength(6);
    expect(error!.rejectedByReason).toEqual({ 'missing field "completion"': 4, 'no SFT fields': 1, 'invalid JSON': 1 });
  });

  it('names every line of a long file by ranges, and counts what is past 30 ranges per reason', () => {
    // 150 lines: runs of 2 lines of broken JSON ("#{" is written raw) between single rows with an empty text.
    const rows = Array.from({ length: 150 }, (_, i) => (i % 3 === 2 ? { text: '' } : '#{'));
    let message = '';
    try {
      readSftDataset(jsonl(...rows), 'big.jsonl');
    } catch (e) {
      message = (e as Error).message;
    }
    const ranges = Array.from({ length: 30 }, (_, k) => `${3 * k + 1}-${3 * k + 2}`).join(', ');
    expect(message).toBe(
      `big.jsonl: no valid SFT rows (150 rejected): invalid JSON (100 rows: lines ${ranges} and 40 more lines); ` +
        `field "text" is empty (50 rows: lines ${Array.from({ length: 30 }, (_, k) => 3 * k + 3).join(', ')} and 20 more lines).`,
    );
  });

  it('says so for an empty file', () => {
    expect(() => readDpoDataset('\n\n', 'prefs.jsonl')).toThrow(
      new DatasetError('prefs.jsonl', 'no rows: the file is empty (JSON Lines: one DPO row per line)', [], {}),
    );
    expect(() => readSftDataset('', 'e.jsonl')).toThrow('e.jsonl: no rows: the file is empty (JSON Lines: one SFT row per line)');
  });

  it('recognises a JSON array given as JSON Lines', () => {
    const text = JSON.stringify([{ prompt: 'p', chosen: 'a', rejected: 'b' }], null, 2);
    expect(() => readDpoDataset(text, 'prefs.json')).toThrow(
      /The file looks like a JSON array: JSON Lines needs one JSON object per line\.$/,
    );
  });

  it('is reached only when every row fails: one bad row never throws', () => {
    const r = readDpoDataset(jsonl(42, { prompt: 'p', chosen: 'a', rejected: 'b' }), 'f');
    expect(r.kept).toBe(1);
    expect(r.rejected).toEqual([{ line: 1, reason: 'row is not a JSON object: got a number' }]);
  });
});

describe('reasons and lines, as reports print them', () => {
  it('lineRanges names every line, runs as ranges, in order, once', () => {
    expect(lineRanges([4])).toBe('line 4');
    expect(lineRanges([9, 1, 2, 3, 7, 10, 11, 12, 2])).toBe('lines 1-3, 7, 9-12');
    expect(lineRanges([1, 3, 5, 6], 2)).toBe('lines 1, 3 and 2 more lines');
    expect(lineRanges([1, 3, 5], 2)).toBe('lines 1, 3 and 1 more line');
  });

  it('countByReason and reasonSummary group by the text before the first ": ", commonest first', () => {
    const rows = [
      { line: 2, reason: 'invalid JSON: Unexpected token' },
      { line: 3, reason: 'prompt fills max_length: the prompt is 40 tokens and max_length is 32' },
      { line: 5, reason: 'invalid JSON: Unexpected end' },
      { line: 6, reason: 'invalid JSON' },
    ];
    expect(countByReason(rows)).toEqual({ 'invalid JSON': 3, 'prompt fills max_length': 1 });
    expect(reasonSummary(rows)).toEqual(['invalid JSON (3 rows: lines 2, 5-6)', 'prompt fills max_length (1 row: line 3)']);
    expect(reasonSummary([])).toEqual([]);
  });
});
