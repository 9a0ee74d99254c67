/**
 * LiveCodeBench's code extraction (lcb_runner/utils/extraction_utils.py, extract_code): the
 * lines between the last two lines that contain ``` — so an unterminated block or a single
 * fence gives no code. Local until the feedback module's extractCode lands.
 */
export function lastFencedBlock(text: string): string | null {
  const lines = text.split('\n');
  const fences: number[] = [];
  lines.forEach((line, i) => {
    if (line.includes('```')) fences.push(i);
  });
  if (fences.length < 2) return null;
  return lines.slice(fences.at(-2)! + 1, fences.at(-1)!).join('\n');
}
