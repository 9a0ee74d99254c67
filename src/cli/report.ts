import type { Command } from 'commander';

// Placeholder until this component's commands land.
export function registerReportCommands(program: Command): void {
  void program;
}
