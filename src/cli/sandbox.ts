import type { Command } from 'commander';

// Placeholder until this component's commands land.
export function registerSandboxCommands(program: Command, bench: Command): void {
  void program;
  void bench;
}
