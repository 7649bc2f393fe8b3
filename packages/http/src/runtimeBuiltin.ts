/**
 * A Node built-in module where the runtime lends it without an import (`process.getBuiltinModule`:
 * Node 20.16+, Electron), else undefined: a bundle for the browser never references it.
 */
export function runtimeBuiltin<T>(id: string): T | undefined {
  const runtime = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return typeof runtime?.getBuiltinModule === 'function' ? (runtime.getBuiltinModule(id) as T | undefined) : undefined;
}
