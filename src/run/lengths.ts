/**
 * The lengths a run works with, derived once at start from the selected tasks, and the settings
 * that cannot work refused there (one line each) instead of hours later:
 *
 *   student prompt  = the longest rendered generation prompt of the selected tasks;
 *   teacher prompt  = the longest teacher prompt a step builds: the question with an empty
 *                     source, plus the longest source (a sibling's response: ≤ --max-tokens; or
 *                     feedback: ≤ MESSAGE_CHAR_LIMIT characters, counted at 2 characters a token,
 *                     which English, code and tracebacks exceed), plus a few tokens where the
 *                     pieces join; at most --max-teacher-prompt-tokens. The cells left-truncate
 *                     every teacher prompt to this bound, so none is longer whatever the tokenizer
 *                     does (only feedback of unusual characters can lose the question's start);
 *   trainer length  = max(student prompt, teacher prompt) + --max-tokens: the longest sequence any
 *                     trainer of the run sees; every trainer is configured with it (maxTokens).
 */
import fs from 'node:fs';
import { UserError } from '../errors.js';
import { MESSAGE_CHAR_LIMIT } from '../feedback/render.js';
import { readGguf } from '../gguf/reader.js';
import type { Sampler } from '../model/types.js';
import { generationMessages, teacherMessages } from '../prompts/index.js';
import type { Task } from '../tasks/types.js';
import { TRAINER_ATTENTIONS, type TrainerAttention } from '../trainer/types.js';
import type { RunConfig } from './config.js';

/** Tokens where a source joins the text around it can merge or split differently than alone. */
export const JOIN_SLACK_TOKENS = 16;
/** Feedback is at most MESSAGE_CHAR_LIMIT characters; at 2 characters a token, at most this many tokens. */
export const FEEDBACK_TOKENS = Math.ceil(MESSAGE_CHAR_LIMIT / 2);

export interface RunLengths {
  /** The longest student (generation) prompt, and the task it belongs to. */
  studentPrompt: number;
  studentTask: string;
  /** The teacher prompt limit the cells truncate to (≤ --max-teacher-prompt-tokens). */
  teacherPrompt: number;
  /** The trainers' maxTokens: max(student prompt, teacher prompt) + --max-tokens. */
  trainer: number;
}

type LengthSettings = Pick<RunConfig, 'maxTokens' | 'maxTeacherPromptTokens' | 'contextSize'>;

export async function deriveLengths(config: LengthSettings, tasks: Task[], sampler: Pick<Sampler, 'renderPrompt'>): Promise<RunLengths> {
  let studentPrompt = 0;
  let studentTask = tasks[0]?.id ?? '';
  let teacher = 0;
  for (const task of tasks) {
    const student = (await sampler.renderPrompt(generationMessages(task))).length;
    if (student > studentPrompt) [studentPrompt, studentTask] = [student, task.id];
    const withSolution = (await sampler.renderPrompt(teacherMessages(task, { kind: 'solution', text: '' }))).length + config.maxTokens;
    const withFeedback = (await sampler.renderPrompt(teacherMessages(task, { kind: 'feedback', text: '' }))).length + FEEDBACK_TOKENS;
    teacher = Math.max(teacher, withSolution + JOIN_SLACK_TOKENS, withFeedback + JOIN_SLACK_TOKENS);
  }
  const teacherPrompt = Math.min(config.maxTeacherPromptTokens, teacher);
  return { studentPrompt, studentTask, teacherPrompt, trainer: Math.max(studentPrompt, teacherPrompt) + config.maxTokens };
}

/** Refuses a context that cannot hold the longest student prompt and a full response. */
export function checkContext(config: LengthSettings, lengths: RunLengths): void {
  const needed = lengths.studentPrompt + config.maxTokens;
  if (needed > config.contextSize) {
    throw new UserError(
      `--context-size ${config.contextSize} cannot hold the longest prompt (${lengths.studentPrompt} tokens, task ${lengths.studentTask}) + --max-tokens ${config.maxTokens} = ${needed}; raise --context-size or lower --max-tokens`,
    );
  }
}

