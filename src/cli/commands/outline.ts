import type { RegisterCommand } from '../context.js';

// Placeholder: the owning module fills this in.
export const registerOutline: RegisterCommand = () => {};
