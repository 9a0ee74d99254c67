/**
 * `ttsd tasks fetch lcb`: downloads LiveCodeBench's code_generation_lite release files from the
 * Hugging Face dataset livecodebench/code_generation_lite and checks them with the project's
 * own loader.
 *
 * Which files make a release is LiveCodeBench's own mapping (ALLOWED_FILES in the dataset's
 * loading script, used by lcb_runner's load_code_generation_dataset(release_version)):
 * release_vN = test.jsonl, test2.jsonl, …, testN.jsonl (cumulative).
 *
 * Each file is downloaded to `<name>.part` and renamed to its final name only once complete
 * and parsed, so a final name never holds a partial file. An interrupted download resumes from
 * its `.part` with an HTTP Range request guarded by If-Range (the validator the server gave),
 * or starts over when the server no longer has that version.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { loadTasks } from './load.js';
import { LCBV6_WINDOW } from './presets.js';

export const LCB_DATASET = 'livecodebench/code_generation_lite';
export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';

/** release_vN → its files, as LiveCodeBench's loading script defines them. */
export const LCB_RELEASE_FILES: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  [1, 2, 3, 4, 5, 6].map((n) => [`release_v${n}`, Array.from({ length: n }, (_, i) => (i === 0 ? 'test.jsonl' : `test${i + 1}.jsonl`))]),
);

/**
 * Problem counts LiveCodeBench publishes per release (cumulative: v1 400 … v6 1055). Only a
 * warning when they differ: the dataset is the authority, this is a sanity check.
 */
export const LCB_PUBLISHED_COUNTS: Readonly<Record<string, number>> = {
  release_v1: 400,
  release_v2: 511,
  release_v3: 612,
  release_v4: 713,
  release_v5: 880,
  release_v6: 1055,
};

/** "v6", "6", "release_v6" and "release_latest" (= v6 in LCB's script) → "release_v6". */
export function normaliseRelease(release: string): string {
  const r = release.trim().toLowerCase();
  const name = r === 'release_latest' || r === 'latest' ? 'release_v6' : /^\d+$/.test(r) ? `release_v${r}` : r.startsWith('release_') ? r : `release_${r}`;
  if (!LCB_RELEASE_FILES[name]) {
    throw new UserError(`unknown LiveCodeBench release ${release} (known: v1 … v6, release_v1 … release_v6, release_latest)`);
  }
  return name;
}

/** `${endpoint}/datasets/livecodebench/code_generation_lite/resolve/main/<file>`. */
export function lcbFileUrl(endpoint: string, file: string): string {
  return `${endpoint.replace(/\/+$/, '')}/datasets/${LCB_DATASET}/resolve/main/${encodeURIComponent(file)}`;
}

