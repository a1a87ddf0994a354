/**
 * The list of command groups the `vcr` program offers. Each entry registers one group
 * (its subcommands, flags and action) on the program.
 */
import type { Command } from 'commander';

export type RegisterCommand = (program: Command) => void;

export const commandModules: RegisterCommand[] = [];
