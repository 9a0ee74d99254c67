import type { Command } from 'commander';

// Placeholder until this component's commands land.
export function registerTaskCommands(program: Command): void {
  void program;
}