/** --endpoint, else HF_ENDPOINT, else huggingface.co (the same variable huggingface_hub honours). */
export function resolveEndpoint(endpoint?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = endpoint ?? (env.HF_ENDPOINT && env.HF_ENDPOINT.trim() !== '' ? env.HF_ENDPOINT : DEFAULT_HF_ENDPOINT);
  let url: URL;
  try {
    url = new URL(chosen);
  } catch {
    throw new UserError(`not an http(s) URL: ${chosen} (from ${endpoint !== undefined ? '--endpoint' : 'HF_ENDPOINT'})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UserError(`not an http(s) URL: ${chosen}`);
  return chosen.replace(/\/+$/, '');
}

export interface FileReport {
  file: string;
  bytes: number;
  rows: number;
  /** downloaded | resumed | kept (already there and loads). */
  how: 'downloaded' | 'resumed' | 'kept';
}

export interface FetchReport {
  release: string;
  dir: string;
  files: FileReport[];
  rows: number;
  /** Problems with a contest_date in the paper's LCBv6 window (what the lcbv6 presets index). */
  lcbv6Window: number;
  warnings: string[];
}

export interface FetchOptions {
  release?: string;
  out: string;
  endpoint?: string;
  /** Re-download files that are already there. */
  force?: boolean;
  /** Give up when no bytes arrive for this long (default 60 s, or TTSD_DOWNLOAD_STALL_MS). */
  stallMs?: number;
  progress?: Progress;
  env?: NodeJS.ProcessEnv;
}

/** Where progress goes: a bar on a terminal, plain lines otherwise (the CLI picks). */
export interface Progress {
  start(file: string, total: number | undefined, from: number): void;
  advance(file: string, done: number, total: number | undefined): void;
  finish(file: string, bytes: number, rows: number, how: FileReport['how']): void;
  note(line: string): void;
}

export const silentProgress: Progress = { start() {}, advance() {}, finish() {}, note() {} };

export async function fetchLcb(options: FetchOptions): Promise<FetchReport> {
  const env = options.env ?? process.env;
  const release = normaliseRelease(options.release ?? 'release_v6');
  const endpoint = resolveEndpoint(options.endpoint, env);
  const progress = options.progress ?? silentProgress;
  const stallMs = options.stallMs ?? Number(env.TTSD_DOWNLOAD_STALL_MS ?? 60_000);
  const token = env.HF_TOKEN?.trim() || undefined;
  const dir = options.out;
  await mkdir(dir, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
    throw new UserError(`cannot create ${dir}: ${error.code ?? error.message}`);
  });

  const files: FileReport[] = [];
  const ids = new Map<string, string>();
  let lcbv6Window = 0;
  const from = Date.parse(`${LCBV6_WINDOW.from}T00:00:00Z`);
  const to = Date.parse(`${LCBV6_WINDOW.to}T00:00:00Z`);
  for (const file of LCB_RELEASE_FILES[release]!) {
    const final = join(dir, file);
    let how: FileReport['how'] = 'kept';
    let checked = options.force ? undefined : await checkExisting(final, file, progress);
    if (!checked) {
      how = await download({ url: lcbFileUrl(endpoint, file), final, file, token, stallMs, progress });
      try {
        checked = await checkFile(`${final}.part`, file);
      } catch (error) {
        // A complete but unreadable download is no use to resume from.
        await rm(`${final}.part`, { force: true });
        await rm(`${final}.part.json`, { force: true });
        throw error;
      }
      await rename(`${final}.part`, final);
      await rm(`${final}.part.json`, { force: true });
    }
    for (const t of checked.tasks) {
      const earlier = ids.get(t.id);
      if (earlier) throw new UserError(`${file}: question_id ${t.id} is also in ${earlier}; not LiveCodeBench's release files?`);
      ids.set(t.id, file);
      const at = Date.parse(/Z|[+-]\d\d:?\d\d$/.test(t.date) ? t.date : `${t.date}Z`);
      if (at >= from && at < to) lcbv6Window++;
    }
    const bytes = (await stat(final)).size;
    files.push({ file, bytes, rows: checked.tasks.length, how });
    progress.finish(file, bytes, checked.tasks.length, how);
  }

  const rows = files.reduce((sum, f) => sum + f.rows, 0);
  const warnings: string[] = [];
  const published = LCB_PUBLISHED_COUNTS[release];
  if (published !== undefined && rows !== published) {
    warnings.push(`${release} has ${rows} problems here; LiveCodeBench publishes ${published} (a newer or different revision of the dataset?)`);
  }
  return { release, dir, files, rows, lcbv6Window, warnings };
}

interface Checked {
  tasks: { id: string; date: string }[];
}

/** A file already under its final name: kept if it loads, otherwise downloaded again. */
async function checkExisting(final: string, file: string, progress: Progress): Promise<Checked | undefined> {
  const info = await stat(final).catch(() => undefined);
  if (!info) return undefined;
  try {
    return await checkFile(final, file);
  } catch (error) {
    progress.note(`${file}: already there but ${(error as Error).message.replace(/^.*? is damaged \((.*)\); run.*$/, '$1')}; downloading it again`);
    await rm(final, { force: true });
    return undefined;
  }
}

