/**
 * JSON over HTTP for the inference-server clients, on node:http rather than fetch: Node's
 * fetch gives up waiting for response headers after 300 s, and a non-streamed completion of a
 * few thousand tokens on a busy server can take longer than that. No timeout here: a server
 * that stops answering is noticed by the connection closing.
 */
import http from 'node:http';
import https from 'node:https';
import { UserError } from '../../errors.js';

export interface HttpReply {
  status: number;
  body: unknown;
  text: string;
}

// A connection per request: a kept-alive socket that the server closes as idle just as a request
// is written on it fails with ECONNRESET, and completions and adapter loads must not be retried
// blindly. A connection costs little next to a generation.
const agents = { 'http:': new http.Agent({ keepAlive: false }), 'https:': new https.Agent({ keepAlive: false }) };

export function requestJson(base: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<HttpReply> {
  const url = new URL(path, base.endsWith('/') ? base : `${base}/`);
  const lib = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
  if (!lib) return Promise.reject(new UserError(`server URL must be http:// or https://, got ${base}`));
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = lib.request(
      url,
      {
        method,
        agent: agents[url.protocol as 'http:' | 'https:'],
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = undefined;
          try {
            parsed = text === '' ? undefined : JSON.parse(text);
          } catch {
            parsed = undefined; // plain-text replies (some errors) keep only `text`
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      reject(new UserError(`inference server ${url.origin} unreachable (${error.code ?? error.message}) on ${method} ${url.pathname}`));
    });
    if (payload) req.write(payload);
    req.end();
  });
}

/** The reply's JSON when the status is 2xx, else a UserError with the server's own message. */
export async function callJson(base: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const reply = await requestJson(base, method, path, body);
  if (reply.status >= 200 && reply.status < 300) return reply.body;
  throw new UserError(`inference server ${method} ${path} failed (HTTP ${reply.status}): ${errorMessage(reply)}`);
}

function errorMessage(reply: HttpReply): string {
  const b = reply.body as { error?: { message?: string } | string; message?: string } | undefined;
  const message = typeof b?.error === 'string' ? b.error : (b?.error?.message ?? b?.message ?? reply.text);
  return String(message).replace(/\s+/g, ' ').trim().slice(0, 300);
}
