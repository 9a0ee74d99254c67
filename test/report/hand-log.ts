/**
 * A small events.jsonl written out by hand, with its expected numbers worked out by hand below.
 * Budget 4, strategies best-of-k and sdpo, tasks A and B, seeds 1 and 2.
 *
 * best-of-k (every attempt ms 1000, grade_ms 200):
 *   A/1: k1 fail, k2 pass+private            → T = 2
 *   A/2: k1 public only, k2..k4 fail          → T = ∞ (public T = 1)
 *   B/1: k1..k4 fail                          → T = ∞
 *   B/2: k1 k2 fail, k3 k4 pass+private       → T = 3
 *   discovery@k = 0, 1/4, 2/4, 2/4; mean min(T,4) = (2+4+4+3)/4 = 3.25; solved 2
 *   public: T = 2, 1, ∞, 3 → 1/4, 2/4, 3/4, 3/4; solved 3; 1 public-only attempt
 *   pass@k: A n=6 c=1, B n=8 c=2 → pass@1 = (1/6 + 1/4)/2 = 5/24, pass@2 = (1/3 + 13/28)/2 = 67/168
 * sdpo (ms 1000, no grade_ms):
 *   A/1: k1 fail, k2 pass+private; then a duplicate k1 "pass" and k2 "fail" (ignored) → T = 2
 *   A/2: k1 pass+private                      → T = 1
 *   B/1: k1 k2 fail, then nothing (killed)    → T = ∞, incomplete
 *   B/2: k1..k4 fail                          → T = ∞
 *   discovery@k = 1/4, 2/4, 2/4, 2/4; mean min(T,4) = (2+1+4+4)/4 = 2.75; solved 2
 *   train_step: A/1 steps 1, 2 (ms 5000 each, no strategy field → the one learner by trait, sdpo), step 1 repeated (ignored)
 * sdpo against best-of-k (traits: best-of-k learns not, samples independently), paired over the 4 (task, seed):
 *   disc@1 ratio 0.25/0 = ∞, disc@2 0.5/0.25 = 2, disc@4 0.5/0.5 = 1; best-of-k's final rate 0.5 is
 *   reached by sdpo at k = 2 and by best-of-k itself at k = 3 → 1.5× fewer generations
 * time: best-of-k sample 14 × 1000 = 14000, grade 14 × 200 = 2800; sdpo sample 9 × 1000 = 9000,
 *   grade 0, train 2 × 5000 = 10000.
 */
const attempt = (task: string, strategy: string, seed: number, k: number, reward: 0 | 1, privateReward: 0 | 1, extra: object = {}) =>
  JSON.stringify({ type: 'attempt', task, strategy, seed, k, step: k, reward, private_reward: privateReward, verdict: reward ? 'AC' : 'WA', tokens: 100, ms: 1000, ...extra });

const graded = { grade_ms: 200 };

/** The traits the report goes by: best-of-k is the baseline of independent samples, sdpo the one learner. */
const HAND_PROTOCOLS = [
  { variant: 'best-of-k', strategy: 'best-of-k', label: 'best-of-k', learns: false, independent: true, loss: null, teacher: null, teacher_context: null, generations_per_step: 1, prompt: '', description: '', source: '', settings: {} },
  { variant: 'sdpo', strategy: 'sdpo', label: 'sdpo', learns: true, independent: false, loss: 'distill', teacher: 'ema', teacher_context: 'feedback', generations_per_step: 1, prompt: '', description: '', source: '', settings: {} },
];

export const HAND_LOG_LINES = [
  JSON.stringify({ type: 'run', version: 1, budget: 4, strategies: ['best-of-k', 'sdpo'], seeds: [1, 2], tasks: ['A', 'B'], temperature: 1, lr: 1e-5, protocols: HAND_PROTOCOLS }),
  attempt('A', 'best-of-k', 1, 1, 0, 0, graded),
  attempt('A', 'best-of-k', 1, 2, 1, 1, graded),
  attempt('A', 'sdpo', 1, 1, 0, 0),
  JSON.stringify({ type: 'train_step', task: 'A', seed: 1, step: 1, loss: 0.9, kl_before: 0.5, kl_after: 0.3, grad_norm: 1.5, ms: 5000 }),
  attempt('A', 'sdpo', 1, 2, 1, 1),
  JSON.stringify({ type: 'train_step', task: 'A', seed: 1, step: 2, loss: 0.7, kl_before: 0.4, kl_after: 0.2, grad_norm: 1.1, ms: 5000 }),
  attempt('A', 'best-of-k', 2, 1, 1, 0, graded),
  attempt('A', 'best-of-k', 2, 2, 0, 0, graded),
  attempt('A', 'best-of-k', 2, 3, 0, 0, graded),
  attempt('A', 'best-of-k', 2, 4, 0, 0, graded),
  attempt('A', 'sdpo', 2, 1, 1, 1),
  attempt('B', 'best-of-k', 1, 1, 0, 0, graded),
  attempt('B', 'best-of-k', 1, 2, 0, 0, graded),
  attempt('B', 'best-of-k', 1, 3, 0, 0, graded),
  attempt('B', 'best-of-k', 1, 4, 0, 0, graded),
  attempt('B', 'sdpo', 1, 1, 0, 0),
  attempt('B', 'sdpo', 1, 2, 0, 0),
  attempt('B', 'best-of-k', 2, 1, 0, 0, graded),
  attempt('B', 'best-of-k', 2, 2, 0, 0, graded),
  attempt('B', 'best-of-k', 2, 3, 1, 1, graded),
  attempt('B', 'best-of-k', 2, 4, 1, 1, graded),
  attempt('B', 'sdpo', 2, 1, 0, 0),
  attempt('B', 'sdpo', 2, 2, 0, 0),
  attempt('B', 'sdpo', 2, 3, 0, 0),
  attempt('B', 'sdpo', 2, 4, 0, 0),
  // a resumed run re-recorded these; the first record wins
  attempt('A', 'sdpo', 1, 1, 1, 1),
  attempt('A', 'sdpo', 1, 2, 0, 0),
  JSON.stringify({ type: 'train_step', task: 'A', seed: 1, step: 1, loss: 5, kl_before: 5, kl_after: 5, grad_norm: 5, ms: 5000 }),
];

export const HAND_LOG = HAND_LOG_LINES.join('\n') + '\n';

/** The same log as written before protocols (and their traits) were recorded. */
export const HAND_LOG_WITHOUT_PROTOCOLS = [JSON.stringify({ ...JSON.parse(HAND_LOG_LINES[0]), protocols: undefined }), ...HAND_LOG_LINES.slice(1)].join('\n') + '\n';