/** What the trainer memory estimate reads from a model file. */
export interface ModelShape {
  layers: number;
  embd: number;
  ff: number;
  heads: number;
  kvHeads: number;
  /** Width of one K (and V) head. */
  headDim: number;
  /** Bytes of the model file (its weights). */
  fileBytes: number;
}

/** The shape of a GGUF model (header only), or null when a field is missing or per-layer. */
export function modelShape(file: string): ModelShape | null {
  const gguf = readGguf(file);
  const arch = gguf.architecture;
  const num = (key: string): number | null => {
    const v = gguf.get(`${arch}.${key}`);
    if (Array.isArray(v)) return v.length > 0 ? Math.max(...v.map(Number)) : null; // per-layer: the largest
    return typeof v === 'number' || typeof v === 'bigint' ? Number(v) : null;
  };
  const [layers, embd, ff, heads] = [num('block_count'), num('embedding_length'), num('feed_forward_length'), num('attention.head_count')];
  if (!arch || !layers || !embd || !ff || !heads) return null;
  const kvHeads = num('attention.head_count_kv') ?? heads;
  const headDim = num('attention.key_length') ?? Math.floor(embd / heads);
  return { layers, embd, ff, heads, kvHeads, headDim, fileBytes: fs.statSync(file).size };
}

/**
 * Bytes of the sampler's KV cache per token of one sequence: layers × kv heads × head width × 2
 * (K and V) × 2 B (llama.cpp's default F16 cache). A sequence slot holds --context-size of them.
 */
export function kvBytesPerToken(shape: Pick<ModelShape, 'layers' | 'kvHeads' | 'headDim'>): number {
  return shape.layers * shape.kvHeads * shape.headDim * 2 * 2;
}

/**
 * Sequence slots per context and contexts of the sampler. The sampler keeps one context per live
 * adapter (an interleaved learning cell's), each with `slots` sequences of a whole --context-size
 * of KV cache, so the KV memory is contexts × slots × per-slot. Wanted: `slots` (G of the largest
 * step, or one per interleaved cell if more) in each of `contexts` (--parallel-cells + 1: one per
 * interleaved cell plus the base model's), within `freeBytes` beside the weights, keeping a
 * quarter for compute buffers and everything else. When they do not fit, contexts go first (a
 * cell whose adapter has no context rebuilds one when it samples: a pause) and slots last (a step
 * of more rollouts than slots decodes in rounds: every step slower); each shortfall gets a note.
 */
export function samplerPlan(
  wanted: { slots: number; contexts: number },
  contextSize: number,
  shape: ModelShape | null,
  freeBytes: number,
  where: string,
): { slots: number; contexts: number; notes: string[] } {
  if (!shape) return { ...wanted, notes: [] };
  const perSlot = kvBytesPerToken(shape) * contextSize;
  const room = freeBytes * 0.75 - shape.fileBytes;
  const perContext = perSlot * wanted.slots;
  const memory = `${gib(freeBytes)} GiB free ${where}`;
  const contexts = Math.max(1, Math.min(wanted.contexts, Math.floor(room / perContext)));
  const notes: string[] = [];
  if (contexts < wanted.contexts) {
    notes.push(
      `sampler: ${contexts} context${contexts === 1 ? '' : 's'} instead of ${wanted.contexts} (one per interleaved cell's adapter and the base model's; each holds ${gib(perContext)} GiB of KV cache for ${wanted.slots} sequences of --context-size ${contextSize}; ${memory}): cells beyond that rebuild a context when they sample`,
    );
  }
  const fit = Math.max(1, Math.floor(room / perSlot));
  if (fit >= wanted.slots) return { slots: wanted.slots, contexts, notes };
  notes.push(
    `sampler: ${fit} sequence slot${fit === 1 ? '' : 's'} instead of ${wanted.slots} (each holds ${gib(perSlot)} GiB of KV cache for --context-size ${contextSize}; ${memory}): larger steps decode in ${Math.ceil(wanted.slots / fit)} rounds; a smaller --context-size fits more`,
  );
  return { slots: fit, contexts, notes };
}

