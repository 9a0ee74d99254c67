/**
 * How each strategy ran, as the run event recorded it (`protocols`, one per strategy: written
 * by `ttsd run` from each strategy module's own description of itself under the run's
 * settings). The report shows it beside the results, so a comparison says how each baseline
 * was run; a log written before protocols were recorded simply has none.
 */
import type { RunStartEvent } from '../run/events.js';
import type { StrategyProtocol } from '../strategies/types.js';
import { escapeHtml } from './html-escape.js';

const isString = (value: unknown): value is string => typeof value === 'string';

/** The run event's protocols that are well formed (others are skipped), by strategy. */
export function protocolsOf(run: RunStartEvent): Map<string, StrategyProtocol> {
  const protocols = new Map<string, StrategyProtocol>();
  if (!Array.isArray(run.protocols)) return protocols;
  for (const p of run.protocols as unknown[]) {
    if (typeof p !== 'object' || p === null) continue;
    const r = p as Record<string, unknown>;
    if (!isString(r.strategy) || !isString(r.label) || typeof r.learns !== 'boolean' || typeof r.generations_per_step !== 'number') continue;
    // Logs written before variants keyed protocols by strategy and had no traits: the strategy's name is its label.
    const variant = isString(r.variant) ? r.variant : r.strategy;
    const loss = isString(r.loss) ? (r.loss as StrategyProtocol['loss']) : null;
    protocols.set(variant, {
      variant,
      strategy: r.strategy,
      // Logs without traits name no baseline: the comparison needs the recorded trait.
      independent: r.independent === true,
      loss: loss ?? (r.learns ? 'distill' : null),
      teacher: isString(r.teacher) ? r.teacher : r.learns && typeof r.settings === 'object' && r.settings !== null && isString((r.settings as Record<string, unknown>).teacher) ? ((r.settings as Record<string, unknown>).teacher as string) : null,
      teacher_context: isString(r.teacher_context) ? (r.teacher_context as StrategyProtocol['teacher_context']) : r.learns ? 'feedback' : null,
      label: r.label,
      learns: r.learns,
      generations_per_step: r.generations_per_step,
      prompt: isString(r.prompt) ? r.prompt : '',
      description: isString(r.description) ? r.description : '',
      source: isString(r.source) ? r.source : '',
      settings: typeof r.settings === 'object' && r.settings !== null && !Array.isArray(r.settings) ? (r.settings as Record<string, unknown>) : {},
    });
  }
  return protocols;
}

const settingsText = (settings: Record<string, unknown>) =>
  Object.entries(settings)
    .map(([key, value]) => `${key} ${value === null ? 'off' : typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
    .join(', ');

/** Its recorded traits in a few words: learns (with which loss and teacher), or how it samples. */
function traitsText(p: StrategyProtocol): string {
  if (!p.learns) return p.independent ? 'no (independent samples)' : 'no';
  const teacher = p.teacher === null ? '' : `, teacher ${p.teacher}${p.teacher_context === null ? '' : ` (${p.teacher_context})`}`;
  return `yes: ${p.loss ?? 'loss not recorded'}${teacher}`;
}

export function protocolSection(strategies: string[], protocols: Map<string, StrategyProtocol>): string {
  if (strategies.length === 0) return '';
  if (protocols.size === 0) {
    return '<h2>How each strategy ran</h2><p class="note">Not recorded: this log was written before ttsd recorded each strategy\'s protocol in the run event (see the run configuration below).</p>';
  }
  const rows = strategies
    .map((name) => {
      const p = protocols.get(name);
      if (!p) return `<tr data-protocol="${escapeHtml(name)}"><td>${escapeHtml(name)}</td><td colspan="5">not recorded</td></tr>`;
      return `<tr data-protocol="${escapeHtml(name)}"><td>${escapeHtml(p.label)}</td><td>${p.generations_per_step}</td><td>${escapeHtml(traitsText(p))}</td><td>${escapeHtml(p.description)}<br><span class="note">prompt: ${escapeHtml(p.prompt)}</span></td><td>${escapeHtml(settingsText(p.settings))}</td><td>${escapeHtml(p.source)}</td></tr>`;
    })
    .join('');
  return `<h2>How each strategy ran</h2>
<table class="protocols"><thead><tr><th>strategy</th><th title="generations sampled from one prompt (and one adapter) per step or turn">per step</th><th>learns</th><th>what a step does</th><th>settings</th><th>defaults from</th></tr></thead><tbody>${rows}</tbody></table>`;
}
