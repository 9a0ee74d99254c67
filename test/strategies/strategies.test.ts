import { describe, expect, it } from 'vitest';
import { FEEDBACK_HEADER, generationMessages, MULTI_TURN_FEEDBACK_PREFIX, MULTI_TURN_FEEDBACK_SUFFIX, MULTI_TURN_TEMPLATES } from '../../src/prompts/index.js';
import { bestOfK } from '../../src/strategies/best-of-k.js';
import { multiTurn } from '../../src/strategies/multi-turn.js';
import { sdpo } from '../../src/strategies/sdpo.js';
import { stepSeed } from '../../src/strategies/steps.js';
import { STRATEGY_NAMES } from '../../src/strategies/index.js';
import { resolveConfig } from '../../src/run/config.js';
import { attemptEvent, historyFromEvents } from '../../src/run/history.js';
import type { AttemptOutcome, StrategySettings } from '../../src/strategies/types.js';
import { cellContext, ks, range, renderTokens, ScriptedGrader, ScriptedSampler, ScriptedTrainer, tokensOf } from './scripted.js';

// The run's defaults (RunConfig holds every StrategySettings field).
const settings: StrategySettings = resolveConfig({ model: 'm.gguf' }, {}, STRATEGY_NAMES);
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Step texts by call: call i returns script[i] (or all "FAIL i" when absent). */
const byCall = (script: string[][]) => (call: number, n: number) => (script[call] ?? Array.from({ length: n }, (_, j) => `FAIL c${call}p${j}`)).slice(0, n);

describe('best-of-k', () => {
  it('spends the budget with a truncated last step when nothing is found', async () => {
    const sampler = new ScriptedSampler(byCall([]));
    const { cell, recorded } = cellContext({ strategy: 'best-of-k', sampler, budget: 10, rollouts: 4 });
    const result = await bestOfK.run(cell);
    expect(sampler.calls.map((c) => c.n)).toEqual([4, 4, 2]);
    expect(ks(recorded.attempts)).toEqual(range(1, 10));
    expect(recorded.attempts.every((a) => a.step === Math.ceil(a.k / 4) && a.position === a.k - 4 * (a.step - 1))).toBe(true);
    expect(result).toEqual({ attempts: 10, discoveryK: null });
    expect(sampler.calls.every((c) => c.adapter === null)).toBe(true);
    expect(sampler.calls.map((c) => c.seed)).toEqual([1, 2, 3].map((s) => stepSeed('toy', 'best-of-k', 0, s)));
  });

  it('stops after the step holding the first discovery, even though the next step was already sampled', async () => {
    const sampler = new ScriptedSampler(byCall([['FAIL a', 'FAIL b', 'FAIL c', 'FAIL d'], ['FAIL e', 'PASS', 'FAIL f', 'PASS']]));
    const { cell, recorded } = cellContext({ strategy: 'best-of-k', sampler, budget: 16, rollouts: 4, grader: new ScriptedGrader(15) });
    const result = await bestOfK.run(cell);
    expect(result.discoveryK).toBe(6);
    expect(ks(recorded.attempts)).toEqual(range(1, 8)); // step 3 (pipelined) is never recorded
    expect(sampler.calls.length).toBeGreaterThanOrEqual(3); // grading of step 2 overlapped sampling of step 3
  });

  it('continues to the budget after a discovery when asked', async () => {
    const sampler = new ScriptedSampler(byCall([['PASS', 'FAIL x']]));
    const { cell, recorded } = cellContext({ strategy: 'best-of-k', sampler, budget: 6, rollouts: 2, continueAfterSuccess: true });
    const result = await bestOfK.run(cell);
    expect(ks(recorded.attempts)).toEqual(range(1, 6));
    expect(result.discoveryK).toBe(1);
  });

  it('counts a public-only pass as reward 1 but no discovery, and grades private tests only after a public pass', async () => {
    const sampler = new ScriptedSampler(byCall([['PUBLIC', 'FAIL x'], ['FAIL y', 'PASS']]));
    const grader = new ScriptedGrader();
    const { cell, recorded } = cellContext({ strategy: 'best-of-k', sampler, grader, budget: 8, rollouts: 2 });
    const result = await bestOfK.run(cell);
    const byK = new Map(recorded.attempts.map((a) => [a.k, a]));
    expect(byK.get(1)).toMatchObject({ reward: 1, privateReward: 0, verdict: 'private_wrong_answer' });
    expect(byK.get(4)).toMatchObject({ reward: 1, privateReward: 1, verdict: 'accepted' });
    expect(result.discoveryK).toBe(4);
    expect(grader.calls.filter((c) => c.tests === 'private').map((c) => c.code).sort()).toEqual(['PASS', 'PUBLIC']);
  });

  it('after a resume re-samples the half-done step with its own seed and records only the missing positions', async () => {
    const sampler = new ScriptedSampler(byCall([]));
    const { cell, recorded } = cellContext({ strategy: 'best-of-k', sampler, budget: 8, rollouts: 4 });
    for (const k of [1, 2, 3, 4, 6]) cell.history.attempts.set(k, fakeAttempt(k, 4));
    await bestOfK.run(cell);
    expect(sampler.calls.map((c) => c.n)).toEqual([4]);
    expect(sampler.calls[0].seed).toBe(stepSeed('toy', 'best-of-k', 0, 2));
    expect(ks(recorded.attempts)).toEqual([5, 7, 8]);
    expect(recorded.attempts.map((a) => a.text)).toEqual(['FAIL c0p0', 'FAIL c0p2', 'FAIL c0p3']);
  });

  it('a resumed cell whose log holds a discovery finishes that step and stops', async () => {
    const sampler = new ScriptedSampler(byCall([]));
    const { cell, recorded } = cellContext({ strategy: 'best-of-k', sampler, budget: 12, rollouts: 4 });
    for (const k of [1, 2, 3, 4]) cell.history.attempts.set(k, fakeAttempt(k, 4));
    cell.history.attempts.set(5, { ...fakeAttempt(5, 4), reward: 1, privateReward: 1 });
    const result = await bestOfK.run(cell);
    expect(ks(recorded.attempts)).toEqual([6, 7, 8]);
    expect(result).toEqual({ attempts: 8, discoveryK: 5 });
  });
});

