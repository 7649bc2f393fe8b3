import type { AppState, AppStateSource, BackgroundSyncService, BackgroundSyncStatus, ConnectivitySource } from '@nexus-store/background';

/** Records every status a service emits. */
export function recordStatuses(service: BackgroundSyncService): BackgroundSyncStatus[] {
  const seen: BackgroundSyncStatus[] = [];
  service.status$.subscribe((s) => seen.push(s));
  return seen;
}

export class FakeConnectivity implements ConnectivitySource {
  private listeners: ((online: boolean) => void)[] = [];
  constructor(public online = true) {}
  isOnline(): boolean {
    return this.online;
  }
  subscribe(listener: (online: boolean) => void): () => void {
    this.listeners.push(listener);
    return () => (this.listeners = this.listeners.filter((l) => l !== listener));
  }
  set(online: boolean): void {
    this.online = online;
    for (const l of this.listeners) l(online);
  }
}

export class FakeAppState implements AppStateSource {
  private listeners: ((state: AppState) => void)[] = [];
  subscribe(listener: (state: AppState) => void): () => void {
    this.listeners.push(listener);
    return () => (this.listeners = this.listeners.filter((l) => l !== listener));
  }
  set(state: AppState): void {
    for (const l of this.listeners) l(state);
  }
}

export const silentLogger = { warn: () => {}, info: () => {}, debug: () => {} };
