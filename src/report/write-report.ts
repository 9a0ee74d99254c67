/** `ttsd report DIR`: events.jsonl → analysis → report.html, JSON summary or console table. */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { analyse, type Analysis } from './analysis.js';
import { reportHtml } from './html-page.js';
import { readRunDirectory } from './read-events.js';

export const REPORT_FILE = 'report.html';

export async function analyseRunDirectory(directory: string): Promise<Analysis> {
  return analyse(await readRunDirectory(directory));
}

export async function writeReportHtml(analysis: Analysis, directory: string, outFile?: string): Promise<string> {
  const target = outFile ?? path.join(directory, REPORT_FILE);
  const title = `ttsd report: ${path.basename(path.resolve(directory))}`;
  try {
    await writeFile(target, reportHtml(analysis, title));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC') throw error; // main.ts reports a full disk itself
    throw new UserError(`cannot write the report to ${target}: ${(error as Error).message}`, code === 'EACCES' || code === 'EROFS' ? 13 : 2);
  }
  return target;
}