/**
 * A LOWER bound on the memory one training step over `tokens` rows takes (bytes). The trainer's
 * graph is one ubatch of the whole sequence (rounded up to 256 rows, as the trainer does) with
 * every activation the backward reads kept until then, in F32:
 *   weights           the model file;
 *   body activations  layers × rows × (4·n_embd + 3·n_ff) × 4 B — per layer and row at least the
 *                     normed input, Q, the attention output and the residual (n_embd each) and
 *                     the FFN's gate, up and their product (n_ff each);
 *   attention         'plain': layers × heads × rows² × 4 B — the softmax of every layer, which its
 *                     backward reads; 'fused': layers × heads × rows × 4 B — only each row's
 *                     log-sum-exp is kept (the output is counted above), the backward recomputes the
 *                     probabilities row by row; 'blocked' (the default): nothing per layer beyond the
 *                     output, but one query block at a time holds its probabilities and their
 *                     gradient, 2 × rows × block × heads × 4 B (block: blockedAttentionRows).
 * Not counted (so the bound stays below what a step really takes): gradients, K/V, the
 * transposed weight copies, the head's blocks of headBlockRows × vocabulary logits, the KV caches
 * of the scoring contexts and the allocator's overhead. Measured for comparison (plain attention,
 * `ttsd bench trainer --tokens 2048`, 2 layers 256 wide, 305 MiB F32): 1.24 GB peak RSS with 4
 * heads, 4.20 GB with 64 (estimates 0.47 and 2.48 GB: the +2.0 GB of softmax predicted, +3.0 seen).
 */
export function trainerMemoryBytes(shape: ModelShape, tokens: number, attention: TrainerAttention = TRAINER_ATTENTIONS[0], blockRows = 0): number {
  const rows = Math.ceil(tokens / 256) * 256;
  const body = shape.layers * rows * (4 * shape.embd + 3 * shape.ff) * 4;
  const attentionBytes =
    attention === 'blocked'
      ? 2 * rows * blockedAttentionRows(rows, shape.heads, blockRows) * shape.heads * 4
      : shape.layers * shape.heads * rows * (attention === 'plain' ? rows : 1) * 4;
  return shape.fileBytes + body + attentionBytes;
}

/**
 * Query rows per block of the 'blocked' attention over `tokens` tokens and `heads` heads: `configured`
 * (TrainerConfig.attentionBlockRows) when > 0, capped at tokens; else the most rows, a multiple of 16
 * and at least 16, whose scores (tokens × rows × heads floats) fit in 64 MiB. The trainer's rule
 * (llama_opt_attn_block_rows in ttsd-llama.patch), restated for the memory estimate.
 */
export function blockedAttentionRows(tokens: number, heads: number, configured = 0): number {
  if (configured > 0) return Math.min(configured, tokens);
  const rows = Math.floor((64 * 2 ** 20) / (tokens * heads * 4));
  return Math.min(Math.max(16, Math.floor(rows / 16) * 16), tokens);
}

const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(1);

/** Refuses a trainer length whose memory (trainerMemoryBytes, a lower bound) exceeds what the device has. */
export function checkTrainerMemory(
  lengths: RunLengths,
  shape: ModelShape | null,
  available: { bytes: number; what: string },
  attention: TrainerAttention = TRAINER_ATTENTIONS[0],
): void {
  if (!shape) return; // an unusual header: no estimate, the trainer says it if it cannot allocate
  const needed = trainerMemoryBytes(shape, lengths.trainer, attention);
  if (needed > available.bytes) {
    throw new UserError(
      `the trainer's longest sequence (${lengths.trainer} tokens: prompt ${Math.max(lengths.studentPrompt, lengths.teacherPrompt)} + --max-tokens) needs at least ${gib(needed)} GiB ` +
        `(weights, activations and ${shape.layers} layers × ${shape.heads} heads of attention over ${lengths.trainer} tokens), more than the ${gib(available.bytes)} GiB of ${available.what}; ` +
        'lower --max-tokens or --max-teacher-prompt-tokens',
    );
  }
}
