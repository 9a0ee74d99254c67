import type { Command } from 'commander';

// Placeholder until this component's commands land.
export function registerTrainerCommands(program: Command, bench: Command): void {
  void program;
  void bench;
}