/**
 * Parses a downloaded file with the project's own loader (every row, file:line errors) and
 * keeps only what the later checks need, so a whole release is never held in memory at once.
 */
async function checkFile(path: string, name: string): Promise<Checked> {
  let tasks;
  try {
    tasks = await loadTasks(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UserError(`${name} is damaged (${reason.replace(path, name)}); run the command again to download it anew`);
  }
  if (tasks.length === 0) throw new UserError(`${name} holds no problems; run the command again to download it anew`);
  return { tasks: tasks.map((t) => ({ id: t.id, date: t.contestDate })) };
}

interface DownloadJob {
  url: string;
  final: string;
  file: string;
  token?: string;
  stallMs: number;
  progress: Progress;
}

interface PartInfo {
  url: string;
  validator: string;
}

/** Downloads `url` into `final.part`, resuming a previous `.part` when the server allows it. */
async function download(job: DownloadJob): Promise<'downloaded' | 'resumed'> {
  const part = `${job.final}.part`;
  const meta = `${part}.json`;
  const have = (await stat(part).catch(() => undefined))?.size ?? 0;
  const info = await readFile(meta, 'utf8')
    .then((text) => JSON.parse(text) as PartInfo)
    .catch(() => undefined);
  const resume = have > 0 && info?.url === job.url && typeof info.validator === 'string' && info.validator !== '';

  const headers: Record<string, string> = { 'user-agent': 'ttsd' };
  if (job.token) headers.authorization = `Bearer ${job.token}`;
  if (resume) {
    headers.range = `bytes=${have}-`;
    headers['if-range'] = info!.validator;
  }

  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => abort.abort(new Error('stalled')), job.stallMs);
  };
  arm();
  const host = new URL(job.url).host;
  const stalled = () => new UserError(`download of ${job.file} stalled: no data for ${Math.round(job.stallMs / 1000)} s from ${host}; run the command again to resume`);

  let response: Response;
  try {
    response = await fetch(job.url, { headers, redirect: 'follow', signal: abort.signal });
  } catch (error) {
    clearTimeout(timer);
    if (abort.signal.aborted) throw stalled();
    throw new UserError(`cannot reach ${host} for ${job.file}: ${networkReason(error)} (offline? set HF_ENDPOINT or --endpoint for a mirror)`);
  }

  let append = false;
  if (response.status === 206 && resume) {
    const start = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '')?.[1];
    append = start !== undefined && Number(start) === have;
    if (!append) {
      // A range we did not ask for: start over rather than guess.
      await response.body?.cancel();
      clearTimeout(timer);
      await rm(part, { force: true });
      await rm(meta, { force: true });
      return download(job);
    }
  } else if (response.status === 416 && resume) {
    await response.body?.cancel();
    clearTimeout(timer);
    await rm(part, { force: true });
    await rm(meta, { force: true });
    return download(job);
  } else if (response.status !== 200) {
    clearTimeout(timer);
    await response.body?.cancel();
    const hint = response.status === 404 ? ' (no such file on this endpoint)' : response.status === 401 || response.status === 403 ? ' (set HF_TOKEN?)' : '';
    throw new UserError(`${job.url}: HTTP ${response.status} ${response.statusText}${hint}`.trim());
  }

  const length = Number(response.headers.get('content-length') ?? Number.NaN);
  const total = Number.isFinite(length) ? (append ? have + length : length) : undefined;
  const validator = response.headers.get('etag') ?? response.headers.get('last-modified') ?? '';
  // Only strong validators make a safe If-Range (RFC 9110 §13.1.5).
  const strong = validator !== '' && !validator.startsWith('W/') ? validator : '';
  await writeFile(meta, JSON.stringify({ url: job.url, validator: strong } satisfies PartInfo));

  let done = append ? have : 0;
  job.progress.start(job.file, total, done);
  const out = createWriteStream(part, { flags: append ? 'a' : 'w' });
  const outError = new Promise<never>((_, reject) => out.on('error', reject));
  outError.catch(() => {});
  try {
    if (!response.body) throw new Error('empty response body');
    const reader = response.body.getReader();
    for (;;) {
      const { done: end, value } = await Promise.race([reader.read(), outError]);
      if (end) break;
      arm();
      done += value.byteLength;
      if (!out.write(value)) await Promise.race([new Promise<void>((r) => out.once('drain', () => r())), outError]);
      job.progress.advance(job.file, done, total);
    }
    await Promise.race([new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve()))), outError]);
  } catch (error) {
    clearTimeout(timer);
    const code = (error as NodeJS.ErrnoException)?.code;
    // Keep what arrived (flushed to the .part) so the next run resumes from there.
    if (code === undefined || !['ENOSPC', 'EDQUOT', 'EACCES', 'EROFS'].includes(code)) {
      await new Promise<void>((resolve) => out.end(() => resolve())).catch(() => {});
    } else out.destroy();
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      await rm(part, { force: true });
      await rm(meta, { force: true });
      throw new UserError(`no space left on device while writing ${job.file}; the partial file was removed`, 28);
    }
    if (code === 'EACCES' || code === 'EROFS') throw new UserError(`cannot write ${part}: ${code}`, 13);
    if (abort.signal.aborted) throw stalled();
    throw new UserError(`download of ${job.file} broke off after ${done} bytes (${networkReason(error)}); run the command again to resume`);
  }
  clearTimeout(timer);
  if (total !== undefined && done !== total) {
    throw new UserError(`download of ${job.file} is truncated: ${done} of ${total} bytes; run the command again to resume`);
  }
  return append ? 'resumed' : 'downloaded';
}

