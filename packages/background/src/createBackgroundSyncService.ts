import { InvalidArgumentError } from '@nexus-store/core';
import type { BackgroundSyncLogger, BackgroundSyncService } from './backgroundSyncService.js';
import { NoopSyncService } from './noopSyncService.js';
import { TimerSyncService } from './timerSyncService.js';
import { WebSyncService, type WebGlobalLike } from './webSyncService.js';

/** The platform a service is built for. */
export type BackgroundSyncPlatform = 'android' | 'ios' | 'web' | 'timer' | 'noop';

/** What the probe found about the JavaScript host. */
export interface DetectedEnvironment {
  runtime: 'capacitor' | 'react-native' | 'browser' | 'node' | 'unknown';
  /** The mobile OS when the runtime tells it (Capacitor does; React Native's is given by its package). */
  os: 'android' | 'ios' | null;
  /** A service worker container exists (browsers in a secure context). */
  serviceWorker: boolean;
}

/** What a service provider gets. */
export interface ServiceProviderContext {
  logger: BackgroundSyncLogger;
}

/**
 * Factories of the platform services. `@nexus-store/capacitor` (`capacitorSyncServices()`) and
 * `@nexus-store/react-native` (`reactNativeSyncServices()`) provide `android` and `ios`, so this
 * package never loads native code. `web` and `timer` have defaults.
 */
export interface BackgroundSyncServiceProviders {
  android?: (context: ServiceProviderContext) => BackgroundSyncService;
  ios?: (context: ServiceProviderContext) => BackgroundSyncService;
  web?: (context: ServiceProviderContext) => BackgroundSyncService;
  timer?: (context: ServiceProviderContext) => BackgroundSyncService;
}

export interface CreateBackgroundSyncServiceOptions {
  /** Forces a platform; wins over detection. @default detected */
  platform?: BackgroundSyncPlatform;
  services?: BackgroundSyncServiceProviders;
  /** The global object the probe looks at. @default globalThis */
  globalObject?: unknown;
  /** Replaces the probe entirely. @default detectEnvironment(globalObject) */
  environment?: DetectedEnvironment;
  /** @default console */
  logger?: BackgroundSyncLogger;
}

interface ProbeGlobal {
  Capacitor?: { isNativePlatform?: () => boolean; getPlatform?: () => string };
  navigator?: { product?: string; serviceWorker?: unknown };
  window?: unknown;
  document?: unknown;
  process?: { versions?: { node?: string } };
}

/** Looks at a global object: Capacitor native first, then React Native, then a browser, then Node. Reads only. */
export function detectEnvironment(globalObject: unknown = globalThis): DetectedEnvironment {
  const g = (globalObject ?? {}) as ProbeGlobal;
  const capacitor = g.Capacitor;
  if (capacitor && typeof capacitor.isNativePlatform === 'function' && capacitor.isNativePlatform()) {
    const os = capacitor.getPlatform?.();
    return { runtime: 'capacitor', os: os === 'android' || os === 'ios' ? os : null, serviceWorker: false };
  }
  if (g.navigator?.product === 'ReactNative') return { runtime: 'react-native', os: null, serviceWorker: false };
  if (g.window !== undefined && g.document !== undefined) {
    return { runtime: 'browser', os: null, serviceWorker: g.navigator?.serviceWorker !== undefined };
  }
  if (typeof g.process?.versions?.node === 'string') return { runtime: 'node', os: null, serviceWorker: false };
  return { runtime: 'unknown', os: null, serviceWorker: false };
}

/** Which platform detection picks for an environment and the providers at hand. */
export function selectBackgroundSyncPlatform(environment: DetectedEnvironment, services: BackgroundSyncServiceProviders = {}): BackgroundSyncPlatform {
  switch (environment.runtime) {
    case 'capacitor':
    case 'react-native': {
      if (environment.os) return environment.os;
      // React Native: its package provides only the current OS's service.
      if (services.android && !services.ios) return 'android';
      if (services.ios && !services.android) return 'ios';
      return 'noop';
    }
    case 'browser':
      return environment.serviceWorker ? 'web' : 'noop';
    default:
      return 'noop';
  }
}

/**
 * Builds the background sync service for the platform: Capacitor native (Android or iOS), React
 * Native, a browser with a service worker, else `NoopSyncService`. An explicit `platform` wins.
 */
export function createBackgroundSyncService(options: CreateBackgroundSyncServiceOptions = {}): BackgroundSyncService {
  const logger = options.logger ?? console;
  const services = options.services ?? {};
  const environment = options.environment ?? detectEnvironment(options.globalObject ?? globalThis);
  const platform = options.platform ?? selectBackgroundSyncPlatform(environment, services);
  const context: ServiceProviderContext = { logger };
  switch (platform) {
    case 'android':
    case 'ios': {
      const provider = services[platform];
      if (provider) return provider(context);
      if (options.platform) {
        throw new InvalidArgumentError(
          `No ${platform} background sync service: pass services from @nexus-store/capacitor (capacitorSyncServices()) or @nexus-store/react-native (reactNativeSyncServices()).`,
        );
      }
      logger.warn(`[nexus-store/background] running on ${platform} (${environment.runtime}) without its native service; background sync is off. Pass services from @nexus-store/capacitor or @nexus-store/react-native.`);
      return new NoopSyncService({ logger });
    }
    case 'web':
      return services.web?.(context) ?? new WebSyncService({ logger, globalObject: (options.globalObject ?? globalThis) as WebGlobalLike });
    case 'timer':
      return services.timer?.(context) ?? new TimerSyncService({ logger });
    case 'noop':
      if (!options.platform && (environment.runtime === 'capacitor' || environment.runtime === 'react-native')) {
        logger.warn(`[nexus-store/background] ${environment.runtime} detected but no native service for this OS was provided; background sync is off.`);
      }
      return new NoopSyncService({ logger });
    default:
      throw new InvalidArgumentError(`Unknown background sync platform "${String(platform)}"; use android, ios, web, timer or noop.`);
  }
}