describe('multi-turn', () => {
  const FEEDBACK_PREFIX = MULTI_TURN_FEEDBACK_PREFIX;
  const userOf = (sampler: ScriptedSampler, i: number) => sampler.calls[i].messages.at(-1)!.content;

  it('by default samples one generation per turn, each turn\'s prompt holding the feedback of every earlier failed turn in order', async () => {
    const sampler = new ScriptedSampler(byCall([['FAIL one'], ['SILENT'], ['FAIL two'], ['FAIL three']]));
    const { cell, recorded } = cellContext({ strategy: 'multi-turn', sampler, budget: 5, rollouts: multiTurn.generationsPerStep({ ...settings }) });
    await multiTurn.run(cell);
    expect(sampler.calls.map((c) => c.n)).toEqual([1, 1, 1, 1, 1]);
    expect(ks(recorded.attempts)).toEqual(range(1, 5));
    expect(recorded.attempts.map((a) => a.step)).toEqual([1, 2, 3, 4, 5]);
    expect(sampler.calls[0].messages).toEqual(generationMessages(cell.task));
    expect(userOf(sampler, 1)).toMatch(new RegExp(`${escape(FEEDBACK_PREFIX)}one${escape(MULTI_TURN_FEEDBACK_SUFFIX)}$`));
    // an attempt without feedback adds nothing
    expect(userOf(sampler, 2)).toMatch(new RegExp(`${escape(FEEDBACK_PREFIX)}one${escape(MULTI_TURN_FEEDBACK_SUFFIX)}$`));
    expect(userOf(sampler, 3)).toMatch(new RegExp(`${escape(FEEDBACK_PREFIX)}one\n\ntwo${escape(MULTI_TURN_FEEDBACK_SUFFIX)}$`));
    expect(userOf(sampler, 4)).toMatch(new RegExp(`${escape(FEEDBACK_PREFIX)}one\n\ntwo\n\nthree${escape(MULTI_TURN_FEEDBACK_SUFFIX)}$`));
    // every turn's seed is its own step's
    expect(sampler.calls.map((c) => c.seed)).toEqual([1, 2, 3, 4, 5].map((s) => stepSeed('toy', 'multi-turn', 0, s)));
  });

  it('with G generations per turn, a turn sees the failures of all earlier turns in position order', async () => {
    const sampler = new ScriptedSampler(byCall([['FAIL one', 'SILENT'], ['FAIL two', 'FAIL three'], ['FAIL four', 'FAIL five']]));
    const { cell, recorded } = cellContext({ strategy: 'multi-turn', sampler, budget: 6, rollouts: multiTurn.generationsPerStep({ ...settings, multiTurnGenerations: 2 }) });
    await multiTurn.run(cell);
    expect(ks(recorded.attempts)).toEqual(range(1, 6));
    expect(userOf(sampler, 0)).not.toContain(FEEDBACK_PREFIX.trim());
    expect(userOf(sampler, 1)).toContain(`${FEEDBACK_PREFIX}one\n\nCorrectly solve`);
    expect(userOf(sampler, 2)).toContain(`${FEEDBACK_PREFIX}one\n\ntwo\n\nthree\n\nCorrectly solve`);
  });

  it('attempt-and-feedback replays each failed turn as an assistant message followed by its feedback', async () => {
    const sampler = new ScriptedSampler(byCall([['FAIL one'], ['FAIL two'], ['FAIL three']]));
    const { cell } = cellContext({ strategy: 'multi-turn', sampler, budget: 3, rollouts: 1, multiTurnTemplate: 'attempt-and-feedback' });
    await multiTurn.run(cell);
    const last = sampler.calls[2].messages;
    expect(last.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user', 'assistant', 'user']);
    expect(last[2].content).toBe('FAIL one');
    expect(last[3].content).toBe(`${FEEDBACK_PREFIX}one${MULTI_TURN_FEEDBACK_SUFFIX}`);
    expect(last[4].content).toBe('FAIL two');
    expect(last[5].content).toBe(`${FEEDBACK_PREFIX}two${MULTI_TURN_FEEDBACK_SUFFIX}`);
  });

  it('drops the oldest feedback first once the prompt passes the token limit', async () => {
    const long = (tag: string) => `FAIL ${tag}${'x'.repeat(200)}`;
    const sampler = new ScriptedSampler(byCall([[long('A')], [long('B')], [long('C')], [long('D')]]));
    const { cell } = cellContext({ strategy: 'multi-turn', sampler, budget: 4, rollouts: 1 });
    // Room for the question plus about two feedback items.
    const questionOnly = (await sampler.renderPrompt(generationMessages(cell.task))).length;
    cell.maxPromptTokens = questionOnly + 100 + 2 * 210;
    await multiTurn.run(cell);
    const last = userOf(sampler, 3);
    expect(last).not.toContain('FAIL');
    expect(last).not.toContain('Ax');
    expect(last).toContain('Bx');
    expect(last).toContain('Cx');
    expect(last.indexOf('Bx')).toBeLessThan(last.indexOf('Cx'));
    for (const call of sampler.calls) expect(tokensOf(call.messages.map((m) => `<${m.role}>${m.content}`).join('')).length).toBeLessThanOrEqual(cell.maxPromptTokens);
  });

  it('a resumed cell continues with exactly the prompts an uninterrupted cell uses', async () => {
    for (const template of MULTI_TURN_TEMPLATES) {
      const script = byCall([["FAIL a"], ["FAIL b"], ["SILENT"], ["FAIL c"], ["FAIL d"], ["FAIL e"]]);
      const whole = new ScriptedSampler(script);
      const full = cellContext({ strategy: 'multi-turn', sampler: whole, budget: 6, rollouts: 1, multiTurnTemplate: template });
      await multiTurn.run(full.cell);
      // Kill after turn 3: the log holds attempts 1–3 (through the events, as --resume reads them).
      const events = full.recorded.attempts.filter((a) => a.k <= 3).map((a) => attemptEvent('toy', 'multi-turn', 0, a, { adapter: null, keepTokens: false }));
      const restored = historyFromEvents(events).cells.get(['toy', 'multi-turn', 0].join('\u0000'))!;
      const resumedSampler = new ScriptedSampler((call, n) => script(call + 3, n));
      const resumed = cellContext({ strategy: 'multi-turn', sampler: resumedSampler, budget: 6, rollouts: 1, multiTurnTemplate: template, history: restored });
      await multiTurn.run(resumed.cell);
      expect(ks(resumed.recorded.attempts)).toEqual([4, 5, 6]);
      expect(resumedSampler.calls.map((c) => c.messages)).toEqual(whole.calls.slice(3).map((c) => c.messages));
      expect(resumedSampler.calls.map((c) => c.seed)).toEqual(whole.calls.slice(3).map((c) => c.seed));
    }
  });

  it('stops at the first discovery and rebuilds its history from recorded attempts after a resume', async () => {
    const sampler = new ScriptedSampler(byCall([['FAIL later', 'PASS']]));
    const { cell, recorded } = cellContext({ strategy: 'multi-turn', sampler, budget: 8, rollouts: 2 });
    cell.history.attempts.set(1, { ...fakeAttempt(1, 2), feedback: 'remembered' });
    cell.history.attempts.set(2, { ...fakeAttempt(2, 2), feedback: 'too' });
    const result = await multiTurn.run(cell);
    expect(userOf(sampler, 0)).toContain(`${FEEDBACK_PREFIX}remembered\n\ntoo\n\n`);
    expect(ks(recorded.attempts)).toEqual([3, 4]);
    expect(result.discoveryK).toBe(4);
  });

  it('describes its protocol: one generation per turn is the paper\'s, more is labelled', () => {
    expect(multiTurn.protocol(settings)).toMatchObject({ label: 'multi-turn', generations_per_step: 1, learns: false, settings: { generations_per_turn: 1, template: 'feedback-only' } });
    expect(multiTurn.protocol({ ...settings, multiTurnGenerations: 4 })).toMatchObject({ label: 'multi-turn (4/turn)', generations_per_step: 4 });
    expect(bestOfK.generationsPerStep(settings)).toBe(16);
    expect(sdpo.generationsPerStep(settings)).toBe(16);
  });
});

describe('sdpo', () => {
  it('trains after each step with teacher contexts by priority, then samples with the new adapter', async () => {
    const sampler = new ScriptedSampler(byCall([['FAIL bug', 'SILENT', 'PUBLIC'], ['FAIL again', 'SILENT', 'FAIL more']]));
    const trainer = new ScriptedTrainer();
    const { cell, recorded } = cellContext({ strategy: 'sdpo', sampler, trainer, budget: 9, rollouts: 3 }, trainer.log);
    const result = await sdpo.run(cell);
    expect(result).toEqual({ attempts: 9, discoveryK: null });
    expect(sampler.calls.map((c) => c.adapter)).toEqual([null, '/adapters/a1.gguf', '/adapters/a2.gguf']);
    expect(trainer.batches).toHaveLength(2); // no step after the budget is spent
    const [first, second] = trainer.batches;
    const studentPrompt = renderTokens(generationMessages(cell.task));
    const text = (ids: number[]) => String.fromCodePoint(...ids);
    // Step 1: position 3 passed public tests → the others learn from it; it has no sibling and no feedback → masked.
    expect(first.map((e) => e.masked)).toEqual([false, false, true]);
    expect(text(first[0].teacherPrompt)).toContain('Correct solution:\n\nPUBLIC');
    expect(text(first[1].teacherPrompt)).toContain('Correct solution:\n\nPUBLIC');
    expect(first.every((e) => e.studentPrompt.join() === studentPrompt.join())).toBe(true);
    expect(first.map((e) => text(e.response))).toEqual(['FAIL bug', 'SILENT', 'PUBLIC']);
    // Step 2: no success → own feedback, silent failure masked.
    expect(second.map((e) => e.masked)).toEqual([false, true, false]);
    expect(text(second[0].teacherPrompt)).toContain(`${FEEDBACK_HEADER}again\n\nCorrectly solve the original question.`);
    expect(text(second[0].teacherPrompt)).not.toContain('FAIL again'); // the attempt itself is never in the teacher context
    expect(recorded.trainSteps.map((t) => [t.step, t.masked])).toEqual([[1, 1], [2, 1]]);
    // Saved before its train_step event is written.
    expect(trainer.log).toEqual(['step 1', 'save', 'event 1', 'step 2', 'save', 'event 2']);
  });

  it('hands the sampler\'s log-probs to the trainer as the importance weight\'s π_old, also after a resume', async () => {
    const sampler = new ScriptedSampler(byCall([['FAIL bug', 'FAIL two'], ['FAIL again', 'FAIL more']]), true);
    const trainer = new ScriptedTrainer();
    const { cell, recorded } = cellContext({ strategy: 'sdpo', sampler, trainer, budget: 4, rollouts: 2 });
    await sdpo.run(cell);
    const expected = (text: string) => [...text].map((_, t) => -0.01 * (t + 1));
    expect(trainer.batches[0].map((e) => e.behaviorLogprobs)).toEqual([expected('FAIL bug'), expected('FAIL two')]);
    // the attempt events keep them, so a resumed cell trains on the same weights
    const events = recorded.attempts.map((a) => attemptEvent('t', 'sdpo', 0, a, { adapter: null, keepTokens: true }));
    expect(events[0].response_logprobs).toEqual(expected('FAIL bug'));
    const history = historyFromEvents(events);
    const rebuilt = [...history.cells.values()][0]!.attempts.get(1)!;
    expect(rebuilt.logprobs).toEqual(expected('FAIL bug'));
    // without log-probs (no --is-clip) nothing is sent or written
    const plain = new ScriptedTrainer();
    const again = cellContext({ strategy: 'sdpo', sampler: new ScriptedSampler(byCall([['FAIL a', 'FAIL b']])), trainer: plain, budget: 4, rollouts: 2 });
    await sdpo.run(again.cell);
    expect(plain.batches[0].every((e) => e.behaviorLogprobs === undefined)).toBe(true);
    expect('response_logprobs' in attemptEvent('t', 'sdpo', 0, again.recorded.attempts[0]!, { adapter: null, keepTokens: true })).toBe(false);
  });

  it('stops at the first discovery without training on it', async () => {
    const sampler = new ScriptedSampler(byCall([['FAIL a', 'FAIL b'], ['PASS', 'FAIL c']]));
    const trainer = new ScriptedTrainer();
    const { cell, recorded } = cellContext({ strategy: 'sdpo', sampler, trainer, budget: 8, rollouts: 2 });
    const result = await sdpo.run(cell);
    expect(result.discoveryK).toBe(3);
    expect(ks(recorded.attempts)).toEqual(range(1, 4));
    expect(trainer.batches).toHaveLength(1);
  });

  it('truncates teacher prompts to the limit from the left', async () => {
    const sampler = new ScriptedSampler(byCall([['FAIL ' + 'z'.repeat(500), 'FAIL y']]));
    const trainer = new ScriptedTrainer();
    const { cell } = cellContext({ strategy: 'sdpo', sampler, trainer, budget: 4, rollouts: 2, maxTeacherPromptTokens: 300 });
    await sdpo.run(cell);
    const example = trainer.batches[0][0];
    expect(example.teacherPrompt).toHaveLength(300);
    expect(String.fromCodePoint(...example.teacherPrompt).endsWith('Correctly solve the original question.')).toBe(true);
  });

  it('resumes after the trainer saved a step whose event was lost: logs it, then continues with its adapter', async () => {
    const sampler = new ScriptedSampler(byCall([]));
    const saved = { step: 1, loss: 0.3, klBefore: 0.2, klAfter: 0.1, gradNorm: 0.5, tokens: 9, ms: 2, skipped: false, adapterPath: '/adapters/a1.gguf', isWeightMean: 1, isClipped: 0 };
    const trainer = new ScriptedTrainer(1, { result: saved, masked: 0 });
    const { cell, recorded } = cellContext({ strategy: 'sdpo', sampler, trainer, budget: 6, rollouts: 2 });
    for (const k of [1, 2]) cell.history.attempts.set(k, { ...fakeAttempt(k, 2), responseTokens: [1, 2] });
    cell.history.attempts.set(4, { ...fakeAttempt(4, 2), responseTokens: [7] }); // step 2 half done
    await sdpo.run(cell);
    expect(recorded.order[0]).toBe('train_step 1');
    expect(recorded.trainSteps[0].result).toEqual(saved);
    expect(sampler.calls.map((c) => [c.n, c.adapter])).toEqual([[2, '/adapters/a1.gguf'], [2, '/adapters/a2.gguf']]);
    expect(ks(recorded.attempts)).toEqual([3, 5, 6]);
    expect(trainer.batches[0].map((e) => e.response)).toEqual([tokensOf('FAIL c0p0'), [7]]);
  });

  it('a resume with the train step already logged skips sampled-and-trained steps', async () => {
    const sampler = new ScriptedSampler(byCall([]));
    const trainer = new ScriptedTrainer(1);
    const { cell, recorded } = cellContext({ strategy: 'sdpo', sampler, trainer, budget: 4, rollouts: 2 });
    for (const k of [1, 2]) cell.history.attempts.set(k, fakeAttempt(k, 2));
    cell.history.trainSteps.set(1, { adapterPath: '/adapters/a1.gguf' });
    await sdpo.run(cell);
    expect(sampler.calls.map((c) => c.adapter)).toEqual(['/adapters/a1.gguf']);
    expect(ks(recorded.attempts)).toEqual([3, 4]);
    expect(recorded.trainSteps).toHaveLength(0);
  });
});

function fakeAttempt(k: number, rollouts: number): AttemptOutcome {
  const step = Math.ceil(k / rollouts);
  return { k, step, position: k - rollouts * (step - 1), text: `old ${k}`, code: `old ${k}`, finishReason: 'stop', responseTokens: [k], reward: 0, privateReward: 0, verdict: 'wrong_answer', feedback: `old feedback ${k}`, ms: 1, gradeMs: 1 };
}
