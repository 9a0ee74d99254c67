/**
 * The Docker engine and the sandbox image, checked up front so that a missing piece is one clear
 * line for the user instead of a hang or a stack trace.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { UserError } from '../errors.js';
import { OWNER_HOST_LABEL, OWNER_PID_LABEL, SANDBOX_LABEL } from './container.js';
import { processAlive } from '../process.js';

export const GRADER_LABEL = 'ttsd.grader.sha256';
export const SANDBOX_DIR = fileURLToPath(new URL('../../sandboxes/python/', import.meta.url));
export const SETUP_SCRIPT = fileURLToPath(new URL('../../scripts/setup-docker.sh', import.meta.url));
const PING_TIMEOUT_MS = 5_000;
const FOREIGN_ORPHAN_AGE_S = 3600;

/** sha256 of the grader program in this checkout: the image must carry the same one. */
export function graderSha256(): string {
  return createHash('sha256').update(readFileSync(`${SANDBOX_DIR}grader.py`)).digest('hex');
}

/**
 * The image for this checkout's grader: tagged by the grader's hash (as setup-docker.sh builds
 * it), so checkouts with different graders sharing one engine never overwrite each other.
 */
export function defaultImage(): string {
  return process.env.TTSD_SANDBOX_IMAGE ?? `ttsd-sandbox-python:g${graderSha256().slice(0, 12)}`;
}

export function connect(socketPath?: string): Docker {
  return new Docker({ socketPath: socketPath ?? process.env.TTSD_DOCKER_SOCKET ?? '/var/run/docker.sock' });
}

export async function checkDaemon(docker: Docker, where?: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      docker.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer within 5 s')), PING_TIMEOUT_MS);
      }),
    ]);
  } catch (error) {
    const socket = where ?? (docker.modem as { socketPath?: string }).socketPath ?? 'its socket';
    throw new UserError(
      `Docker is not running (${socket}: ${(error as Error).message}): start it with \`bash scripts/setup-docker.sh\``,
    );
  } finally {
    clearTimeout(timer);
  }
}

export type ImageState = { state: 'missing' } | { state: 'stale'; sha: string } | { state: 'current' };

export async function imageState(docker: Docker, image: string): Promise<ImageState> {
  try {
    const info = await docker.getImage(image).inspect();
    const sha = info.Config?.Labels?.[GRADER_LABEL] ?? '';
    return sha === graderSha256() ? { state: 'current' } : { state: 'stale', sha };
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return { state: 'missing' };
    throw new UserError(`cannot inspect the sandbox image ${image}: ${(error as Error).message}`);
  }
}

export async function checkImage(docker: Docker, image: string): Promise<void> {
  const state = await imageState(docker, image);
  if (state.state === 'missing') {
    throw new UserError(`the sandbox image ${image} is missing: build it with \`ttsd sandbox build\``);
  }
  if (state.state === 'stale') {
    throw new UserError(
      `the sandbox image ${image} carries another grader than sandboxes/python/grader.py: rebuild it with \`ttsd sandbox build\``,
    );
  }
}

/**
 * Removes sandbox containers left behind by ttsd processes that died. Containers of live
 * processes (other runs sharing this engine) are left alone. Returns how many were removed.
 */
export async function sweepOrphans(docker: Docker): Promise<number> {
  const containers = await docker.listContainers({ all: true, filters: { label: [SANDBOX_LABEL] } });
  const host = os.hostname();
  const nowSeconds = Date.now() / 1000;
  const orphans = containers.filter((c) => {
    const pid = Number(c.Labels[OWNER_PID_LABEL]);
    // Another host sharing this engine: its processes cannot be checked, only the age helps.
    if (c.Labels[OWNER_HOST_LABEL] !== host) return nowSeconds - c.Created > FOREIGN_ORPHAN_AGE_S;
    return !Number.isInteger(pid) || (pid !== process.pid && !processAlive(pid));
  });
  await Promise.all(orphans.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => {})));
  return orphans.length;
}

/** Containers this process owns right now (tests use it to prove nothing is left behind). */
export async function ownContainers(docker: Docker): Promise<string[]> {
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [SANDBOX_LABEL, `${OWNER_PID_LABEL}=${process.pid}`] },
  });
  return containers.map((c) => c.Id);
}

/**
 * Copies the image from one engine to another (docker save | docker load), e.g. from the host
 * that built it to a fresh one; `docker load` keeps the tag and the grader label.
 */
export async function copyImage(from: Docker, to: Docker, image: string): Promise<void> {
  const archive = (await from.getImage(image).get()) as NodeJS.ReadableStream;
  const response = (await to.loadImage(archive)) as NodeJS.ReadableStream;
  await new Promise<void>((resolve, reject) => {
    to.modem.followProgress(response, (error: Error | null, output: { error?: string; errorDetail?: { message?: string } }[]) => {
      const failed = error?.message ?? output?.find((o) => o.error)?.error;
      if (failed) reject(new Error(failed));
      else resolve();
    });
  });
}

/** What `ttsd sandbox doctor` shows for a host. */
export async function hostFacts(docker: Docker): Promise<{ version: string; cpus: number; os: string; driver: string }> {
  const [version, info] = await Promise.all([docker.version(), docker.info()]);
  return { version: version.Version, cpus: info.NCPU, os: `${info.OperatingSystem ?? version.Os}`, driver: info.Driver };
}
