import type { Command } from 'commander';

// Placeholder until this component's commands land.
export function registerRunCommands(program: Command): void {
  void program;
}