function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  return error instanceof Error ? error.message : String(error);
}

/** A progress bar on a terminal (one redrawn line per file), plain lines otherwise. */
export function consoleProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = stream.isTTY === true;
  let last = 0;
  let startedAt = 0;
  let startedFrom = 0;
  let lastQuarter = 0;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  return {
    start(file, total, from) {
      startedAt = Date.now();
      startedFrom = from;
      lastQuarter = 0;
      const size = total !== undefined ? ` (${mb(total)} MB)` : '';
      if (!tty) stream.write(`${from > 0 ? 'resuming' : 'downloading'} ${file}${size}${from > 0 ? ` from ${mb(from)} MB` : ''}\n`);
    },
    advance(file, done, total) {
      const now = Date.now();
      if (!tty) {
        if (total) {
          const quarter = Math.floor((4 * done) / total);
          if (quarter > lastQuarter && quarter < 4) {
            lastQuarter = quarter;
            stream.write(`  ${file}: ${quarter * 25}% (${mb(done)} MB)\n`);
          }
        }
        return;
      }
      if (now - last < 100 && done !== total) return;
      last = now;
      const rate = (done - startedFrom) / Math.max(0.001, (now - startedAt) / 1000);
      const width = 30;
      const bar = total ? '#'.repeat(Math.round((width * done) / total)).padEnd(width, '.') : ''.padEnd(width, '?');
      const pct = total ? `${Math.floor((100 * done) / total)}%`.padStart(4) : '   ?';
      stream.write(`\r${file.padEnd(12)} [${bar}] ${pct} ${mb(done)}${total ? `/${mb(total)}` : ''} MB ${mb(rate)} MB/s\x1b[K`);
    },
    finish(file, bytes, rows, how) {
      if (tty && how !== 'kept') stream.write('\r\x1b[K');
      stream.write(`${file}: ${how === 'kept' ? 'already there' : how}, ${mb(bytes)} MB, ${rows} problems, loads\n`);
    },
    note(line) {
      stream.write(`${line}\n`);
    },
  };
}
